import assert from "node:assert/strict";
import { test } from "node:test";

import { detailsBody, formatStart, startLine, startSourceText, timeZoneChoices, zonedParts } from "../src/video_details.js";

test("an instant shows in the named zone and in UTC", () => {
  assert.deepEqual(zonedParts("2024-05-01T08:00:00+00:00", "Europe/Berlin"), { date: "2024-05-01", time: "10:00:00" });
  assert.deepEqual(zonedParts("2024-01-01T08:00:00Z", "Europe/Berlin"), { date: "2024-01-01", time: "09:00:00" });
  assert.deepEqual(zonedParts("2024-05-01T23:30:00Z", "America/New_York"), { date: "2024-05-01", time: "19:30:00" });
  assert.deepEqual(zonedParts("2024-05-01T00:00:05Z", "UTC"), { date: "2024-05-01", time: "00:00:05" }); // not 24:00:05
  assert.equal(zonedParts("not a date", "UTC"), null);
  assert.equal(zonedParts(null, "UTC"), null);
  assert.equal(zonedParts("2024-05-01T08:00:00Z", "Not/AZone"), null);
  assert.equal(formatStart("2024-05-01T08:00:00+00:00", "Europe/Berlin"), "2024-05-01 10:00:00 Europe/Berlin (2024-05-01 08:00:00 UTC)");
  assert.equal(formatStart("2024-05-01T08:00:00+00:00", "UTC"), "2024-05-01 08:00:00 UTC");
  assert.equal(formatStart("", "UTC"), "");
});

test("the page says where a recording start came from", () => {
  assert.match(startSourceText("file"), /file's creation time/);
  assert.equal(startSourceText("user"), "set by hand");
  assert.equal(startSourceText(""), "");
  assert.equal(startLine({ recording_started_at: null }, "UTC"), "Recording start: unknown");
  assert.equal(
    startLine({ recording_started_at: "2024-05-01T08:00:00+00:00", recording_start_source: "user" }, "UTC"),
    "Recording start: 2024-05-01 08:00:00 UTC · set by hand",
  );
});

test("zone choices put the browser's first and always offer UTC", () => {
  assert.deepEqual(timeZoneChoices("Europe/Berlin", ["Europe/Paris", "Europe/Berlin", "Asia/Tokyo"]), [
    "Europe/Berlin", "Asia/Tokyo", "Europe/Paris", "UTC",
  ]);
  assert.deepEqual(timeZoneChoices("UTC", []), ["UTC"]);
});

test("the request carries only what changed, the start as typed with its zone", () => {
  const initial = { cameraLabel: "", date: "2024-05-01", time: "08:00:00", timeZone: "Europe/Berlin" };
  const both = detailsBody({ cameraLabel: "  Gate 3 ", date: "2024-05-01", time: "10:00:00", timeZone: "Europe/Berlin" }, initial);
  assert.equal(both.toString(), "camera_label=Gate+3&recording_date=2024-05-01&recording_time=10%3A00%3A00&timezone=Europe%2FBerlin");
  const labelOnly = detailsBody({ ...initial, cameraLabel: "Gate 3" }, initial);
  assert.equal(labelOnly.toString(), "camera_label=Gate+3");
  const zoneOnly = detailsBody({ ...initial, timeZone: "UTC" }, initial);
  assert.equal(zoneOnly.get("timezone"), "UTC");
  assert.equal(zoneOnly.get("recording_time"), "08:00:00");
  const clear = detailsBody({ ...initial, date: "", time: "" }, initial);
  assert.equal(clear.toString(), "recording_date=&recording_time=&timezone=Europe%2FBerlin");
  assert.equal(detailsBody({ ...initial }, initial).toString(), "");
  // No start before and none now: changing the zone alone sends nothing.
  const empty = { cameraLabel: "", date: "", time: "", timeZone: "UTC" };
  assert.equal(detailsBody({ ...empty, timeZone: "Europe/Berlin" }, empty).toString(), "");
});
