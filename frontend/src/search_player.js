// The search panel's hookup to the footage player (window.sightline.player): a moment opens its video at
// its start, the track's box is drawn over the picture (overlay.js), and N / P step through the shown moments.

import { Overlay } from "./overlay.js";
import { visibleHits } from "./search_results.js";

export function nextIndex(current, count, step) {
  if (count === 0) return -1;
  if (current < 0) return step > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, current + step));
}

export function play(panel, hit) {
  const player = window.sightline?.player;
  const video = panel.doc.videos[String(hit.video)];
  if (!player || !video?.stream_url) {
    panel.say("This video cannot be played yet.", "error");
    return;
  }
  const hits = visibleHits(panel.doc.hits, panel.minScore);
  panel.selected = hits.findIndex((h) => h.id === hit.id);
  for (const node of panel.body.querySelectorAll("li.hit")) node.classList.toggle("selected", node.dataset.hit === String(hit.id));
  player.open({ ...video, name: video.name }, hit.start_s);
  if (!panel.overlay) panel.overlay = new Overlay(player.video);
  panel.overlay.setTrack(hit.boxes, `#${hit.rank}`);
  panel.root.dataset.playing = String(hit.id);
}

export function onKey(panel, e) {
  if (!panel.doc || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]")) return;
  const step = { n: 1, N: 1, p: -1, P: -1 }[e.key];
  if (!step) return;
  const hits = visibleHits(panel.doc.hits, panel.minScore);
  const i = nextIndex(panel.selected, hits.length, step);
  if (i >= 0) {
    e.preventDefault();
    play(panel, hits[i]);
  }
}
