// The case page's video player. It streams the rendition (HTTP Range: seeking fetches only what it needs)
// and exposes window.sightline.player.open(video, t) so other panels (search results) can seek to a moment.

export function clampTime(t, duration) {
  if (!Number.isFinite(t) || t < 0) return 0;
  if (Number.isFinite(duration) && duration > 0) return Math.min(t, Math.max(0, duration - 0.05));
  return t;
}

// "83.5", "1:23.5" or "0:01:23" -> seconds; NaN when it is not a time.
export function parseTime(text) {
  if (typeof text !== "string" || !/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(text.trim())) return NaN;
  return text
    .trim()
    .split(":")
    .reduce((total, part) => total * 60 + Number(part), 0);
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00.0";
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

// Skip by a step, kept within the video.
export function stepTime(current, step, duration) {
  return clampTime(current + step, duration);
}

export class Player {
  constructor(root) {
    this.root = root;
    this.video = root.querySelector("video");
    this.title = root.querySelector(".player-title");
    this.clock = root.querySelector(".player-time");
    this.current = null;
    this.video.addEventListener("timeupdate", () => this.showTime());
    this.video.addEventListener("seeked", () => this.showTime());
    const close = root.querySelector(".player-close");
    if (close) close.addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      const steps = { ArrowLeft: -5, ArrowRight: 5, ",": -0.1, ".": 0.1 };
      if (event.key in steps) {
        event.preventDefault();
        this.seek(stepTime(this.video.currentTime, steps[event.key], this.video.duration));
      }
    });
  }

  open(video, t = 0) {
    this.root.hidden = false;
    if (!this.current || this.current.id !== video.id) {
      this.current = video;
      this.video.poster = video.poster_url || "";
      this.video.src = video.stream_url;
      this.title.textContent = video.camera_label || video.name;
      this.root.dataset.video = String(video.id);
    }
    this.seek(t);
    this.root.scrollIntoView({ block: "nearest" });
  }

  seek(t) {
    const go = () => {
      this.video.currentTime = clampTime(t, this.video.duration);
    };
    if (this.video.readyState >= 1) go();
    else this.video.addEventListener("loadedmetadata", go, { once: true });
  }

  close() {
    this.video.pause();
    this.root.hidden = true;
  }

  showTime() {
    if (this.clock) this.clock.textContent = `${formatTime(this.video.currentTime)} / ${formatTime(this.video.duration)}`;
  }
}

function main() {
  const root = document.getElementById("player");
  if (!root) return;
  const player = new Player(root);
  window.sightline = { ...(window.sightline ?? {}), player };
  // A camera label changed on the footage panel: the open video's title follows.
  document.addEventListener("sightline:video", ({ detail }) => {
    if (player.current && detail && player.current.id === detail.id) {
      player.current = { ...player.current, ...detail };
      player.title.textContent = detail.camera_label || detail.name;
    }
  });
}

if (typeof document !== "undefined") main();
