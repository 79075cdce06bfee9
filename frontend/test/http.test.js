import assert from "node:assert/strict";
import { test } from "node:test";

import { csrfToken, postJson, postPayload } from "../src/http.js";

const page = (input, cookie = "") => ({
  querySelector: (selector) => (selector === "input[name=csrfmiddlewaretoken]" ? input : null),
  cookie,
});

test("the token comes from the form field, else the cookie, else is empty", () => {
  assert.equal(csrfToken(page({ value: "from-form" }, "csrftoken=from-cookie")), "from-form");
  assert.equal(csrfToken(page(null, "sessionid=x; csrftoken=a%2Bb")), "a+b");
  assert.equal(csrfToken(page(null, "sessionid=x;csrftoken=tight")), "tight");
  assert.equal(csrfToken(page(null, "xcsrftoken=nope")), "");
  assert.equal(csrfToken(undefined), "");
});

test("postJson sends the token and cookies and reads the JSON answer", async () => {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({ url, init });
    return { ok: true, status: 201, json: async () => ({ job: 7 }) };
  };
  const body = new URLSearchParams({ verdict: "confirmed" });
  const answer = await postJson("/x/", body, { fetch, doc: page({ value: "t0k" }) });
  assert.deepEqual(answer, { ok: true, status: 201, payload: { job: 7 } });
  assert.equal(sent[0].url, "/x/");
  assert.equal(sent[0].init.method, "POST");
  assert.equal(sent[0].init.credentials, "same-origin");
  assert.equal(sent[0].init.headers["X-CSRFToken"], "t0k");
  assert.equal(sent[0].init.headers.Accept, "application/json");
  assert.equal(sent[0].init.body, body);
});

test("an answer that is not JSON becomes an error naming the status", async () => {
  const fetch = async () => ({ ok: false, status: 502, json: async () => JSON.parse("<html>") });
  const answer = await postJson("/x/", undefined, { fetch, doc: page(null) });
  assert.deepEqual(answer, { ok: false, status: 502, payload: { error: "The server answered 502." } });
});

test("postPayload answers the payload, or throws the server's sentence", async () => {
  const answering = (ok, status, payload) => async () => ({ ok, status, json: async () => payload });
  const doc = page(null);
  assert.deepEqual(await postPayload("/x/", undefined, { fetch: answering(true, 200, { job: 3 }), doc }), { job: 3 });
  await assert.rejects(postPayload("/x/", undefined, { fetch: answering(false, 400, { error: "No person." }), doc }), { message: "No person." });
  await assert.rejects(postPayload("/x/", undefined, { fetch: answering(false, 403, {}), doc }), { message: "The server answered 403." });
});
