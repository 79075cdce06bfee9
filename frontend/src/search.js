// Search by photo on the case page: drop a photo anywhere (or paste, or choose a file), pick the person when
// the photo shows several (or draw a box when it shows none), then a ranked list of moments with thumbnails,
// a per-video timeline, a live threshold, verdicts, refine, exports. Clicking a moment seeks the footage
// player (window.sightline.player) and draws the track's box over the video (overlay.js). An evidence clip is
// cut by an export job: its progress shows on the moment, then the download and the file's sha256.
// Job progress arrives through case_page.js's "sightline:job" events (the case websocket).
//
// This module holds the panel's state and a query's life (posted, searching, results, history); the parts
// are components: search_query.js (photo intake, picker, added photos, a frame of the player),
// search_results.js (summary, list, verdicts, threshold), search_timeline.js, search_player.js (playing a
// moment, N / P keys) and search_clips.js (evidence clips).

import { el } from "./dom.js";
import { postPayload } from "./http.js";
import { Clips } from "./search_clips.js";
import { onKey, play } from "./search_player.js";
import { addFrameSearch, bindPhotoIntake, renderPicker } from "./search_query.js";
import { formatWall, lowestScore, renderHit, renderSummary, visibleHits } from "./search_results.js";
import { renderTimelines } from "./search_timeline.js";

// The pure helpers, where the unit tests and other callers have always found them.
export { clipLine, clipState } from "./search_clips.js";
export { nextIndex } from "./search_player.js";
export { clickToVideoPixels, dragBox, imageFromTransfer, isImageFile } from "./search_query.js";
export { formatClock, formatWall, lowestScore, visibleHits } from "./search_results.js";
export { timelineMarks } from "./search_timeline.js";

const FINISHED = ["done", "failed", "cancelled"];

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
    this.clips = new Clips(this);
    this.bind();
    this.loadHistory();
  }

  bind() {
    bindPhotoIntake(this);
    document.addEventListener("sightline:job", (e) => this.onJob(e.detail));
    document.addEventListener("sightline:state", () => {
      if (this.pendingJob) this.checkPending();
      this.clips.check();
    });
    document.addEventListener("sightline:video", (e) => this.onVideo(e.detail));
    document.addEventListener("keydown", (e) => onKey(this, e));
  }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  // Posts that start a search (a photo, a chosen person, refine, run again, another photo) answer its job.
  async send(url, body, describe = (message) => message) {
    try {
      this.accept(await postPayload(url, body));
      return true;
    } catch (error) {
      this.say(describe(error.message), "error");
      return false;
    }
  }

  async start(file, point = null) {
    const form = new FormData();
    form.append("photo", file, file.name || "photo.jpg");
    if (point) form.append("point", point.join(","));
    this.say("Uploading the photo…");
    await this.send(this.queriesUrl, form);
  }

  choose(box) {
    return this.send(this.doc.query.urls.choose, new URLSearchParams({ box: box.join(",") }));
  }

  refine() {
    return this.send(this.doc.query.urls.refine);
  }

  rerun() {
    return this.send(this.doc.query.urls.rerun);
  }

  async addPhoto(file) {
    const form = new FormData();
    form.append("photo", file);
    if (await this.send(this.doc.query.urls.add_photo, form, (message) => `${file.name}: ${message}`)) {
      this.say("Searching with all photos of this person…", "info");
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
      this.clips.onJob(event);
      return;
    }
    if (event.kind !== "search" || event.job !== this.pendingJob) return;
    if (event.status === "running") this.say(`Searching… ${Math.round((event.progress ?? 0) * 100)}%`, "busy");
    if (FINISHED.includes(event.status)) this.loadResults(event.query);
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
    if (job && FINISHED.includes(job.status)) {
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
      this.body.append(this.canSearch ? renderPicker(this, q)
        : el("p", { className: "muted", id: "search-picker-wait" }, "An editor or the owner picks the person in this photo."));
      return;
    }
    if (!["results", "no_results"].includes(q.state)) return;
    this.body.append(renderSummary(this, doc));
    const hits = visibleHits(doc.hits, this.minScore);
    this.body.append(renderTimelines(doc, hits, (hit) => this.play(hit)));
    const list = el("ol", { className: "hits", id: "search-hits" });
    hits.forEach((hit) => list.append(renderHit(this, doc, hit)));
    this.body.append(list);
  }

  // The threshold, a verdict or a video's new label changed what the list shows: list and timelines again.
  renderListOnly() {
    const list = this.body.querySelector("#search-hits");
    const timelines = this.body.querySelector(".timelines");
    if (!list) return;
    const hits = visibleHits(this.doc.hits, this.minScore);
    list.replaceChildren(...hits.map((hit) => renderHit(this, this.doc, hit)));
    timelines.replaceWith(renderTimelines(this.doc, hits, (hit) => this.play(hit)));
  }

  play(hit) {
    play(this, hit);
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

function main() {
  const root = document.getElementById("search-panel");
  if (!root) return;
  const panel = new SearchPanel(root);
  window.sightline = { ...(window.sightline ?? {}), search: panel };
  if (window.sightline.player) addFrameSearch(panel, window.sightline.player);
}

if (typeof document !== "undefined") main();
