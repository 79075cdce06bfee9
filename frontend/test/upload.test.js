import assert from "node:assert/strict";
import { test } from "node:test";

import {
  errorMessage,
  fileMessage,
  formatBytes,
  formatDuration,
  formatEta,
  formatRate,
  isActive,
  jobLine,
  pausedLine,
  RateMeter,
  uploadOptions,
} from "../src/upload.js";

test("bytes, rates and durations read like a person would write them", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(8131690), "8.1 MB");
  assert.equal(formatBytes(4.2e9), "4.2 GB");
  assert.equal(formatRate(25e6), "25 MB/s");
  assert.equal(formatRate(0), "");
  assert.equal(formatDuration(79.5), "1:20");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatEta(0.2), "less than a second left");
  assert.equal(formatEta(65), "1:05 left");
  assert.equal(formatEta(NaN), "");
});

test("the rate meter uses a sliding window and predicts the time left", () => {
  const meter = new RateMeter({ windowMs: 2000 });
  assert.equal(meter.rate(), 0);
  meter.add(0, 0);
  meter.add(1000, 1_000_000);
  assert.equal(meter.rate(), 1_000_000);
  assert.equal(meter.eta(5_000_000), 4);
  // A stall: no bytes for three seconds; old samples leave the window and the rate drops to zero.
  meter.add(4000, 1_000_000);
  meter.add(5000, 1_000_000);
  assert.equal(meter.rate(), 0);
  assert.ok(Number.isNaN(meter.eta(5_000_000)));
});

test("upload options carry the CSRF token, the metadata and resumability", () => {
  const file = { name: "cam 2.avi", type: "", size: 10 };
  const options = uploadOptions({ endpoint: "/cases/3/uploads/", file, csrfToken: "tok", cameraLabel: "Gate" });
  assert.equal(options.endpoint, "/cases/3/uploads/");
  assert.deepEqual(options.headers, { "X-CSRFToken": "tok" });
  assert.deepEqual(options.metadata, { filename: "cam 2.avi", filetype: "application/octet-stream", camera: "Gate" });
  assert.equal(options.storeFingerprintForResuming, true);
  assert.ok(options.retryDelays.length >= 3, "a dropped connection is retried several times");
  assert.equal(uploadOptions({ endpoint: "/", file, csrfToken: "" }).metadata.camera, undefined);
});

test("the server's sentence is shown when an upload is refused", () => {
  const refused = (status, body) => ({ originalResponse: { getStatus: () => status, getBody: () => body } });
  assert.equal(errorMessage(refused(413, "The file is 9 bytes; the limit is 5 bytes.\n")), "The file is 9 bytes; the limit is 5 bytes.");
  assert.equal(errorMessage(refused(413, "<html>proxy</html>")), "The file is larger than this server accepts.");
  assert.equal(errorMessage(refused(410, "")), "The upload expired on the server. Choose the file again.");
  assert.equal(errorMessage(new Error("network down")), "network down");
});

test("job lines describe analysis progress", () => {
  assert.equal(jobLine({ status: "queued" }), "waiting for a worker");
  assert.equal(jobLine({ status: "running", stage: "analyse", progress: 0.456, fps: 31.2, eta_s: 12 }), "analyse 46% · 31 fps · 0:12 left");
  assert.equal(jobLine({ status: "failed", error: "The file is truncated." }), "The file is truncated.");
  assert.equal(isActive({ status: "running" }), true);
  assert.equal(isActive({ status: "done" }), false);
  assert.equal(isActive(null), false);
});

test("a paused upload says how far it got and what to do", () => {
  assert.equal(pausedLine(2_700_000, 8_131_690), "33% of 8.1 MB uploaded, paused. Choose or drop the same file to continue.");
  assert.equal(pausedLine(0, 0), "0% of 0 B uploaded, paused. Choose or drop the same file to continue.");
});

test("a message about a file names the file, once", () => {
  assert.equal(fileMessage("cam 3.mp4", "The upload is not finished."), "cam 3.mp4: The upload is not finished.");
  assert.equal(fileMessage("cam 3.mp4", "cam 3.mp4: not a video"), "cam 3.mp4: not a video");
  assert.equal(fileMessage("a.mp4", ""), "a.mp4: That did not work.");
  assert.equal(fileMessage("a.mp4", undefined), "a.mp4: That did not work.");
});
