import assert from "node:assert/strict";
import { test } from "node:test";

import { CLOSE_NOT_FOUND, CaseSocket, backoffDelay, socketUrl } from "../src/socket.js";

class FakeSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.closedWith = null;
    FakeSocket.instances.push(this);
  }
  close(code) {
    this.closedWith = code;
  }
  receive(data) {
    this.onmessage({ data: JSON.stringify(data) });
  }
  drop(code = 1006) {
    this.onclose({ code });
  }
}

function harness(overrides = {}) {
  FakeSocket.instances = [];
  const timers = [];
  const seen = { events: [], states: [], statuses: [], fetches: 0 };
  const socket = new CaseSocket({
    url: "ws://host/ws/cases/1/",
    stateUrl: "/cases/1/jobs/",
    WebSocketImpl: FakeSocket,
    fetchImpl: async () => {
      seen.fetches += 1;
      return { ok: true, json: async () => ({ jobs: [{ job: seen.fetches }] }) };
    },
    setTimeoutImpl: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeoutImpl: () => {},
    random: () => 1,
    onEvent: (e) => seen.events.push(e),
    onState: (s) => seen.states.push(s),
    onStatus: (s) => seen.statuses.push(s),
    ...overrides,
  });
  return { socket, timers, seen };
}

test("backoff doubles up to the cap and never drops below half the base", () => {
  const top = (attempt) => backoffDelay(attempt, { baseMs: 500, maxMs: 10000, random: () => 1 });
  assert.deepEqual([0, 1, 2, 3, 10].map(top), [500, 1000, 2000, 4000, 10000]);
  assert.equal(backoffDelay(5, { baseMs: 500, maxMs: 10000, random: () => 0 }), 250);
});

test("socketUrl follows the page's scheme", () => {
  assert.equal(socketUrl({ protocol: "https:", host: "a.example:8443" }, "/ws/x/"), "wss://a.example:8443/ws/x/");
  assert.equal(socketUrl({ protocol: "http:", host: "127.0.0.1:8000" }, "/ws/x/"), "ws://127.0.0.1:8000/ws/x/");
});

test("hello reloads state; job messages are forwarded", async () => {
  const { socket, seen } = harness();
  socket.start();
  const ws = FakeSocket.instances[0];
  ws.receive({ type: "hello", case: 1 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.fetches, 1);
  assert.deepEqual(seen.states, [{ jobs: [{ job: 1 }] }]);
  ws.receive({ type: "job", job: 7, status: "running" });
  assert.equal(seen.events.length, 1);
  assert.equal(seen.events[0].job, 7);
  assert.equal(socket.status, "live");
});

test("a dropped connection reconnects with growing delays and reloads again", async () => {
  const { socket, timers, seen } = harness();
  socket.start();
  FakeSocket.instances[0].drop();
  assert.equal(timers.length, 1);
  assert.equal(timers[0].ms, 500);
  timers[0].fn();
  FakeSocket.instances[1].drop();
  assert.equal(timers[1].ms, 1000);
  timers[1].fn();
  FakeSocket.instances[2].receive({ type: "hello" });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.fetches, 1);
  FakeSocket.instances[2].drop();
  assert.equal(timers[2].ms, 500, "a successful join resets the backoff");
  assert.ok(seen.statuses.includes("reconnecting"));
});

test("the server's not-found close stops reconnecting", () => {
  const { socket, timers } = harness();
  socket.start();
  FakeSocket.instances[0].drop(CLOSE_NOT_FOUND);
  assert.equal(timers.length, 0);
  assert.equal(socket.status, "not-found");
});

test("stop closes the socket and prevents reconnects", () => {
  const { socket, timers } = harness();
  socket.start();
  const ws = FakeSocket.instances[0];
  socket.stop();
  assert.equal(ws.closedWith, 1000);
  ws.drop(1000);
  assert.equal(timers.length, 0);
});

test("a failed state reload marks the page stale instead of throwing", async () => {
  const { socket } = harness({ fetchImpl: async () => ({ ok: false, status: 502 }) });
  const warn = console.warn;
  console.warn = () => {};
  try {
    socket.start();
    FakeSocket.instances[0].receive({ type: "hello" });
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    console.warn = warn;
  }
  assert.equal(socket.status, "stale");
});

test("malformed messages are ignored", () => {
  const { socket, seen } = harness();
  socket.start();
  FakeSocket.instances[0].onmessage({ data: "not json" });
  assert.equal(seen.events.length, 0);
});
