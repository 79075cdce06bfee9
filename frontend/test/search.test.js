import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clickToVideoPixels,
  clipLine,
  clipState,
  dragBox,
  formatClock,
  formatWall,
  imageFromTransfer,
  isImageFile,
  lowestScore,
  nextIndex,
  timelineMarks,
  visibleHits,
} from "../src/search.js";

const hits = [
  { id: 1, score: 0.81, verdict: "", start_s: 10, end_s: 20 },
  { id: 2, score: 0.62, verdict: "rejected", start_s: 30, end_s: 31 },
  { id: 3, score: 0.55, verdict: "confirmed", start_s: 90, end_s: 130 },
];

test("images are told apart from videos by type or name", () => {
  assert.ok(isImageFile({ type: "image/jpeg", name: "a.bin" }));
  assert.ok(isImageFile({ type: "", name: "photo.PNG" }));
  assert.ok(!isImageFile({ type: "video/mp4", name: "clip.mp4" }));
  assert.ok(!isImageFile(null));
  const items = [
    { kind: "string", getAsFile: () => null },
    { kind: "file", getAsFile: () => ({ type: "video/avi", name: "v.avi" }) },
    { kind: "file", getAsFile: () => ({ type: "image/png", name: "p.png" }) },
  ];
  assert.equal(imageFromTransfer(items).name, "p.png");
  assert.equal(imageFromTransfer([{ type: "text/plain", name: "x.txt" }]), null);
});

test("the threshold and rejections filter the list", () => {
  assert.deepEqual(visibleHits(hits, 0).map((h) => h.id), [1, 3]);
  assert.deepEqual(visibleHits(hits, 0.6).map((h) => h.id), [1]);
  assert.deepEqual(visibleHits(hits, 0, { hideRejected: false }).map((h) => h.id), [1, 2, 3]);
  assert.equal(lowestScore(hits), 0.55);
  assert.equal(lowestScore([]), 0);
});

test("timeline marks sit at the moment's share of the video", () => {
  const marks = timelineMarks(hits, 200);
  assert.deepEqual(marks[0], { hit: 1, left: 5, width: 5 });
  assert.equal(marks[1].width, 0.5);
  assert.deepEqual(marks[2], { hit: 3, left: 45, width: 20 });
  assert.deepEqual(timelineMarks(hits, 0), []);
  assert.equal(timelineMarks([{ id: 9, start_s: 250, end_s: 260 }], 200)[0].left, 100);
});

test("next and previous stay within the list", () => {
  assert.equal(nextIndex(-1, 3, 1), 0);
  assert.equal(nextIndex(-1, 3, -1), 2);
  assert.equal(nextIndex(0, 3, 1), 1);
  assert.equal(nextIndex(2, 3, 1), 2);
  assert.equal(nextIndex(0, 3, -1), 0);
  assert.equal(nextIndex(0, 0, 1), -1);
});

test("clock and wall-clock times read well", () => {
  assert.equal(formatClock(83.46), "1:23.5");
  assert.equal(formatClock(3725), "1:02:05.0");
  assert.equal(formatClock(-1), "0:00.0");
  assert.equal(formatWall("2026-11-26T08:30:05.250000+00:00"), "2026-11-26 08:30:05 UTC");
  assert.equal(formatWall(null), "");
});

test("a dragged box is converted to photo pixels, whichever way it was drawn", () => {
  assert.deepEqual(dragBox({ x: 50, y: 80 }, { x: 10, y: 20 }, 0.5), [20, 40, 80, 120]);
});

test("a click on the player maps to the video's own pixels, bars excluded", () => {
  const rect = { left: 100, top: 50, width: 1000, height: 576 }; // 768x576 video, bars of 116 px each side
  assert.deepEqual(clickToVideoPixels(100 + 116 + 384, 50 + 288, rect, 768, 576), [384, 288]);
  assert.equal(clickToVideoPixels(150, 100, rect, 768, 576), null);
  assert.equal(clickToVideoPixels(150, 100, rect, 0, 0), null);
});

test("an evidence clip's line follows its export job", () => {
  const answer = {
    job: { job: 7, kind: "export", status: "running", progress: 0.416, error: null },
    ready: false,
    sha256: null,
    status_url: "/cases/1/search/clips/7/",
    file_url: null,
    cancel_url: "/jobs/7/cancel/",
  };
  const clip = clipState(answer);
  assert.deepEqual(
    { job: clip.job, status: clip.status, ready: clip.ready, cancelUrl: clip.cancelUrl },
    { job: 7, status: "running", ready: false, cancelUrl: "/jobs/7/cancel/" },
  );
  assert.equal(clipLine(clip), "Cutting the clip… 42%");
  assert.equal(clipLine({ ...clip, status: "queued" }), "Clip: waiting for a worker…");
  const done = clipState({ ...answer, job: { ...answer.job, status: "done", progress: 1 }, ready: true, sha256: "ab".repeat(32), file_url: "/f" });
  assert.equal(clipLine(done), "Clip ready");
  assert.equal(done.fileUrl, "/f");
  const failed = clipState({ ...answer, job: { ...answer.job, status: "failed", error: "The original video is missing." } });
  assert.equal(clipLine(failed), "The original video is missing.");
  assert.equal(clipLine({ status: "failed" }), "The clip could not be made.");
  assert.equal(clipLine({ status: "cancelled" }), "Clip cancelled.");
  assert.equal(clipLine(null), "");
});
