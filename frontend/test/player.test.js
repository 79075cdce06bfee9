import assert from "node:assert/strict";
import { test } from "node:test";

import { clampTime, formatTime, parseTime, stepTime } from "../src/player.js";

test("seek targets stay inside the video", () => {
  assert.equal(clampTime(-3, 79.5), 0);
  assert.equal(clampTime(40, 79.5), 40);
  assert.equal(clampTime(100, 79.5), 79.45);
  assert.equal(clampTime(12, NaN), 12); // duration unknown before metadata: keep the request
  assert.equal(clampTime(NaN, 79.5), 0);
  assert.equal(stepTime(78, 5, 79.5), 79.45);
  assert.equal(stepTime(2, -5, 79.5), 0);
});

test("times parse and format", () => {
  assert.equal(parseTime("83.5"), 83.5);
  assert.equal(parseTime("1:23.5"), 83.5);
  assert.equal(parseTime("0:01:23"), 83);
  assert.ok(Number.isNaN(parseTime("1:2:3:4")));
  assert.ok(Number.isNaN(parseTime("abc")));
  assert.equal(formatTime(83.5), "1:23.5");
  assert.equal(formatTime(5), "0:05.0");
  assert.equal(formatTime(NaN), "0:00.0");
});
