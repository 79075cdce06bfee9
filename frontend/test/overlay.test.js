import { test } from "node:test";
import assert from "node:assert/strict";
import { boxAt, fitRect, lastAtOrBefore, toDisplay } from "../src/overlay.js";

const rows = [
  [1.0, 10, 20, 30, 60],
  [1.1, 12, 20, 30, 60],
  [1.2, 14, 22, 30, 60],
  [3.0, 50, 40, 30, 60], // after a 1.8 s gap (person hidden)
];

test("lastAtOrBefore finds the row at or before a time", () => {
  assert.equal(lastAtOrBefore(rows, 0.5), -1);
  assert.equal(lastAtOrBefore(rows, 1.0), 0);
  assert.equal(lastAtOrBefore(rows, 1.15), 1);
  assert.equal(lastAtOrBefore(rows, 9), 3);
});

test("boxAt interpolates inside short gaps", () => {
  const box = boxAt(rows, 1.05);
  assert.deepEqual(box.map((v) => Math.round(v * 10) / 10), [11, 20, 30, 60]);
  assert.deepEqual(boxAt(rows, 1.2), [14, 22, 30, 60]);
});

test("boxAt shows nothing far from the track or inside a long gap", () => {
  assert.equal(boxAt(rows, 0.5), null);
  assert.equal(boxAt(rows, 2.0), null);
  assert.equal(boxAt(rows, 3.5), null);
  assert.deepEqual(boxAt(rows, 0.9), [10, 20, 30, 60]); // within the tolerance before the first row
  assert.deepEqual(boxAt(rows, 2.9), [50, 40, 30, 60]);
  assert.equal(boxAt([], 1), null);
  assert.equal(boxAt(rows, NaN), null);
});

test("fitRect letterboxes a 4:3 video in a wide element", () => {
  const fit = fitRect(768, 576, 1000, 576);
  assert.equal(fit.scale, 1);
  assert.equal(fit.x, 116);
  assert.equal(fit.y, 0);
  assert.deepEqual(toDisplay([100, 50, 40, 80], fit), [216, 50, 40, 80]);
  const half = fitRect(768, 576, 384, 400);
  assert.equal(half.scale, 0.5);
  assert.equal(half.y, (400 - 288) / 2);
  assert.deepEqual(toDisplay([100, 50, 40, 80], half), [50, 56 + 25, 20, 40]);
  assert.equal(fitRect(0, 0, 10, 10), null);
});
