// A video's camera label and recording start on the footage panel: shown to every member, editable by
// editors and the owner. The server stores the start in UTC; the page shows and takes it in the browser's
// time zone, always naming the zone, and sends the zone with the date and time so nothing is guessed.
// The pure helpers are exported for node --test; detailsEditor() builds the form.

import { el } from "./dom.js";

export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

// The local date ("2024-05-01") and time ("10:00:00") of an ISO instant in an IANA time zone; null when
// the instant or the zone is not valid.
export function zonedParts(iso, timeZone) {
  const instant = new Date(iso ?? "");
  if (!iso || Number.isNaN(instant.getTime())) return null;
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    }).formatToParts(instant);
  } catch {
    return null;
  }
  const p = Object.fromEntries(parts.map((part) => [part.type, part.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}` };
}

const UTC_NAMES = new Set(["UTC", "Etc/UTC", "Etc/GMT", "GMT"]);

// "2024-05-01 10:00:00 Europe/Berlin (2024-05-01 08:00:00 UTC)", or "… UTC" alone in UTC.
export function formatStart(iso, timeZone) {
  const utc = zonedParts(iso, "UTC");
  if (!utc) return "";
  const local = UTC_NAMES.has(timeZone) ? null : zonedParts(iso, timeZone);
  const inUtc = `${utc.date} ${utc.time} UTC`;
  return local ? `${local.date} ${local.time} ${timeZone} (${inUtc})` : inUtc;
}

export function startSourceText(source) {
  if (source === "file") return "read from the file's creation time: check it against the picture, camera clocks drift";
  if (source === "user") return "set by hand";
  return "";
}

export function startLine(video, timeZone) {
  if (!video.recording_started_at) return "Recording start: unknown";
  const source = startSourceText(video.recording_start_source);
  return `Recording start: ${formatStart(video.recording_started_at, timeZone)}${source ? ` · ${source}` : ""}`;
}

// The zones to offer: the browser's list (UTC and the current zone always in it), the current one first.
export function timeZoneChoices(current, supported = Intl.supportedValuesOf?.("timeZone") ?? []) {
  const rest = [...new Set(["UTC", ...supported])].filter((zone) => zone !== current).sort();
  return [current, ...rest];
}

// The request body: only the fields the person changed from `initial`, so saving a label never rewrites a
// start shown to the second (a file's start may hold fractions). Empty date and time clear the start.
export function detailsBody(values, initial = {}) {
  const body = new URLSearchParams();
  const label = values.cameraLabel.trim();
  if (label !== (initial.cameraLabel ?? "").trim()) body.set("camera_label", label);
  const startChanged = ["date", "time", "timeZone"].some((key) => values[key] !== initial[key]);
  if (startChanged && (values.date || values.time || initial.date || initial.time)) {
    body.set("recording_date", values.date);
    body.set("recording_time", values.time);
    body.set("timezone", values.timeZone);
  }
  return body;
}

// --- the form -------------------------------------------------------------------------------------------------

// The editor for one video. save(body) posts it and resolves to { ok, payload }; onDone(video) gets the
// video as the server now has it; onCancel() closes the form.
export function detailsEditor(video, { timeZone, save, onDone, onCancel }) {
  const id = `video-${video.id}`;
  const local = zonedParts(video.recording_started_at, timeZone);
  const form = el("form", { class: "video-details-form", "data-video": video.id, novalidate: true });
  const label = el("input", { type: "text", id: `${id}-camera`, name: "camera_label", maxlength: "200", value: video.camera_label || "" });
  const date = el("input", { type: "date", id: `${id}-date`, name: "recording_date", value: local?.date ?? "" });
  const time = el("input", { type: "time", id: `${id}-time`, name: "recording_time", step: "1", value: local?.time ?? "" });
  const zone = el("select", { id: `${id}-zone`, name: "timezone" });
  for (const name of timeZoneChoices(timeZone)) {
    zone.append(el("option", { value: name, text: name === timeZone ? `${name} (this browser)` : name }));
  }
  zone.value = timeZone;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const saveButton = el("button", { type: "submit", class: "primary", text: "Save" });
  const clear = el("button", { type: "button", class: "clear-start", text: "Clear start" });
  const cancel = el("button", { type: "button", class: "link", text: "Cancel" });
  form.append(
    el("label", { for: label.id, text: "Camera label" }), label,
    el("fieldset", {}, [
      el("legend", { text: "Recording start (time of the first frame)" }),
      el("label", { for: date.id, text: "Date" }), date,
      el("label", { for: time.id, text: "Time" }), time,
      el("label", { for: zone.id, text: "Time zone" }), zone,
    ]),
    error,
    el("div", { class: "video-details-actions" }, [saveButton, clear, cancel]),
  );
  const initial = { cameraLabel: label.value, date: date.value, time: time.value, timeZone: zone.value };
  const submit = async () => {
    const body = detailsBody({ cameraLabel: label.value, date: date.value, time: time.value, timeZone: zone.value }, initial);
    if ([...body.keys()].length === 0) {
      onCancel(); // nothing changed: nothing to send or to log
      return;
    }
    error.hidden = true;
    saveButton.disabled = true;
    try {
      const { ok, payload } = await save(body);
      if (!ok) {
        error.textContent = payload.error || "The details could not be saved.";
        error.hidden = false;
        return;
      }
      onDone(payload.video);
    } finally {
      saveButton.disabled = false;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  clear.addEventListener("click", () => {
    date.value = "";
    time.value = "";
    submit();
  });
  cancel.addEventListener("click", () => onCancel());
  return form;
}
