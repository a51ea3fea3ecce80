// Studies: a dropped folder, a ZIP or several DICOM files go to `POST /api/studies` once; each
// series becomes an entry whose renders, measurements and questions refer to the server's cache
// (`api/studies/{study}/series/{series}/...`) and never send the files again.

import { request, headers, windowField, LabError } from "./api.js";
import { t } from "./i18n.js";
import { frameOrderOf, storedFrame } from "./files.js";

let nextSeries = 1;

/** The most slices Google's CT recipe shows (VolumeRecipe.defaultSliceCount). */
export const RECIPE_SLICES = 85;

/** Whether a file is a ZIP (by its first bytes, else its name). */
export async function isZip(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6)) return true;
  return /\.zip$/i.test(file.name || "");
}

/**
 * The files of a drop, folders walked (Chrome puts a dropped folder into `files` as one empty
 * entry, so its contents come from `webkitGetAsEntry`). `fromFolder` says whether a folder was
 * among them. The entries must be taken before the first await: the DataTransfer empties after.
 */
export async function filesFromDrop(dataTransfer) {
  const items = Array.from(dataTransfer.items || []).filter((i) => i.kind === "file");
  const entries = items.map((i) => (typeof i.webkitGetAsEntry === "function" ? i.webkitGetAsEntry() : null));
  const plain = Array.from(dataTransfer.files || []);
  if (!entries.some((e) => e && e.isDirectory)) return { files: plain, fromFolder: false };
  const files = [];
  const walk = async (entry, path) => {
    if (!entry) return;
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      files.push(new File([file], `${path}${file.name}`, { type: file.type, lastModified: file.lastModified }));
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, `${path}${entry.name}/`);
    }
  };
  for (const entry of entries) await walk(entry, "");
  return { files, fromFolder: true };
}

/** `POST /api/studies`: the files in one multipart body (a ZIP is unpacked by the server). */
export async function uploadStudy(files, signal) {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.webkitRelativePath || file.name);
  const response = await request("api/studies", { method: "POST", headers: headers(), body: form, signal });
  return response.json();
}

/** One entry per series, in the server's order, with what the viewer and the question need. */
export function seriesEntries(listing) {
  return (listing.series || []).map((s, index) => {
    const slices = Math.max(1, s.slices || 1);
    const frames = Math.max(1, s.frames || 1);
    const description = s.description || "";
    return {
      id: `series-${nextSeries++}`,
      file: null,
      name: description || t("seriesName", { n: index + 1 }),
      format: s.format || "dicom",
      rendered: s.format !== "png" && s.format !== "jpeg",
      study: { id: listing.study_id, series: s.series_id, summary: s },
      image: null,
      width: s.columns || 0,
      height: s.rows || 0,
      thumb: "",
      metadata: {
        modality: s.modality || "", description, slices, frames, rows: s.rows, columns: s.columns,
        pixel_spacing_mm: s.pixel_spacing_mm || undefined, localizer: s.is_localizer ? "yes" : undefined,
      },
      window: { preset: "default", center: NaN, width: NaN },
      defaultWindow: null,
      frames,
      frame: 0,
      // Stored frame numbers in slice order (an enhanced file's positions): the viewer's frame k
      // is the server's frame frameOrder[k]; without it, the stored order is the slice order.
      frameOrder: frameOrderOf(s.frame_order, frames),
      slices,
      slice: 0,
      invert: false,
      measures: [],
      error: "",
    };
  });
}

function seriesPath(entry) {
  return `api/studies/${encodeURIComponent(entry.study.id)}/series/${encodeURIComponent(entry.study.series)}`;
}

/** The render route's URL for the entry's slice, frame, window and inversion (or `over` those). */
export function renderURL(entry, over = {}) {
  const slice = over.slice ?? entry.slice;
  const params = new URLSearchParams({ slice: String(slice) });
  if (entry.frames > 1) params.set("frame", String(storedFrame(entry, over.frame ?? entry.frame)));
  const win = windowField(over.window ?? entry.window);
  if (typeof win === "string") params.set("window", win);
  else if (win) params.set("window", `${Math.round(win.center)},${Math.round(win.width)}`);
  if (over.invert ?? entry.invert) params.set("invert", "1");
  return `${seriesPath(entry)}/render?${params}`;
}

/** A PNG of the series from the study cache. */
export async function renderBlob(entry, over = {}) {
  try {
    const response = await request(renderURL(entry, over), { headers: headers({ Accept: "image/png" }) });
    return await response.blob();
  } catch (e) {
    throw studyError(e);
  }
}

/** `…/stats` over a rectangle or an ellipse (original pixels, integer corners). */
export async function regionStats(entry, box, shape) {
  const params = new URLSearchParams({ slice: String(entry.slice), roi: box.join(",") });
  if (entry.frames > 1) params.set("frame", String(storedFrame(entry)));
  if (shape === "ellipse") params.set("shape", "ellipse");
  try {
    return await (await request(`${seriesPath(entry)}/stats?${params}`, { headers: headers() })).json();
  } catch (e) {
    throw studyError(e);
  }
}

/** `…/line`: the length (mm when the series has a pixel spacing) and the profile. */
export async function lineProfile(entry, from, to) {
  const params = new URLSearchParams({ slice: String(entry.slice), from: from.join(","), to: to.join(",") });
  if (entry.frames > 1) params.set("frame", String(storedFrame(entry)));
  try {
    return await (await request(`${seriesPath(entry)}/line?${params}`, { headers: headers() })).json();
  } catch (e) {
    throw studyError(e);
  }
}

/** A study the server no longer holds (404) says to upload it again, with the server's words. */
function studyError(e) {
  if (e instanceof LabError && e.status === 404) return new LabError(404, e.code, t("errStudyGone", { message: e.message }));
  return e;
}

/** 0-based slices the CT recipe shows out of `count` (VolumeRecipe.sampleIndices). */
export function recipeSlices(count, maximum = RECIPE_SLICES) {
  if (count <= 0 || maximum <= 0) return [];
  if (count <= maximum) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: maximum }, (_, k) => Math.round(((k + 1) / maximum) * (count - 1)));
}

/**
 * Slice numbers typed by the user ("1-3, 7"; 1-based, as the overlay counts) as 0-based
 * indices, in the order given; `null` with a reason when the text is not that.
 */
export function parseSliceList(text, count) {
  const out = [];
  for (const part of String(text || "").split(/[,，\s]+/).filter(Boolean)) {
    const m = part.match(/^(\d+)(?:[-–~](\d+))?$/);
    if (!m) return { error: t("errSliceList", { part }) };
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let k = a; a <= b ? k <= b : k >= b; k += a <= b ? 1 : -1) {
      if (k < 1 || k > count) return { error: t("errSliceRange", { k, n: count }) };
      out.push(k - 1);
    }
  }
  if (!out.length) return { error: t("errSliceEmpty") };
  return { slices: out };
}

/** Numbers as short ranges: [0,1,2,5] → "1–3, 6" (1-based). */
export function sliceRanges(indices) {
  const parts = [];
  let i = 0;
  while (i < indices.length) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j += 1;
    parts.push(j > i ? `${indices[i] + 1}–${indices[j] + 1}` : `${indices[i] + 1}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/** The `study` reference of `/api/predict` for the entry and the chosen scope. */
export function studyReference(entry, scope, slices) {
  const reference = { id: entry.study.id, series: entry.study.series };
  if (scope === "volume") reference.volume = true;
  else reference.slices = scope === "slices" ? slices : [entry.slice];
  if (entry.frames > 1 && scope !== "volume") reference.frame = storedFrame(entry);
  const win = windowField(entry.window);
  if (win !== undefined) reference.window = win;
  return reference;
}
