// The search panel's per-video timelines: one bar per video of the case, a mark per shown moment; a mark
// plays its moment.

import { el } from "./dom.js";
import { formatClock } from "./search_results.js";

// Marks on a per-video timeline: left and width in percent of the video's duration.
export function timelineMarks(hits, duration) {
  if (!(duration > 0)) return [];
  return hits.map((h) => {
    const left = Math.min(100, Math.max(0, (h.start_s / duration) * 100));
    const right = Math.min(100, Math.max(left, (h.end_s / duration) * 100));
    return { hit: h.id, left, width: Math.max(0.4, right - left) };
  });
}

export function renderTimelines(doc, hits, play) {
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
        onclick: () => play(hit),
      });
      m.style.left = `${mark.left}%`;
      m.style.width = `${mark.width}%`;
      bar.append(m);
    }
    wrap.append(el("div", { className: "timeline-row" }, el("span", { className: "timeline-label" }, video.label), bar));
  }
  return wrap;
}
