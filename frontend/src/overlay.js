// The person's box drawn over the playing video, following the track frame by frame.
// Boxes come in the video's own pixels as [t, x, y, w, h] rows sorted by t; they are scaled to the size the
// <video> element shows the picture at (object-fit: contain leaves bars on two sides).

// Where the picture sits inside an element of elW x elH showing a videoW x videoH video (contain).
export function fitRect(videoW, videoH, elW, elH) {
  if (!(videoW > 0 && videoH > 0 && elW > 0 && elH > 0)) return null;
  const scale = Math.min(elW / videoW, elH / videoH);
  return { scale, x: (elW - videoW * scale) / 2, y: (elH - videoH * scale) / 2 };
}

export function toDisplay(box, fit) {
  const [x, y, w, h] = box;
  return [fit.x + x * fit.scale, fit.y + y * fit.scale, w * fit.scale, h * fit.scale];
}

// Index of the last row with t <= time (-1 when time is before the first row).
export function lastAtOrBefore(rows, time) {
  let lo = 0;
  let hi = rows.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid][0] <= time) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

// The box at a time: interpolated between the two surrounding rows when they are close (a short gap the
// tracker bridged), the nearest row within `tolerance` seconds at the ends, otherwise null (not in view).
export function boxAt(rows, time, { tolerance = 0.2, maxGap = 1.0 } = {}) {
  if (!rows || rows.length === 0 || !Number.isFinite(time)) return null;
  const i = lastAtOrBefore(rows, time);
  if (i === -1) return rows[0][0] - time <= tolerance ? rows[0].slice(1) : null;
  if (i === rows.length - 1) return time - rows[i][0] <= tolerance ? rows[i].slice(1) : null;
  const a = rows[i];
  const b = rows[i + 1];
  const gap = b[0] - a[0];
  if (gap <= 0) return a.slice(1);
  if (gap > maxGap) {
    if (time - a[0] <= tolerance) return a.slice(1);
    if (b[0] - time <= tolerance) return b.slice(1);
    return null;
  }
  const f = (time - a[0]) / gap;
  return [1, 2, 3, 4].map((k) => a[k] + (b[k] - a[k]) * f);
}

export class Overlay {
  constructor(video, doc = globalThis.document) {
    this.video = video;
    this.rows = null;
    this.label = "";
    this.drawn = null;
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "search-overlay";
    this.canvas.setAttribute("aria-hidden", "true");
    Object.assign(this.canvas.style, { position: "absolute", pointerEvents: "none", left: "0", top: "0" });
    const host = video.parentElement;
    if (getComputedStyle(host).position === "static") host.style.position = "relative";
    host.append(this.canvas);
    const redraw = () => this.draw();
    for (const name of ["seeked", "timeupdate", "loadedmetadata", "pause", "play"]) video.addEventListener(name, redraw);
    globalThis.addEventListener?.("resize", redraw);
    this.watchFrames();
  }

  // requestVideoFrameCallback runs once per presented frame: the box follows the person at the video's rate.
  watchFrames() {
    const video = this.video;
    if (typeof video.requestVideoFrameCallback === "function") {
      const onFrame = (_now, meta) => {
        this.draw(meta?.mediaTime);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    } else {
      const tick = () => {
        if (!video.paused) this.draw();
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }
  }

  setTrack(rows, label = "") {
    this.rows = rows;
    this.label = label;
    this.draw();
  }

  clear() {
    this.rows = null;
    this.draw();
  }

  draw(mediaTime) {
    const { video, canvas } = this;
    const w = video.clientWidth;
    const h = video.clientHeight;
    const ratio = globalThis.devicePixelRatio || 1;
    canvas.style.left = `${video.offsetLeft}px`;
    canvas.style.top = `${video.offsetTop}px`;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const time = Number.isFinite(mediaTime) ? mediaTime : video.currentTime;
    const box = this.rows ? boxAt(this.rows, time) : null;
    const fit = fitRect(video.videoWidth, video.videoHeight, w, h);
    if (!box || !fit) {
      this.drawn = null;
      delete canvas.dataset.box;
      return;
    }
    const [x, y, bw, bh] = toDisplay(box, fit);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#facc15";
    ctx.strokeRect(x, y, bw, bh);
    if (this.label) {
      ctx.font = "bold 13px system-ui, sans-serif";
      const tw = ctx.measureText(this.label).width + 8;
      ctx.fillStyle = "#facc15";
      ctx.fillRect(x, Math.max(0, y - 18), tw, 18);
      ctx.fillStyle = "#111";
      ctx.fillText(this.label, x + 4, Math.max(13, y - 5));
    }
    this.drawn = [x, y, bw, bh];
    // What is drawn, readable by tests and assistive tooling (the canvas itself is opaque to the DOM).
    canvas.dataset.box = this.drawn.map((v) => v.toFixed(1)).join(",");
  }
}
