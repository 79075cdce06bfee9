// Footage panel: resumable uploads (tus protocol through tus-js-client), the video list with live analysis
// progress, and job controls. The pure helpers are exported for node --test; main() wires the page.
//
// Resuming: tus-js-client keeps each upload's URL in localStorage under a fingerprint of the file (name,
// type, size, modification time, endpoint). After a dropped connection it retries by itself; after a page
// reload the user drops the same file again and it continues from the server's offset.
//
// Each video shows its camera label and recording start; editors and the owner change them in place
// (video_details.js). A saved change is announced as a "sightline:video" event for the other panels.

import { el } from "./dom.js";
import { csrfToken, postJson } from "./http.js";
import { browserTimeZone, detailsEditor, startLine } from "./video_details.js";

export const CHUNK_BYTES = 8 * 1024 * 1024; // what a dropped connection can cost at most
export const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];

export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return "";
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function formatEta(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return "less than a second left";
  return `${formatDuration(seconds)} left`;
}

// Speed over a sliding window of recent samples, so a stall shows quickly and one fast chunk does not
// promise too much. Times in milliseconds.
export class RateMeter {
  constructor({ windowMs = 5000 } = {}) {
    this.windowMs = windowMs;
    this.samples = [];
  }

  add(timeMs, bytes) {
    this.samples.push([timeMs, bytes]);
    while (this.samples.length > 2 && timeMs - this.samples[0][0] > this.windowMs) this.samples.shift();
  }

  rate() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  eta(totalBytes) {
    const rate = this.rate();
    if (rate <= 0 || this.samples.length === 0) return NaN;
    const sent = this.samples[this.samples.length - 1][1];
    return Math.max(0, totalBytes - sent) / rate;
  }
}

export function uploadOptions({ endpoint, file, csrfToken, cameraLabel = "", chunkSize = CHUNK_BYTES }) {
  return {
    endpoint,
    chunkSize,
    retryDelays: RETRY_DELAYS_MS,
    headers: { "X-CSRFToken": csrfToken },
    metadata: {
      filename: file.name,
      filetype: file.type || "application/octet-stream",
      ...(cameraLabel ? { camera: cameraLabel } : {}),
    },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
  };
}

// The server answers refusals with a plain-text sentence meant for the user; show it rather than the
// library's generic text.
export function errorMessage(error) {
  const response = error && error.originalResponse;
  if (response && typeof response.getBody === "function") {
    const body = response.getBody();
    if (body && body.length < 500 && !body.trimStart().startsWith("<")) return body.trim();
    const status = response.getStatus();
    if (status === 413) return "The file is larger than this server accepts.";
    if (status === 404 || status === 410) return "The upload expired on the server. Choose the file again.";
  }
  return (error && error.message) || "The upload failed.";
}

// Every message about a file names it: "cam 3.mp4: The upload is not finished…", once.
export function fileMessage(name, message) {
  const text = String(message || "").trim() || "That did not work.";
  return text.startsWith(`${name}:`) ? text : `${name}: ${text}`;
}

// Analysis job text under a video: "analyse 45% · 31 fps · 0:12 left".
export function jobLine(job) {
  if (!job) return "";
  if (job.status === "queued") return "waiting for a worker";
  if (job.status === "running") {
    const parts = [`${job.stage || "starting"} ${Math.round((job.progress || 0) * 100)}%`];
    if (job.fps) parts.push(`${Math.round(job.fps)} fps`);
    if (job.eta_s !== null && job.eta_s !== undefined) parts.push(formatEta(job.eta_s));
    return parts.join(" · ");
  }
  if (job.status === "failed") return job.error || "failed";
  return job.status;
}

export function pausedLine(offset, length) {
  const percent = length ? Math.floor((100 * offset) / length) : 0;
  return `${percent}% of ${formatBytes(length)} uploaded, paused. Choose or drop the same file to continue.`;
}

export function isActive(job) {
  return Boolean(job) && (job.status === "queued" || job.status === "running");
}

// --- the page ---------------------------------------------------------------------------------------------

class FootagePanel {
  constructor(root) {
    this.root = root;
    this.caseId = root.dataset.case;
    this.videosUrl = root.dataset.videosUrl;
    this.uploadsUrl = root.dataset.uploadsUrl;
    this.canEdit = root.dataset.canEdit === "1";
    this.list = root.querySelector("#videos-list");
    this.uploads = root.querySelector("#uploads-list");
    this.videos = new Map();
    this.timeZone = browserTimeZone();
    this.editing = null; // id of the video whose details form is open; the form survives re-renders
    this.editor = null;
  }

  start() {
    const zone = this.root.querySelector("#dropzone");
    const picker = this.root.querySelector("#file-input");
    if (zone && picker) {
      for (const name of ["dragenter", "dragover"]) {
        zone.addEventListener(name, (event) => {
          event.preventDefault();
          zone.classList.add("over");
        });
      }
      for (const name of ["dragleave", "drop"]) zone.addEventListener(name, () => zone.classList.remove("over"));
      zone.addEventListener("drop", (event) => {
        event.preventDefault();
        this.addFiles(event.dataTransfer.files);
      });
      picker.addEventListener("change", () => {
        this.addFiles(picker.files);
        picker.value = "";
      });
    }
    document.addEventListener("sightline:job", (event) => this.onJob(event.detail));
    document.addEventListener("sightline:state", () => this.reload());
    this.reload();
    if (this.uploads) this.showUnfinished();
  }

  // After a reload or a crash: uploads of this case that the server holds part of. The browser cannot
  // reopen a file by itself, so the user is asked to choose it again; tus then continues from the offset.
  async showUnfinished() {
    const storage = window.tus?.defaultOptions?.urlStorage;
    if (!storage) return;
    const stored = await storage.findAllUploads().catch(() => []);
    for (const entry of stored) {
      if (!entry.uploadUrl || !new URL(entry.uploadUrl, window.location.href).pathname.startsWith(this.uploadsUrl)) continue;
      const response = await fetch(entry.uploadUrl, { method: "HEAD", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0" } });
      if (!response.ok) {
        await storage.removeUpload(entry.urlStorageKey);
        continue;
      }
      const name = entry.metadata?.filename || "a file";
      const offset = Number(response.headers.get("Upload-Offset")) || 0;
      const length = Number(response.headers.get("Upload-Length")) || entry.size || 0;
      const row = el("li", { class: "upload", dataset: { name, state: "paused" } });
      const text = el("span", {
        class: "upload-text",
        text: `${name}: ${pausedLine(offset, length)}`,
      });
      const discard = el("button", { type: "button", class: "link", text: "Discard" });
      discard.addEventListener("click", async () => {
        await fetch(entry.uploadUrl, { method: "DELETE", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0", "X-CSRFToken": csrfToken() } });
        await storage.removeUpload(entry.urlStorageKey);
        row.remove();
      });
      row.append(text, el("progress", { max: "1", value: String(length ? offset / length : 0) }), discard);
      this.uploads.append(row);
    }
  }

  addFiles(files) {
    const label = this.root.querySelector("#camera-label");
    for (const file of Array.from(files)) this.upload(file, label ? label.value.trim() : "");
  }

  upload(file, cameraLabel) {
    for (const paused of this.uploads.querySelectorAll("li.upload[data-state=paused]")) {
      if (paused.dataset.name === file.name) paused.remove(); // continued below
    }
    const row = el("li", { class: "upload", dataset: { name: file.name } });
    const bar = el("progress", { max: "1", value: "0" });
    const text = el("span", { class: "upload-text", text: `${file.name}: starting…` });
    const info = el("span", { class: "upload-info muted" });
    const cancel = el("button", { type: "button", class: "link", text: "Cancel" });
    row.append(text, bar, info, cancel);
    this.uploads.prepend(row);
    const meter = new RateMeter();
    const options = uploadOptions({
      endpoint: this.uploadsUrl,
      file,
      csrfToken: csrfToken(),
      cameraLabel,
      // Read per upload so an operator (or a test) can lower it on a slow, unreliable link.
      chunkSize: Number(this.root.dataset.chunkBytes) || CHUNK_BYTES,
    });
    const upload = new window.tus.Upload(file, {
      ...options,
      onProgress: (sent, total) => {
        if (!row.dataset.firstSent) row.dataset.firstSent = String(sent);
        meter.add(performance.now(), sent);
        bar.value = total ? sent / total : 0;
        row.dataset.sent = String(sent);
        text.textContent = `${file.name}: ${Math.floor((100 * sent) / total)}% of ${formatBytes(total)}`;
        info.textContent = [formatRate(meter.rate()), formatEta(meter.eta(total))].filter(Boolean).join(" · ");
      },
      onError: (error) => this.uploadFailed(row, text, info, cancel, file, errorMessage(error)),
      onSuccess: () => this.complete(row, text, info, cancel, file, upload.url, cameraLabel),
    });
    cancel.addEventListener("click", () => {
      upload.abort(true).catch(() => {});
      row.dataset.state = "cancelled";
      text.textContent = `${file.name}: cancelled`;
      cancel.remove();
    });
    row.dataset.state = "uploading";
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        row.dataset.resumed = "1";
      }
      upload.start();
    });
  }

  uploadFailed(row, text, info, cancel, file, message) {
    row.dataset.state = "error";
    text.textContent = fileMessage(file.name, message);
    info.textContent = "";
    cancel.remove();
  }

  async complete(row, text, info, cancel, file, uploadUrl, cameraLabel) {
    row.dataset.state = "checking";
    text.textContent = `${file.name}: uploaded, checking the file…`;
    info.textContent = "";
    cancel.remove();
    const body = new FormData();
    body.append("camera_label", cameraLabel);
    const { ok, payload } = await postJson(`${uploadUrl}/complete`, body);
    if (!ok) {
      row.dataset.state = "error";
      text.textContent = fileMessage(file.name, payload.error || "rejected");
      return;
    }
    row.dataset.state = "done";
    row.dataset.video = String(payload.video.id);
    text.textContent = `${file.name}: accepted, analysis queued`;
    this.videos.set(payload.video.id, payload.video);
    this.render();
  }

  async reload() {
    // Answers can arrive out of order; only the latest request's answer is drawn.
    this.requests = (this.requests || 0) + 1;
    const ticket = this.requests;
    try {
      const response = await fetch(this.videosUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok || ticket !== this.requests) return;
      const { videos } = await response.json();
      if (ticket !== this.requests) return;
      this.videos = new Map(videos.map((video) => [video.id, video]));
      this.render();
    } catch (error) {
      console.warn("could not load the video list", error);
    }
  }

  onJob(event) {
    if (event.kind !== "ingest" || !event.video) return;
    const video = this.videos.get(event.video);
    if (!video) {
      this.reload();
      return;
    }
    const before = video.job || {};
    video.job = event;
    // A new stage or an end means new files and status (poster, rendition, ready): reload the list once.
    if (event.stage !== before.stage || event.status !== before.status) this.reload();
    else this.render();
  }

  render() {
    const items = [...this.videos.values()].sort((a, b) => a.id - b.id);
    this.list.replaceChildren(...items.map((video) => this.videoItem(video)));
    const empty = this.root.querySelector("#videos-empty");
    if (empty) empty.hidden = items.length > 0;
  }

  videoItem(video) {
    const job = video.job;
    const poster = video.poster_url
      ? el("img", { class: "poster", src: video.poster_url, alt: "", loading: "lazy" })
      : el("div", { class: "poster placeholder" });
    const title = el("strong", { class: "video-name", text: video.camera_label || video.name });
    const facts = [
      formatDuration(video.duration_s),
      video.width ? `${video.width}×${video.height}` : "",
      video.fps ? `${video.fps} fps` : "",
      video.codec,
    ].filter(Boolean);
    if (video.camera_label) facts.unshift(video.name);
    const meta = el("span", { class: "muted", text: facts.join(" · ") });
    const start = el("span", {
      class: "recording-start",
      dataset: { source: video.recording_start_source || "" },
      text: startLine(video, this.timeZone),
    });
    const status = el("span", { class: `status status-${video.status}`, text: video.status_label });
    const progress = isActive(job) ? el("progress", { max: "1", value: String(job.progress || 0) }) : null;
    const line = el("span", { class: "job-line", text: isActive(job) ? jobLine(job) : "" });
    const error = video.error ? el("p", { class: "error", text: fileMessage(video.name, video.error) }) : null;
    const actions = el("div", { class: "actions" });
    if (video.stream_url) {
      const play = el("button", { type: "button", class: "play", text: "Play" });
      play.addEventListener("click", () => window.sightline?.player?.open(video));
      actions.append(play);
    }
    if (this.canEdit && isActive(job)) actions.append(this.action(video, "Cancel", `/jobs/${job.job}/cancel/`));
    if (this.canEdit && job && (job.status === "failed" || job.status === "cancelled")) {
      actions.append(this.action(video, "Retry", `/cases/${this.caseId}/videos/${video.id}/retry`));
    }
    if (this.canEdit && this.editing !== video.id) {
      const edit = el("button", { type: "button", class: "link edit-details", text: "Edit label and start time" });
      edit.addEventListener("click", () => this.edit(video));
      actions.append(edit);
    }
    if (this.canEdit) {
      actions.append(
        this.action(video, "Delete", `/cases/${this.caseId}/videos/${video.id}/delete`, `Delete ${video.name} and everything found in it?`),
      );
    }
    return el("li", { class: "video", dataset: { video: String(video.id), status: video.status } }, [
      poster,
      el("div", { class: "video-body" }, [
        title, meta, start, status, progress, line, error, actions,
        this.editing === video.id ? this.editor : null,
      ]),
    ]);
  }

  edit(video) {
    this.editing = video.id;
    this.editor = detailsEditor(video, {
      timeZone: this.timeZone,
      save: (body) => postJson(video.details_url, body),
      onDone: (saved) => this.detailsSaved(saved),
      onCancel: () => this.closeEditor(),
    });
    this.render();
    this.editor.querySelector("input")?.focus();
  }

  closeEditor() {
    this.editing = null;
    this.editor = null;
    this.render();
  }

  detailsSaved(saved) {
    this.videos.set(saved.id, { ...this.videos.get(saved.id), ...saved });
    this.closeEditor();
    document.dispatchEvent(new CustomEvent("sightline:video", { detail: saved }));
  }

  action(video, label, url, confirmText = "") {
    const button = el("button", { type: "button", class: "link", text: label });
    button.addEventListener("click", async () => {
      if (confirmText && !window.confirm(confirmText)) return;
      const { ok, payload } = await postJson(url);
      if (!ok) window.alert(fileMessage(video.name, payload.error));
      this.reload();
    });
    return button;
  }
}

function main() {
  const root = document.getElementById("footage-panel");
  if (!root) return;
  const panel = new FootagePanel(root);
  panel.start();
  window.sightline = { ...(window.sightline ?? {}), footage: panel };
}

if (typeof document !== "undefined") main();
