import assert from "node:assert/strict";
import { test } from "node:test";

import { applyState, describeJob, formatDuration, mergeJob, sortedJobs } from "../src/jobs.js";

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
