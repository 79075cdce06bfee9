// Evidence clips of moments: a clip is cut by an export job; its progress shows on the moment, then the
// download and the file's sha256. Job events come from the panel (case_page.js's "sightline:job").

import { el } from "./dom.js";
import { postPayload } from "./http.js";

const FINISHED = ["done", "failed", "cancelled"];

// What the moment's evidence clip line says, from its export job: { status, progress, error, ready }.
export function clipLine(clip) {
  if (!clip) return "";
  switch (clip.status) {
    case "queued":
      return "Clip: waiting for a worker…";
    case "running":
      return `Cutting the clip… ${Math.round((clip.progress ?? 0) * 100)}%`;
    case "done":
      return clip.ready ? "Clip ready" : "Clip made, checking…";
    case "failed":
      return clip.error || "The clip could not be made.";
    case "cancelled":
      return "Clip cancelled.";
    default:
      return clip.status ?? "";
  }
}

// A clip's state from the server's answer (POST clip, GET status) or from a job event of its export job.
export function clipState(answer) {
  const job = answer.job ?? {};
  return {
    job: job.job,
    status: job.status,
    progress: job.progress ?? 0,
    error: job.error ?? null,
    ready: Boolean(answer.ready),
    sha256: answer.sha256 ?? null,
    statusUrl: answer.status_url,
    fileUrl: answer.file_url ?? null,
    cancelUrl: answer.cancel_url,
  };
}

export class Clips {
  constructor(panel) {
    this.panel = panel;
    this.states = new Map(); // hit id -> its evidence clip's state (clipState)
  }

  render(hit) {
    const clip = this.states.get(hit.id);
    const box = el("span", { className: "clip-box", dataset: { hit: String(hit.id), state: clip?.status ?? "" } });
    if (!clip || ["failed", "cancelled"].includes(clip.status)) {
      box.append(el("button", { type: "button", className: "clip", onclick: () => this.request(hit) }, clip ? "Evidence clip again" : "Evidence clip"));
      if (clip) box.append(el("span", { className: "clip-line", role: "status" }, clipLine(clip)));
      return box;
    }
    if (clip.ready) {
      box.append(
        el("a", { href: clip.fileUrl, className: "clip-download", download: "" }, "Download clip"),
        el("span", { className: "clip-sha" }, "sha256 ", el("code", {}, clip.sha256)),
      );
      return box;
    }
    box.append(
      el("progress", { className: "clip-progress", max: 1, value: clip.progress ?? 0 }),
      el("span", { className: "clip-line", role: "status" }, clipLine(clip)),
    );
    if (clip.status !== "done") {
      box.append(el("button", { type: "button", className: "clip-cancel link", onclick: () => this.cancel(hit.id) }, "Cancel"));
    }
    return box;
  }

  redraw(hitId) {
    const node = this.panel.body.querySelector(`.clip-box[data-hit="${hitId}"]`);
    const hit = this.panel.doc?.hits.find((h) => h.id === hitId);
    if (node && hit) node.replaceWith(this.render(hit));
  }

  async request(hit) {
    try {
      const clip = clipState(await postPayload(hit.clip_url));
      this.states.set(hit.id, clip);
      this.redraw(hit.id);
      // The job may have finished before its id was known here: the jobs case_page.js holds say so.
      const known = window.sightline?.jobs?.get(clip.job);
      if (known) this.onJob(known);
    } catch (error) {
      this.panel.say(error.message, "error");
    }
  }

  async onJob(event) {
    const entry = [...this.states.entries()].find(([, c]) => c.job === event.job);
    if (!entry) return;
    const [hitId, clip] = entry;
    // Events can arrive late or twice: a finished clip only changes when its job is run again.
    if (clip.ready || (FINISHED.includes(clip.status) && (clip.status === event.status || event.status === "running"))) return;
    Object.assign(clip, { status: event.status, progress: event.progress ?? clip.progress, error: event.error ?? null });
    this.redraw(hitId);
    if (event.status === "done") await this.load(hitId);
  }

  async load(hitId) {
    const clip = this.states.get(hitId);
    const response = await fetch(clip.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    this.states.set(hitId, clipState(await response.json()));
    this.redraw(hitId);
  }

  // After a (re)connect the jobs list was reloaded: a clip whose job ended meanwhile catches up.
  check() {
    for (const clip of this.states.values()) {
      const job = window.sightline?.jobs?.get(clip.job);
      if (job && !clip.ready) this.onJob(job);
    }
  }

  async cancel(hitId) {
    const clip = this.states.get(hitId);
    try {
      this.onJob(await postPayload(clip.cancelUrl));
    } catch (error) {
      this.panel.say(error.message, "error");
    }
  }
}
