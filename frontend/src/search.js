// Search by photo on the case page: drop a photo anywhere (or paste, or choose a file), pick the person when
// the photo shows several (or draw a box when it shows none), then a ranked list of moments with thumbnails,
// a per-video timeline, a live threshold, verdicts, refine, exports. Clicking a moment seeks the footage
// player (window.sightline.player) and draws the track's box over the video (overlay.js). An evidence clip is
// cut by an export job: its progress shows on the moment, then the download and the file's sha256.
// Job progress arrives through case_page.js's "sightline:job" events (the case websocket).

import { postJson } from "./http.js";
import { Overlay, fitRect } from "./overlay.js";

// --- pure helpers (unit-tested) ---------------------------------------------------------------------------

export function isImageFile(file) {
  return Boolean(file) && (/^image\//.test(file.type) || /\.(jpe?g|png|webp|bmp|gif|tiff?)$/i.test(file.name ?? ""));
}

export function imageFromTransfer(items) {
  for (const item of items ?? []) {
    const file = item.kind === "file" ? item.getAsFile() : item;
    if (isImageFile(file)) return file;
  }
  return null;
}

export function visibleHits(hits, minScore, { hideRejected = true } = {}) {
  return hits.filter((h) => h.score >= minScore && !(hideRejected && h.verdict === "rejected"));
}

export function formatClock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00.0";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = (seconds % 60).toFixed(1).padStart(4, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatWall(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

// Marks on a per-video timeline: left and width in percent of the video's duration.
export function timelineMarks(hits, duration) {
  if (!(duration > 0)) return [];
  return hits.map((h) => {
    const left = Math.min(100, Math.max(0, (h.start_s / duration) * 100));
    const right = Math.min(100, Math.max(left, (h.end_s / duration) * 100));
    return { hit: h.id, left, width: Math.max(0.4, right - left) };
  });
}

export function nextIndex(current, count, step) {
  if (count === 0) return -1;
  if (current < 0) return step > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, current + step));
}

// A box in photo pixels from two points dragged on an image shown at `scale` (displayed / natural).
export function dragBox(a, b, scale) {
  const x = Math.min(a.x, b.x) / scale;
  const y = Math.min(a.y, b.y) / scale;
  return [x, y, Math.abs(a.x - b.x) / scale, Math.abs(a.y - b.y) / scale].map((v) => Math.round(v * 10) / 10);
}

// A click on the <video> element, in the video's own pixels (null on the bars around the picture).
export function clickToVideoPixels(clientX, clientY, rect, videoW, videoH) {
  const fit = fitRect(videoW, videoH, rect.width, rect.height);
  if (!fit) return null;
  const x = (clientX - rect.left - fit.x) / fit.scale;
  const y = (clientY - rect.top - fit.y) / fit.scale;
  if (x < 0 || y < 0 || x > videoW || y > videoH) return null;
  return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
}

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

export function lowestScore(hits) {
  return hits.length ? Math.floor(Math.min(...hits.map((h) => h.score)) * 100) / 100 : 0;
}

// --- the panel ----------------------------------------------------------------------------------------------

// The panel's requests throw with the server's message, which the panel shows.
async function post(url, body) {
  const { ok, status, payload } = await postJson(url, body);
  if (!ok) throw new Error(payload.error ?? `The server answered ${status}.`);
  return payload;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

class SearchPanel {
  constructor(root) {
    this.root = root;
    this.queriesUrl = root.dataset.queriesUrl;
    this.canSearch = root.dataset.canSearch === "1";
    this.canReview = root.dataset.canReview === "1";
    this.canExport = root.dataset.canExport === "1";
    this.status = root.querySelector("#search-status");
    this.body = root.querySelector("#search-body");
    this.history = root.querySelector("#search-history");
    this.doc = null; // the current results document
    this.pendingJob = null;
    this.selected = -1;
    this.minScore = 0;
    this.overlay = null;
    this.clips = new Map(); // hit id -> its evidence clip's state (clipState)
    this.bind();
    this.loadHistory();
  }

  bind() {
    const input = this.root.querySelector("#search-file");
    if (input) input.addEventListener("change", () => input.files[0] && this.start(input.files[0]));
    if (this.canSearch) {
      document.addEventListener("dragover", (e) => {
        if ([...(e.dataTransfer?.items ?? [])].some((i) => i.kind === "file" && /^image\//.test(i.type))) {
          e.preventDefault();
          this.root.classList.add("drop-ready");
        }
      });
      document.addEventListener("dragleave", () => this.root.classList.remove("drop-ready"));
      document.addEventListener("drop", (e) => {
        this.root.classList.remove("drop-ready");
        const file = imageFromTransfer(e.dataTransfer?.files);
        if (!file) return; // videos are the footage panel's
        e.preventDefault();
        e.stopPropagation();
        this.start(file);
      }, true);
      document.addEventListener("paste", (e) => {
        const file = imageFromTransfer(e.clipboardData?.items);
        if (file) {
          e.preventDefault();
          this.start(file);
        }
      });
    }
    document.addEventListener("sightline:job", (e) => this.onJob(e.detail));
    document.addEventListener("sightline:state", () => {
      if (this.pendingJob) this.checkPending();
      this.checkClips();
    });
    document.addEventListener("sightline:video", (e) => this.onVideo(e.detail));
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  async start(file, point = null) {
    const form = new FormData();
    form.append("photo", file, file.name || "photo.jpg");
    if (point) form.append("point", point.join(","));
    this.say("Uploading the photo…");
    try {
      this.accept(await post(this.queriesUrl, form));
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  accept(data) {
    this.doc = { query: data.query, hits: [], videos: {}, models: {} };
    this.pendingJob = data.job.job;
    this.say("Searching…", "busy");
    this.render();
    this.checkPending();
  }

  onJob(event) {
    if (event.kind === "export") {
      this.onClipJob(event);
      return;
    }
    if (event.kind !== "search" || event.job !== this.pendingJob) return;
    if (event.status === "running") this.say(`Searching… ${Math.round((event.progress ?? 0) * 100)}%`, "busy");
    if (["done", "failed", "cancelled"].includes(event.status)) this.loadResults(event.query);
  }

  // A video's label or recording start changed on the footage panel: take the results' labels and
  // wall-clock times from the server again, keeping the list's threshold and selection.
  async onVideo(video) {
    const doc = this.doc;
    if (!doc || !video || !doc.videos[String(video.id)]) return;
    const response = await fetch(doc.query.urls.results, { credentials: "same-origin" });
    if (!response.ok || this.doc !== doc) return;
    const fresh = await response.json();
    const times = new Map(fresh.hits.map((h) => [h.id, h]));
    for (const hit of doc.hits) {
      const now = times.get(hit.id);
      if (now) Object.assign(hit, { start_wall: now.start_wall, end_wall: now.end_wall });
    }
    Object.assign(doc.videos, fresh.videos);
    this.renderListOnly();
  }

  // The job may have finished before this page knew its id: look at the jobs case_page.js holds, then poll.
  checkPending() {
    const job = window.sightline?.jobs?.get(this.pendingJob);
    if (job && ["done", "failed", "cancelled"].includes(job.status)) {
      this.loadResults(job.query);
      return;
    }
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(async () => {
      if (!this.pendingJob || !this.doc) return;
      const response = await fetch(this.doc.query.urls.results, { credentials: "same-origin" });
      if (!response.ok) return;
      const doc = await response.json();
      if (doc.query.job && doc.query.job.job === this.pendingJob && !["queued", "running"].includes(doc.query.job.status)) {
        this.show(doc);
      } else this.checkPending();
    }, 2000);
  }

  async loadResults(queryId) {
    const url = this.doc?.query?.id === queryId ? this.doc.query.urls.results : `${this.queriesUrl}queries/${queryId}/`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      this.say(`Could not load the results (${response.status}).`, "error");
      return;
    }
    this.show(await response.json());
  }

  show(doc) {
    this.pendingJob = null;
    clearTimeout(this.pollTimer);
    this.doc = doc;
    this.selected = -1;
    this.minScore = lowestScore(doc.hits);
    const q = doc.query;
    const messages = {
      results: `${doc.hits.length} moment${doc.hits.length === 1 ? "" : "s"} found, best first.`,
      no_results: "No moment of this person was found in the case's footage.",
      choose_person: "Several people are in this photo: click the one to search for, or draw a box.",
      no_person: q.error ?? "No person was found in the photo. Draw a box around the person.",
      failed: q.error ?? "The search failed.",
    };
    this.say(messages[q.state] ?? q.state, ["failed", "no_person"].includes(q.state) ? "error" : "info");
    this.render();
    this.loadHistory();
  }

  render() {
    const doc = this.doc;
    this.body.replaceChildren();
    if (!doc) return;
    const q = doc.query;
    this.root.dataset.query = String(q.id);
    this.root.dataset.state = q.state;
    if (["choose_person", "no_person"].includes(q.state)) {
      // Choosing the person re-runs the search: editors and the owner do it; viewers are read-only.
      this.body.append(this.canSearch ? this.renderPicker(q)
        : el("p", { className: "muted", id: "search-picker-wait" }, "An editor or the owner picks the person in this photo."));
      return;
    }
    if (!["results", "no_results"].includes(q.state)) return;
    this.body.append(this.renderSummary(doc));
    const hits = visibleHits(doc.hits, this.minScore);
    this.body.append(this.renderTimelines(doc, hits));
    const list = el("ol", { className: "hits", id: "search-hits" });
    hits.forEach((hit) => list.append(this.renderHit(doc, hit)));
    this.body.append(list);
  }

  renderSummary(doc) {
    const q = doc.query;
    const wrap = el("div", { className: "search-summary" });
    const photos = el("div", { className: "query-photos", id: "search-photos" },
      el("img", { className: "query-photo", src: q.photo_url, alt: "The query photo" }));
    (q.more_photo_urls || []).forEach((url, n) => {
      photos.append(el("img", { className: "query-photo more", src: url, alt: `Photo ${n + 2} of the same person` }));
    });
    wrap.append(photos);
    const side = el("div", { className: "summary-side" });
    if (doc.models.label) {
      side.append(el("p", { className: doc.models.appearance_only ? "pack appearance-only" : "pack", id: "search-pack" }, doc.models.label));
    }
    const slider = el("input", { type: "range", id: "search-threshold", min: "0", max: "1", step: "0.01", value: String(this.minScore) });
    const value = el("output", { id: "search-threshold-value" }, this.minScore.toFixed(2));
    slider.addEventListener("input", () => {
      this.minScore = Number(slider.value);
      value.textContent = this.minScore.toFixed(2);
      this.renderListOnly();
    });
    side.append(el("label", { className: "threshold" }, "Show moments with similarity at least ", slider, " ", value));
    const counts = { confirmed: q.confirmed.length, rejected: q.rejected.length };
    for (const h of doc.hits) if (h.verdict) counts[h.verdict] += 1;
    const actions = el("div", { className: "search-actions" });
    if (this.canSearch) {
      actions.append(
        el("button", { type: "button", id: "search-refine", disabled: !(counts.confirmed || counts.rejected), onclick: () => this.refine() },
          "Refine with my feedback"),
        el("button", { type: "button", id: "search-rerun", onclick: () => this.rerun() }, "Run again"),
      );
      // Front and back, or another camera: more photos of the same person make one better query.
      const more = el("input", { type: "file", id: "search-more-file", accept: "image/*", hidden: true });
      more.addEventListener("change", () => {
        if (more.files?.length) this.addPhoto(more.files[0]);
      });
      actions.append(
        el("label", { className: "button", htmlFor: "search-more-file", id: "search-add-photo",
          title: "Another photo of the same person (front and back, another camera): all are searched as one" },
        "Add a photo of the same person"),
        more,
      );
    }
    if (this.canExport) {
      actions.append(
        el("a", { href: q.urls.report, target: "_blank", rel: "noopener", id: "search-report" }, "Case report"),
        el("a", { href: q.urls.csv }, "CSV"),
        el("a", { href: q.urls.json }, "JSON"),
      );
    }
    side.append(actions);
    if (q.refined_from) side.append(el("p", { className: "muted" }, `Refined from search ${q.refined_from}: ${q.confirmed.length} confirmed used, ${q.rejected.length} rejected left out.`));
    side.append(el("p", { className: "muted keys" }, "Keys: N next moment, P previous moment."));
    wrap.append(side);
    return wrap;
  }

  renderListOnly() {
    const list = this.body.querySelector("#search-hits");
    const timelines = this.body.querySelector(".timelines");
    if (!list) return;
    const hits = visibleHits(this.doc.hits, this.minScore);
    list.replaceChildren(...hits.map((hit) => this.renderHit(this.doc, hit)));
    timelines.replaceWith(this.renderTimelines(this.doc, hits));
  }

  renderTimelines(doc, hits) {
    const wrap = el("div", { className: "timelines" });
    for (const video of Object.values(doc.videos)) {
      const mine = hits.filter((h) => h.video === video.id);
      const bar = el("div", { className: "timeline", dataset: { video: String(video.id) }, title: video.label });
      for (const mark of timelineMarks(mine, video.duration_s)) {
        const hit = mine.find((h) => h.id === mark.hit);
        const m = el("button", {
          type: "button",
          className: `mark band-${hit.band}`,
          title: `#${hit.rank} at ${formatClock(hit.start_s)}`,
          dataset: { hit: String(hit.id) },
          onclick: () => this.play(hit),
        });
        m.style.left = `${mark.left}%`;
        m.style.width = `${mark.width}%`;
        bar.append(m);
      }
      wrap.append(el("div", { className: "timeline-row" }, el("span", { className: "timeline-label" }, video.label), bar));
    }
    return wrap;
  }

  renderHit(doc, hit) {
    const video = doc.videos[String(hit.video)];
    const wall = hit.start_wall ? ` · ${formatWall(hit.start_wall)}` : "";
    const item = el("li", { className: `hit band-${hit.band}`, dataset: { hit: String(hit.id), verdict: hit.verdict || "" } });
    const open = el("button", { type: "button", className: "hit-open", onclick: () => this.play(hit) },
      hit.thumb_url ? el("img", { src: hit.thumb_url, alt: `Best view of moment ${hit.rank}`, loading: "lazy" }) : null,
      el("span", { className: "hit-text" },
        el("strong", {}, `#${hit.rank} `), `${video.label} · ${formatClock(hit.start_s)} – ${formatClock(hit.end_s)}${wall}`,
        el("br"),
        el("span", { className: "words" }, hit.words), ` (${hit.score.toFixed(3)}) · ${hit.frames} frames`,
      ),
    );
    item.append(open);
    const tools = el("span", { className: "hit-tools" });
    if (this.canReview) {
      tools.append(
        el("button", { type: "button", className: "confirm", "aria-pressed": String(hit.verdict === "confirmed"), onclick: () => this.verdict(hit, hit.verdict === "confirmed" ? "" : "confirmed") }, "✓ Same person"),
        el("button", { type: "button", className: "reject", onclick: () => this.verdict(hit, "rejected") }, "✗ Not them"),
      );
    }
    item.append(tools);
    if (this.canExport) item.append(this.renderClip(hit));
    return item;
  }

  // --- evidence clips ---------------------------------------------------------------------------------------

  renderClip(hit) {
    const clip = this.clips.get(hit.id);
    const box = el("span", { className: "clip-box", dataset: { hit: String(hit.id), state: clip?.status ?? "" } });
    if (!clip || ["failed", "cancelled"].includes(clip.status)) {
      box.append(el("button", { type: "button", className: "clip", onclick: () => this.requestClip(hit) }, clip ? "Evidence clip again" : "Evidence clip"));
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
      box.append(el("button", { type: "button", className: "clip-cancel link", onclick: () => this.cancelClip(hit.id) }, "Cancel"));
    }
    return box;
  }

  redrawClip(hitId) {
    const node = this.body.querySelector(`.clip-box[data-hit="${hitId}"]`);
    const hit = this.doc?.hits.find((h) => h.id === hitId);
    if (node && hit) node.replaceWith(this.renderClip(hit));
  }

  async requestClip(hit) {
    try {
      const clip = clipState(await post(hit.clip_url));
      this.clips.set(hit.id, clip);
      this.redrawClip(hit.id);
      // The job may have finished before its id was known here: the jobs case_page.js holds say so.
      const known = window.sightline?.jobs?.get(clip.job);
      if (known) this.onClipJob(known);
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  async onClipJob(event) {
    const entry = [...this.clips.entries()].find(([, c]) => c.job === event.job);
    if (!entry) return;
    const [hitId, clip] = entry;
    // Events can arrive late or twice: a finished clip only changes when its job is run again.
    if (clip.ready || (FINISHED.includes(clip.status) && (clip.status === event.status || event.status === "running"))) return;
    Object.assign(clip, { status: event.status, progress: event.progress ?? clip.progress, error: event.error ?? null });
    this.redrawClip(hitId);
    if (event.status === "done") await this.loadClip(hitId);
  }

  async loadClip(hitId) {
    const clip = this.clips.get(hitId);
    const response = await fetch(clip.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    this.clips.set(hitId, clipState(await response.json()));
    this.redrawClip(hitId);
  }

  // After a (re)connect the jobs list was reloaded: a clip whose job ended meanwhile catches up.
  checkClips() {
    for (const clip of this.clips.values()) {
      const job = window.sightline?.jobs?.get(clip.job);
      if (job && !clip.ready) this.onClipJob(job);
    }
  }

  async cancelClip(hitId) {
    const clip = this.clips.get(hitId);
    try {
      const event = await post(clip.cancelUrl);
      this.onClipJob(event);
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  renderPicker(q) {
    const wrap = el("div", { className: "picker", id: "search-picker" });
    const stage = el("div", { className: "picker-stage" });
    const img = el("img", { src: q.photo_url, alt: "The query photo", draggable: false });
    stage.append(img);
    const boxes = [];
    const place = () => {
      const scale = img.clientWidth / (q.photo?.width || img.naturalWidth || 1);
      for (const [node, box] of boxes) {
        Object.assign(node.style, { left: `${box[0] * scale}px`, top: `${box[1] * scale}px`, width: `${box[2] * scale}px`, height: `${box[3] * scale}px` });
      }
      return scale;
    };
    q.candidates.forEach((c, n) => {
      const node = el("button", { type: "button", className: "candidate", title: `Person ${n + 1}`, dataset: { n: String(n) }, onclick: () => this.choose(c.box) });
      boxes.push([node, c.box]);
      stage.append(node);
    });
    img.addEventListener("load", place);
    // Drawing a box: press, drag, release on the photo.
    let start = null;
    const drawn = el("div", { className: "drawn" });
    stage.append(drawn);
    const point = (e) => {
      const r = img.getBoundingClientRect();
      return { x: Math.min(Math.max(0, e.clientX - r.left), r.width), y: Math.min(Math.max(0, e.clientY - r.top), r.height) };
    };
    img.addEventListener("pointerdown", (e) => {
      start = point(e);
      img.setPointerCapture?.(e.pointerId);
    });
    img.addEventListener("pointermove", (e) => {
      if (!start) return;
      const p = point(e);
      Object.assign(drawn.style, { display: "block", left: `${Math.min(start.x, p.x)}px`, top: `${Math.min(start.y, p.y)}px`, width: `${Math.abs(p.x - start.x)}px`, height: `${Math.abs(p.y - start.y)}px` });
    });
    img.addEventListener("pointerup", (e) => {
      if (!start) return;
      const box = dragBox(start, point(e), place());
      start = null;
      if (box[2] >= 8 && box[3] >= 16) this.choose(box);
    });
    wrap.append(stage, el("p", { className: "muted" }, q.candidates.length ? "Click a person, or drag a box around another." : "Drag a box around the person on the photo."));
    return wrap;
  }

  async choose(box) {
    try {
      const data = await post(this.doc.query.urls.choose, new URLSearchParams({ box: box.join(",") }));
      this.accept(data);
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  async refine() {
    try {
      this.accept(await post(this.doc.query.urls.refine));
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  async addPhoto(file) {
    const form = new FormData();
    form.append("photo", file);
    try {
      this.accept(await post(this.doc.query.urls.add_photo, form));
      this.say("Searching with all photos of this person…", "info");
    } catch (error) {
      this.say(`${file.name}: ${error.message}`, "error");
    }
  }

  async rerun() {
    try {
      this.accept(await post(this.doc.query.urls.rerun));
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  async verdict(hit, value) {
    try {
      const data = await post(hit.verdict_url, new URLSearchParams({ verdict: value }));
      Object.assign(hit, { verdict: data.hit.verdict });
      this.renderListOnly();
      const refine = this.body.querySelector("#search-refine");
      if (refine) refine.disabled = !this.doc.hits.some((h) => h.verdict);
      this.say(value === "rejected" ? "Left out. Refine to search again without it." : "Noted.", "info");
    } catch (error) {
      this.say(error.message, "error");
    }
  }

  play(hit) {
    const player = window.sightline?.player;
    const video = this.doc.videos[String(hit.video)];
    if (!player || !video?.stream_url) {
      this.say("This video cannot be played yet.", "error");
      return;
    }
    const hits = visibleHits(this.doc.hits, this.minScore);
    this.selected = hits.findIndex((h) => h.id === hit.id);
    for (const node of this.body.querySelectorAll("li.hit")) node.classList.toggle("selected", node.dataset.hit === String(hit.id));
    player.open({ ...video, name: video.name }, hit.start_s);
    if (!this.overlay) this.overlay = new Overlay(player.video);
    this.overlay.setTrack(hit.boxes, `#${hit.rank}`);
    this.root.dataset.playing = String(hit.id);
  }

  onKey(e) {
    if (!this.doc || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]")) return;
    const step = { n: 1, N: 1, p: -1, P: -1 }[e.key];
    if (!step) return;
    const hits = visibleHits(this.doc.hits, this.minScore);
    const i = nextIndex(this.selected, hits.length, step);
    if (i >= 0) {
      e.preventDefault();
      this.play(hits[i]);
    }
  }

  async loadHistory() {
    if (!this.history) return;
    const response = await fetch(this.queriesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { queries } = await response.json();
    this.history.replaceChildren(...queries.slice(0, 12).map((q) => el("li", {},
      el("button", { type: "button", className: "link", onclick: () => this.loadResults(q.id) },
        el("img", { src: q.photo_url, alt: "", loading: "lazy" }),
        ` #${q.id} ${q.created_by ?? ""} ${formatWall(q.created_at)} · ${q.state}`),
    )));
  }
}

// "Find this person": pause, click a person in the frame; the frame goes up as the photo with the point.
function addFrameSearch(panel, player) {
  const head = player.root.querySelector(".player-head");
  const video = player.video;
  if (!head || !panel.canSearch) return;
  const button = el("button", { type: "button", className: "link", id: "search-in-frame" }, "Find a person in this frame");
  const layer = el("div", { className: "frame-pick", title: "Click the person to search for" });
  Object.assign(layer.style, { position: "absolute", display: "none", cursor: "crosshair", zIndex: "2" });
  const host = video.parentElement;
  if (getComputedStyle(host).position === "static") host.style.position = "relative"; // offsets are from it
  host.append(layer);
  button.addEventListener("click", () => {
    video.pause();
    Object.assign(layer.style, {
      display: "block",
      left: `${video.offsetLeft}px`,
      top: `${video.offsetTop}px`,
      width: `${video.clientWidth}px`,
      height: `${video.clientHeight}px`,
    });
    panel.say("Click the person in the paused frame.", "info");
  });
  layer.addEventListener("click", (e) => {
    layer.style.display = "none";
    const point = clickToVideoPixels(e.clientX, e.clientY, video.getBoundingClientRect(), video.videoWidth, video.videoHeight);
    if (!point) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      const name = `frame-${video.currentTime.toFixed(2)}s.jpg`;
      panel.start(new File([blob], name, { type: "image/jpeg" }), point);
    }, "image/jpeg", 0.95);
  });
  head.insertBefore(button, head.querySelector(".player-close"));
}

function main() {
  const root = document.getElementById("search-panel");
  if (!root) return;
  const panel = new SearchPanel(root);
  window.sightline = { ...(window.sightline ?? {}), search: panel };
  if (window.sightline.player) addFrameSearch(panel, window.sightline.player);
}

if (typeof document !== "undefined") main();
