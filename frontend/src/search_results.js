// The search panel's results: the summary (query photos, model pack, the live threshold, refine, re-run,
// add a photo, exports), the ranked list of moments, and verdicts on them.

import { el } from "./dom.js";
import { postPayload } from "./http.js";
import { addPhotoControls, queryPhotos } from "./search_query.js";

export function visibleHits(hits, minScore, { hideRejected = true } = {}) {
  return hits.filter((h) => h.score >= minScore && !(hideRejected && h.verdict === "rejected"));
}

export function lowestScore(hits) {
  return hits.length ? Math.floor(Math.min(...hits.map((h) => h.score)) * 100) / 100 : 0;
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

export function renderSummary(panel, doc) {
  const q = doc.query;
  const wrap = el("div", { className: "search-summary" });
  wrap.append(queryPhotos(q));
  const side = el("div", { className: "summary-side" });
  if (doc.models.label) {
    side.append(el("p", { className: doc.models.appearance_only ? "pack appearance-only" : "pack", id: "search-pack" }, doc.models.label));
  }
  const slider = el("input", { type: "range", id: "search-threshold", min: "0", max: "1", step: "0.01", value: String(panel.minScore) });
  const value = el("output", { id: "search-threshold-value" }, panel.minScore.toFixed(2));
  slider.addEventListener("input", () => {
    panel.minScore = Number(slider.value);
    value.textContent = panel.minScore.toFixed(2);
    panel.renderListOnly();
  });
  side.append(el("label", { className: "threshold" }, "Show moments with similarity at least ", slider, " ", value));
  const counts = { confirmed: q.confirmed.length, rejected: q.rejected.length };
  for (const h of doc.hits) if (h.verdict) counts[h.verdict] += 1;
  const actions = el("div", { className: "search-actions" });
  if (panel.canSearch) {
    actions.append(
      el("button", { type: "button", id: "search-refine", disabled: !(counts.confirmed || counts.rejected), onclick: () => panel.refine() },
        "Refine with my feedback"),
      el("button", { type: "button", id: "search-rerun", onclick: () => panel.rerun() }, "Run again"),
      ...addPhotoControls(panel),
    );
  }
  if (panel.canExport) {
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

export function renderHit(panel, doc, hit) {
  const video = doc.videos[String(hit.video)];
  const wall = hit.start_wall ? ` · ${formatWall(hit.start_wall)}` : "";
  const item = el("li", { className: `hit band-${hit.band}`, dataset: { hit: String(hit.id), verdict: hit.verdict || "" } });
  const open = el("button", { type: "button", className: "hit-open", onclick: () => panel.play(hit) },
    hit.thumb_url ? el("img", { src: hit.thumb_url, alt: `Best view of moment ${hit.rank}`, loading: "lazy" }) : null,
    el("span", { className: "hit-text" },
      el("strong", {}, `#${hit.rank} `), `${video.label} · ${formatClock(hit.start_s)} – ${formatClock(hit.end_s)}${wall}`,
      el("br"),
      el("span", { className: "words" }, hit.words), ` (${hit.score.toFixed(3)}) · ${hit.frames} frames`,
    ),
  );
  item.append(open);
  const tools = el("span", { className: "hit-tools" });
  if (panel.canReview) {
    tools.append(
      el("button", { type: "button", className: "confirm", "aria-pressed": String(hit.verdict === "confirmed"), onclick: () => verdict(panel, hit, hit.verdict === "confirmed" ? "" : "confirmed") }, "✓ Same person"),
      el("button", { type: "button", className: "reject", onclick: () => verdict(panel, hit, "rejected") }, "✗ Not them"),
    );
  }
  item.append(tools);
  if (panel.canExport) item.append(panel.clips.render(hit));
  return item;
}

export async function verdict(panel, hit, value) {
  try {
    const data = await postPayload(hit.verdict_url, new URLSearchParams({ verdict: value }));
    Object.assign(hit, { verdict: data.hit.verdict });
    panel.renderListOnly();
    const refine = panel.body.querySelector("#search-refine");
    if (refine) refine.disabled = !panel.doc.hits.some((h) => h.verdict);
    panel.say(value === "rejected" ? "Left out. Refine to search again without it." : "Noted.", "info");
  } catch (error) {
    panel.say(error.message, "error");
  }
}
