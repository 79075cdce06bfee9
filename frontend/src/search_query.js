// The search panel's query side: a photo comes in (dropped anywhere, pasted, chosen, or a frame of the
// player with a click on the person), more photos of the same person are added, and the person is picked
// when the photo shows several (or a box is drawn when it shows none). Each ends in a panel call
// (panel.start, panel.addPhoto, panel.choose) that posts it.

import { el } from "./dom.js";
import { fitRect } from "./overlay.js";

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

// The file input, and for those who may search: a photo dropped anywhere on the page or pasted.
export function bindPhotoIntake(panel) {
  const input = panel.root.querySelector("#search-file");
  if (input) input.addEventListener("change", () => input.files[0] && panel.start(input.files[0]));
  if (!panel.canSearch) return;
  document.addEventListener("dragover", (e) => {
    if ([...(e.dataTransfer?.items ?? [])].some((i) => i.kind === "file" && /^image\//.test(i.type))) {
      e.preventDefault();
      panel.root.classList.add("drop-ready");
    }
  });
  document.addEventListener("dragleave", () => panel.root.classList.remove("drop-ready"));
  document.addEventListener("drop", (e) => {
    panel.root.classList.remove("drop-ready");
    const file = imageFromTransfer(e.dataTransfer?.files);
    if (!file) return; // videos are the footage panel's
    e.preventDefault();
    e.stopPropagation();
    panel.start(file);
  }, true);
  document.addEventListener("paste", (e) => {
    const file = imageFromTransfer(e.clipboardData?.items);
    if (file) {
      e.preventDefault();
      panel.start(file);
    }
  });
}

// Front and back, or another camera: more photos of the same person make one better query.
export function addPhotoControls(panel) {
  const more = el("input", { type: "file", id: "search-more-file", accept: "image/*", hidden: true });
  more.addEventListener("change", () => {
    if (more.files?.length) panel.addPhoto(more.files[0]);
  });
  return [
    el("label", { className: "button", htmlFor: "search-more-file", id: "search-add-photo",
      title: "Another photo of the same person (front and back, another camera): all are searched as one" },
    "Add a photo of the same person"),
    more,
  ];
}

// The query photos shown above the results: the first and any added.
export function queryPhotos(q) {
  const photos = el("div", { className: "query-photos", id: "search-photos" },
    el("img", { className: "query-photo", src: q.photo_url, alt: "The query photo" }));
  (q.more_photo_urls || []).forEach((url, n) => {
    photos.append(el("img", { className: "query-photo more", src: url, alt: `Photo ${n + 2} of the same person` }));
  });
  return photos;
}

// Picking the person: a button per detected person, or press, drag and release to draw a box.
export function renderPicker(panel, q) {
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
    const node = el("button", { type: "button", className: "candidate", title: `Person ${n + 1}`, dataset: { n: String(n) }, onclick: () => panel.choose(c.box) });
    boxes.push([node, c.box]);
    stage.append(node);
  });
  img.addEventListener("load", place);
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
    if (box[2] >= 8 && box[3] >= 16) panel.choose(box);
  });
  wrap.append(stage, el("p", { className: "muted" }, q.candidates.length ? "Click a person, or drag a box around another." : "Drag a box around the person on the photo."));
  return wrap;
}

// "Find this person": pause, click a person in the frame; the frame goes up as the photo with the point.
export function addFrameSearch(panel, player) {
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
