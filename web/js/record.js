// An analysis reopened from the lab record, under the answer: the thumbnail of what the model saw
// with the answer's boxes on it, and the parameters, model (name, checksum), engine and error.

import { t, language, onLanguageChange } from "./i18n.js";
import { recordImage, sourceName, thumbnailURL } from "./history.js";
import { $ } from "./state.js";

const SVG = "http://www.w3.org/2000/svg";
let current = null;

/**
 * A box in the pixels of a thumbnail `w`×`h` of `image`. The thumbnail is either the picture
 * itself (original pixels scaled) or the padded square the model saw (box_2d as it is).
 */
export function boxRect(box, image, w, h) {
  const lb = image && image.letterbox;
  const b2 = Array.isArray(box.box_2d) && box.box_2d.length === 4 ? box.box_2d.map(Number) : null;
  const squareThumb = Math.abs(w - h) <= 1 && image && image.width !== image.height;
  const p = box.pixels;
  if (squareThumb && lb) {
    if (b2) return { x0: (b2[1] / 1000) * w, y0: (b2[0] / 1000) * h, x1: (b2[3] / 1000) * w, y1: (b2[2] / 1000) * h };
    if (!p) return null;
    const sx = (v) => ((v * lb.content_width) / image.width + lb.offset_x) / lb.side * w;
    const sy = (v) => ((v * lb.content_height) / image.height + lb.offset_y) / lb.side * h;
    return { x0: sx(p.x0), y0: sy(p.y0), x1: sx(p.x1), y1: sy(p.y1) };
  }
  if (p && image && image.width > 0 && image.height > 0 && [p.x0, p.y0, p.x1, p.y1].every(Number.isFinite)) {
    const sx = w / image.width;
    const sy = h / image.height;
    return { x0: p.x0 * sx, y0: p.y0 * sy, x1: p.x1 * sx, y1: p.y1 * sy };
  }
  if (!b2 || !image || !(image.width > 0 && image.height > 0)) return null;
  // 0–1000 of the padded square: take the padding off, as fractions of the picture.
  const side = lb ? lb.side : Math.max(image.width, image.height);
  const ox = lb ? lb.offset_x : (side - image.width) / 2;
  const oy = lb ? lb.offset_y : (side - image.height) / 2;
  const cw = lb ? lb.content_width : image.width;
  const ch = lb ? lb.content_height : image.height;
  const fx = (v) => (((v / 1000) * side - ox) / cw) * w;
  const fy = (v) => (((v / 1000) * side - oy) / ch) * h;
  return { x0: fx(b2[1]), y0: fy(b2[0]), x1: fx(b2[3]), y1: fy(b2[2]) };
}

function drawBoxes(svg, img, analysis) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  const images = analysis.images || [];
  const image = images[images.length - 1];
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  (analysis.boxes || []).forEach((box, i) => {
    const r = boxRect(box, image, w, h);
    if (!r || ![r.x0, r.y0, r.x1, r.y1].every(Number.isFinite)) return;
    const rect = document.createElementNS(SVG, "rect");
    for (const [k, v] of Object.entries({ x: Math.min(r.x0, r.x1), y: Math.min(r.y0, r.y1),
      width: Math.abs(r.x1 - r.x0), height: Math.abs(r.y1 - r.y0) })) rect.setAttribute(k, String(v));
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(Math.min(r.x0, r.x1) + 2));
    label.setAttribute("y", String(Math.min(r.y0, r.y1) + Math.max(9, w / 20)));
    label.setAttribute("font-size", String(Math.max(9, w / 20)));
    label.textContent = `${i + 1}${box.label ? ` ${box.label}` : ""}`;
    svg.append(rect, label);
  });
}

function number(v, digits = 0) {
  return Number.isFinite(Number(v)) && v !== null ? Number(v).toFixed(digits) : null;
}

function rows(a) {
  const p = a.params || {};
  const m = a.model || {};
  const e = a.engine || {};
  const params = [["max_new_tokens", p.max_new_tokens], ["temperature", p.temperature], ["top_p", p.top_p],
    ["seed", p.seed], ["stop", Array.isArray(p.stop) ? p.stop.join(" | ") : p.stop], ["ignore_eos", p.ignore_eos]]
    .filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => `${k} ${v}`).join(" · ");
  const sum = (s) => (s ? `${String(s).slice(0, 16)}…` : t("recComputing"));
  const images = (a.images || []).map((im) => [String(im.format || "").toUpperCase(), im.modality,
    im.width && im.height ? `${im.width}×${im.height}` : "", im.window && im.window !== "default" ? im.window : "",
    Number.isInteger(im.frame) ? `${t("frame")} ${im.frame + 1}` : "",
    Array.isArray(im.slices) ? t("recSlices", { n: im.slices.length }) : ""].filter(Boolean).join(" ")).join("; ");
  const tm = a.timings || {};
  const total = number(tm.total_ms / 1000, 2);
  const out = [
    ["recTime", `${new Date(a.created_at).toLocaleString(language() === "zh" ? "zh-CN" : "en-GB")} · ${sourceName(a.source)}`],
    ["recModel", [m.name || m.file, m.name && m.file && m.file !== m.name ? m.file : ""].filter(Boolean).join(" · ")],
    ["recChecksum", `${sum(m.sha256)}${m.projector_file || m.projector_sha256 ? ` · ${t("recProjector")} ${sum(m.projector_sha256)}` : ""}`],
    ["recEngine", [e.kind, e.backend, Array.isArray(e.urls) ? e.urls.join(", ") : ""].filter(Boolean).join(" · ")],
    ["recParams", params],
    ["recImages", images],
    ["recFinish", [a.finish_reason, total ? `${total} s` : ""].filter(Boolean).join(" · ")],
    ["recId", a.id],
  ];
  if (a.status === "error" || a.error) out.push(["recError", a.error ? `${a.error.code || ""}: ${a.error.message || ""}` : t("stateFailed")]);
  return out.filter(([, v]) => v);
}

function render() {
  const box = $("record-box");
  if (!current) { box.hidden = true; return; }
  const a = current;
  box.hidden = false;
  const fig = $("record-figure");
  const svg = $("record-boxes");
  const old = $("record-thumb");
  const img = document.createElement("img");
  img.id = "record-thumb";
  img.alt = t("recThumb");
  old.replaceWith(img);
  svg.replaceChildren();
  fig.hidden = !(Array.isArray(a.images) && a.images.length);
  if (!fig.hidden) {
    img.addEventListener("load", () => { if (current === a) drawBoxes(svg, img, a); });
    recordImage(img, thumbnailURL(a), () => { fig.hidden = true; });
  }
  const dl = $("record-info");
  dl.replaceChildren();
  for (const [key, value] of rows(a)) {
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.key = key;
    if (key === "recError") dd.className = "record-error";
    if (key === "recChecksum") dd.title = [a.model && a.model.sha256, a.model && a.model.projector_sha256].filter(Boolean).join("\n");
    dl.append(dt, dd);
  }
}

/** Shows `analysis` (from the record) under the answer; `null` hides it. */
export function showRecord(analysis) {
  current = analysis || null;
  render();
}

onLanguageChange(() => { if (current) render(); });
