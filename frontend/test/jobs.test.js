import assert from "node:assert/strict";
import { test } from "node:test";

import {
  actionUrl,
  applyState,
  describeJob,
  formatDuration,
  jobActions,
  mergeJob,
  renderJobs,
  sortedJobs,
} from "../src/jobs.js";

test("an older event never overwrites a newer one", () => {
  const state = new Map();
  assert.ok(mergeJob(state, { job: 1, status: "running", progress: 0.5, updated_at: "2026-01-01T10:00:02+00:00" }));
  assert.equal(mergeJob(state, { job: 1, status: "running", progress: 0.2, updated_at: "2026-01-01T10:00:01+00:00" }), false);
  assert.equal(state.get(1).progress, 0.5);
  assert.ok(mergeJob(state, { job: 1, status: "done", progress: 1, updated_at: "2026-01-01T10:00:03+00:00" }));
  assert.equal(state.get(1).status, "done");
});

test("reloaded state fills in jobs missed while away, newest first", () => {
  const state = new Map();
  mergeJob(state, { job: 2, status: "running", updated_at: "2026-01-01T10:00:05Z" });
  const changed = applyState(state, {
    jobs: [
      { job: 3, status: "queued", updated_at: "2026-01-01T10:00:06Z" },
      { job: 2, status: "running", updated_at: "2026-01-01T10:00:01Z" },
    ],
  });
  assert.ok(changed);
  assert.deepEqual(sortedJobs(state).map((j) => j.job), [3, 2]);
  assert.equal(state.get(2).updated_at, "2026-01-01T10:00:05Z");
});

test("jobs are described in plain words", () => {
  assert.deepEqual(describeJob({ kind: "selfcheck", status: "queued", progress: 0 }), {
    title: "System check",
    detail: "Waiting for a worker",
    percent: 0,
  });
  const running = describeJob({ kind: "ingest", status: "running", stage: "analyse", progress: 0.42, eta_s: 95 });
  assert.equal(running.detail, "42% · finding people · about 2 min left");
  assert.equal(describeJob({ kind: "ingest", status: "failed", error: "Not a video." }).detail, "Not a video.");
});

test("durations read naturally", () => {
  assert.equal(formatDuration(0.2), "1 s");
  assert.equal(formatDuration(42), "42 s");
  assert.equal(formatDuration(3 * 3600 + 5 * 60), "3 h 5 min");
  assert.equal(formatDuration(null), "");
});

// Just enough of a DOM for renderJobs: elements with children, dataset, text.
function fakeDocument() {
  const make = (tag) => ({
    tag,
    children: [],
    dataset: {},
    textContent: "",
    append(...nodes) {
      this.children.push(...nodes);
    },
    replaceChildren() {
      this.children = [];
    },
  });
  return { createElement: make, root: make("ul") };
}

function buttons(node) {
  return node.children.flatMap((child) => (typeof child === "string" ? [] : [child, ...buttons(child)]))
    .filter((n) => n.tag === "button");
}

test("cancel is offered for unfinished jobs and retry for failed ones, only when the role allows", () => {
  assert.deepEqual(jobActions({ status: "running" }, ["cancel", "retry"]), ["cancel"]);
  assert.deepEqual(jobActions({ status: "failed" }, ["cancel", "retry"]), ["retry"]);
  assert.deepEqual(jobActions({ status: "done" }, ["cancel", "retry"]), []);
  assert.deepEqual(jobActions({ status: "running" }, []), []);
});

test("renderJobs draws one item per job with its action buttons", () => {
  const doc = fakeDocument();
  const state = new Map([
    [1, { job: 1, kind: "selfcheck", status: "failed", error: "No models.", progress: 0.5 }],
    [2, { job: 2, kind: "ingest", status: "running", stage: "analyse", progress: 0.25 }],
  ]);
  renderJobs(doc.root, state, doc, { allowed: ["cancel", "retry"] });
  assert.deepEqual(doc.root.children.map((li) => li.dataset.job), ["2", "1"]);
  assert.deepEqual(buttons(doc.root).map((b) => [b.dataset.action, b.dataset.job]), [["cancel", "2"], ["retry", "1"]]);
  renderJobs(doc.root, new Map(), doc);
  assert.equal(doc.root.children.length, 1);
  assert.match(doc.root.children[0].textContent, /Nothing running/);
});

test("action URLs come from Django's templates", () => {
  assert.equal(actionUrl("/jobs/0/cancel/", 42), "/jobs/42/cancel/");
});
