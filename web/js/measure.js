// Measurements on a study's series: length (the `line` route: mm from the Pixel Spacing, else
// px), rectangle and ellipse ROIs (the `stats` route: mean, SD, area in modality units — HU for
// CT) and a probe (a one-pixel ROI). Values come from the server's cache, never from the PNG.

import { errorText } from "./images.js";
import { t, onLanguageChange } from "./i18n.js";
import { $, state, activeEntry, el } from "./state.js";
import { regionStats, lineProfile } from "./study.js";

let nextMeasure = 1;

const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const unitText = (unit) => (unit === "HU" ? "HU" : t("unitValue"));

/** The label drawn beside a measurement and listed under the viewer. */
function label(m) {
  if (m.error) return t("measureFailed");
  const r = m.result;
  if (!r) return "…";
  if (m.kind === "length") {
    return Number.isFinite(r.length_mm) ? `${fmt(r.length_mm)} mm` : `${fmt(r.length_px)} px`;
  }
  if (m.kind === "probe") return `${fmt(r.mean)} ${unitText(r.unit)}`;
  const area = Number.isFinite(r.area_mm2) ? `${fmt(r.area_mm2)} mm²` : `${r.pixels} px`;
  return t("roiLabel", { mean: fmt(r.mean), sd: fmt(r.std), unit: unitText(r.unit), area });
}

/** The list's longer line: what was measured, where, and the numbers. */
function description(m) {
  const where = m.kind === "probe" ? `(${m.x0}, ${m.y0})` : `(${m.x0}, ${m.y0}) → (${m.x1}, ${m.y1})`;
  const head = `${t(`measure_${m.kind}`)} · ${t("measureSlice", { k: m.slice + 1 })} · ${where}`;
  if (m.error) return `${head}: ${m.error}`;
  const r = m.result;
  if (!r) return `${head}: …`;
  if (m.kind === "length") {
    const px = t("lengthPx", { px: fmt(r.length_px) });
    return Number.isFinite(r.length_mm) ? `${head}: ${fmt(r.length_mm, 2)} mm (${px})` : `${head}: ${px} — ${t("noSpacing")}`;
  }
  if (m.kind === "probe") return `${head}: ${fmt(r.mean, 1)} ${unitText(r.unit)}`;
  const area = Number.isFinite(r.area_mm2) ? `${fmt(r.area_mm2, 2)} mm²` : t("noSpacing");
  return `${head}: ${t("roiLong", { mean: fmt(r.mean, 2), sd: fmt(r.std, 2), min: fmt(r.min, 0), max: fmt(r.max, 0),
    unit: unitText(r.unit), pixels: r.pixels, area })}`;
}

/** Shows the active entry's measurements: those of the slice on screen on the canvas, all in the list. */
export function showMeasures(entry = activeEntry()) {
  const box = $("measures");
  const list = $("measure-list");
  const all = entry && entry.study ? entry.measures || [] : [];
  box.hidden = !all.length;
  list.replaceChildren();
  for (const m of all) {
    const li = el("li", `measure measure-${m.kind}${m.error ? " failed" : ""}`);
    li.dataset.kind = m.kind;
    li.dataset.id = String(m.id);
    const text = el("span", "measure-text", description(m));
    if (m.result) {
      for (const key of ["mean", "std", "length_mm", "length_px", "area_mm2", "pixels"]) {
        if (Number.isFinite(m.result[key])) li.dataset[key.replace(/_(\w)/g, (_, c) => c.toUpperCase())] = String(m.result[key]);
      }
    }
    const remove = el("button", "measure-remove", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", t("measureRemove"));
    remove.addEventListener("click", () => {
      entry.measures = entry.measures.filter((x) => x !== m);
      showMeasures(entry);
    });
    li.append(text, remove);
    list.append(li);
  }
  if (!entry) { state.viewer.setMeasures([]); return; }
  const here = all.filter((m) => m.slice === entry.slice && m.frame === entry.frame);
  state.viewer.setMeasures(here.map((m) => ({ ...m, label: label(m) })));
}

/** A finished drag (or click, for the probe) of a measuring tool, in original pixels. */
export async function measure(kind, a, b) {
  const entry = activeEntry();
  if (!entry || !entry.study) return;
  const w = entry.width;
  const h = entry.height;
  const clamp = (v, hi) => Math.min(hi, Math.max(0, Math.round(v)));
  const m = { id: nextMeasure++, kind, slice: entry.slice, frame: entry.frame, result: null, error: "" };
  if (kind === "probe") {
    // The pixel under the pointer: the one whose square holds the point.
    m.x0 = Math.min(w - 1, Math.max(0, Math.floor(a.x)));
    m.y0 = Math.min(h - 1, Math.max(0, Math.floor(a.y)));
  } else if (kind === "length") {
    Object.assign(m, { x0: clamp(a.x, w), y0: clamp(a.y, h), x1: clamp(b.x, w), y1: clamp(b.y, h) });
  } else {
    Object.assign(m, {
      x0: clamp(Math.min(a.x, b.x), w), y0: clamp(Math.min(a.y, b.y), h),
      x1: clamp(Math.max(a.x, b.x), w), y1: clamp(Math.max(a.y, b.y), h),
    });
    if (m.x1 - m.x0 < 1 || m.y1 - m.y0 < 1) return;
  }
  entry.measures = [...(entry.measures || []), m];
  showMeasures(entry);
  try {
    if (kind === "length") m.result = await lineProfile(entry, [m.x0, m.y0], [m.x1, m.y1]);
    else if (kind === "probe") m.result = await regionStats(entry, [m.x0, m.y0, m.x0 + 1, m.y0 + 1], "rectangle");
    else m.result = await regionStats(entry, [m.x0, m.y0, m.x1, m.y1], kind === "ellipse" ? "ellipse" : "rectangle");
  } catch (e) {
    m.error = errorText(e);
  }
  if (state.entries.includes(entry)) showMeasures(entry.id === state.activeId ? entry : activeEntry());
}

export function initMeasure() {
  $("measure-clear").addEventListener("click", () => {
    const entry = activeEntry();
    if (entry) entry.measures = [];
    showMeasures(entry);
  });
  onLanguageChange(() => showMeasures());
}
