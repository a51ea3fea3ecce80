// The page's side of a study: which dropped files form one, the upload and its series list
// (thumbnails from the study cache, modality, slices, description, scouts marked), the corner
// overlay, the "ask about" choices of a series with the slices the model will see, and the
// viewer actions the keys call.

import { LabError } from "./api.js";
import { sniffFormat, decodeBlob, thumbnail } from "./files.js";
import { initHotkeys, cineRunning } from "./hotkeys.js";
import { t, onLanguageChange } from "./i18n.js";
import { errorText, renderThumbs, select, rerender, setPreset, step } from "./images.js";
import { showMeasures } from "./measure.js";
import { $, state, activeEntry, showError, el } from "./state.js";
import { isZip, uploadStudy, seriesEntries, renderBlob, recipeSlices, parseSliceList, sliceRanges, RECIPE_SLICES } from "./study.js";

/** Splits dropped or picked files: a folder's, any ZIP and two or more DICOM files go to a study. */
export async function studyFiles(files, fromFolder) {
  if (fromFolder) return { study: files, rest: [] };
  const zips = [];
  const dicoms = [];
  const rest = [];
  for (const file of files) {
    if (await isZip(file)) zips.push(file);
    else if ((await sniffFormat(file)) === "dicom") dicoms.push(file);
    else rest.push(file);
  }
  // One DICOM file alone stays a file of its own (previewed and asked about as before).
  if (dicoms.length >= 2) return { study: [...zips, ...dicoms], rest };
  return { study: zips, rest: [...dicoms, ...rest] };
}

/** The files the last upload left out, and why (the server's reasons). */
let skipped = [];

function showSkipped() {
  const note = $("study-note");
  note.hidden = !skipped.length;
  note.textContent = skipped.length
    ? t("studySkipped", {
      n: skipped.length,
      list: skipped.slice(0, 5).map((s) => `${s.name} (${s.reason})`).join("; ") + (skipped.length > 5 ? "; …" : ""),
    })
    : "";
}

const megabytes = (n) => (n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0);

/** Uploads the files once and lists their series; `errors` are the other files' messages, kept on screen. */
export async function addStudy(files, errors = []) {
  const busy = $("study-busy");
  const bytes = files.reduce((sum, f) => sum + (f.size || 0), 0);
  $("study-busy-text").textContent = t("studyUploading", { n: files.length, mb: megabytes(bytes) });
  busy.hidden = false;
  $("study-note").hidden = true;
  let listing;
  try {
    listing = await uploadStudy(files);
  } catch (e) {
    busy.hidden = true;
    // 413 and a lost connection read as elsewhere on the page; anything else is the server's reason.
    const name = files.length === 1 ? files[0].name : t("studyFiles", { n: files.length });
    const message = e instanceof LabError && e.status !== 413 && e.status !== 0
      ? t("errStudy", { message: e.message }) : errorText(e, name);
    showError([...errors, message].join("\n"));
    return;
  }
  $("study-busy-text").textContent = t("studyRendering");
  const entries = seriesEntries(listing);
  const failed = [];
  await Promise.all(entries.map(async (entry) => {
    try {
      const middle = Math.floor(entry.slices / 2);
      const [view, thumb] = await Promise.all([
        renderBlob(entry).then(decodeBlob),
        middle ? renderBlob(entry, { slice: middle }).then(decodeBlob) : null,
      ]);
      entry.image = view;
      entry.thumb = thumbnail(thumb || view);
    } catch (e) {
      failed.push(`${entry.name}: ${errorText(e)}`);
    }
  }));
  busy.hidden = true;
  const shown = entries.filter((e) => e.image);
  // The same files again are the same series (its id derives from them): listed once, the newest.
  const ids = new Set(shown.map((e) => e.study.series));
  state.entries = state.entries.filter((e) => !(e.study && ids.has(e.study.series)));
  state.entries.push(...shown);
  skipped = listing.skipped || [];
  showSkipped();
  renderThumbs();
  const first = shown.find((e) => !e.study.summary.is_localizer) || shown[0];
  if (first) select(first.id);
  if (failed.length || errors.length) showError([...errors, ...failed].join("\n"));
}

/** The series' extra facts in its thumbnail: modality, slices, description, a scout badge. */
export function studyThumbLabel(entry, li, kind) {
  const s = entry.study.summary;
  li.classList.add("thumb-series");
  li.dataset.series = s.series_id;
  li.dataset.slices = String(entry.slices);
  if (s.is_localizer) li.dataset.localizer = "1";
  const depth = entry.slices > 1 ? t("seriesSlices", { n: entry.slices }) : entry.frames > 1 ? t("seriesFrames", { n: entry.frames }) : t("seriesOne");
  kind.textContent = `${s.modality || entry.format.toUpperCase()} · ${depth}`;
  if (s.is_localizer) {
    const badge = el("span", "thumb-scout", t("scout"));
    badge.title = t("scoutTitle");
    kind.after(badge);
  }
}

/** The corner overlay: modality, slice k/n, window C/W, zoom (never an identifier: the server sends none). */
export function updateOverlay(entry = activeEntry()) {
  const overlay = $("overlay");
  const show = Boolean(entry && entry.image) && $("viewer").dataset.view !== "model";
  overlay.hidden = !show;
  if (!show) return;
  const s = entry.study && entry.study.summary;
  const modality = (s && s.modality) || entry.metadata.modality || entry.format.toUpperCase();
  const description = s && s.description ? ` · ${s.description}` : "";
  $("ov-modality").textContent = `${modality}${description}`;
  const depth = Math.max(entry.slices, entry.frames);
  const k = (entry.slices > 1 ? entry.slice : entry.frame) + 1;
  $("ov-slice").textContent = depth > 1 ? t(entry.slices > 1 ? "ovSlice" : "ovFrame", { k, n: depth }) + (cineRunning() ? " ▶" : "") : "";
  const w = entry.window;
  const invert = entry.invert || (!entry.study && state.viewer.invert);
  let win = "";
  if (entry.rendered) {
    win = Number.isFinite(w.center) && Number.isFinite(w.width) && w.preset !== "default"
      ? t("ovWindow", { c: Math.round(w.center), w: Math.round(w.width) }) : t("ovWindowDefault");
  }
  if (invert) win += `${win ? " · " : ""}${t("ovInverted")}`;
  $("ov-window").textContent = win;
  const v = state.viewer;
  const turns = v.rotation ? ` · ${v.rotation * 90}°` : "";
  const flips = `${v.flipH ? ` · ${t("ovFlipH")}` : ""}${v.flipV ? ` · ${t("ovFlipV")}` : ""}`;
  $("ov-zoom").textContent = `${t("ovZoom", { pct: v.zoomPercent })}${turns}${flips}`;
}

/** Scope choices and tools for the active entry; a series asks by reference. */
export function updateStudyControls(entry) {
  const isStudy = Boolean(entry && entry.study);
  for (const b of document.querySelectorAll("button.needs-study")) b.disabled = !isStudy;
  state.viewer.setMeasureEnabled(isStudy);
  // Model view re-sends the file to /api/render; a series is asked about by reference instead.
  const modelView = $("model-view");
  if (isStudy && modelView.getAttribute("aria-pressed") === "true") modelView.click();
  modelView.disabled = isStudy;
  $("scope-slices-label").hidden = !isStudy;
  if (isStudy) {
    const series = entry.slices > 1 && !entry.study.summary.is_localizer;
    $("scope").hidden = !(entry.slices > 1);
    $("scope-all-label").hidden = true;
    $("scope-volume-label").hidden = !series;
    const scope = document.querySelector('input[name="scope"]:checked');
    if (scope && (scope.value === "all" || (scope.value === "volume" && !series))) {
      document.querySelector('input[name="scope"][value="current"]').checked = true;
    }
  } else if ($("scope-slices").checked) {
    document.querySelector('input[name="scope"][value="current"]').checked = true;
  }
  showScopePreview(entry);
  updateOverlay(entry);
  showMeasures(entry);
}

/** Says which slices of the series the model will see for the chosen scope. */
export function showScopePreview(entry = activeEntry()) {
  const out = $("scope-preview");
  const scope = document.querySelector('input[name="scope"]:checked')?.value || "current";
  if (!entry || !entry.study || $("scope").hidden) { out.hidden = true; out.textContent = ""; return; }
  out.hidden = false;
  out.classList.remove("bad");
  if (scope === "volume") {
    const chosen = recipeSlices(entry.slices);
    out.dataset.slices = chosen.join(",");
    out.textContent = t("scopeSeesVolume", { shown: chosen.length, total: entry.slices, max: RECIPE_SLICES, list: sliceRanges(chosen) });
  } else if (scope === "slices") {
    const parsed = parseSliceList($("scope-slices-input").value, entry.slices);
    out.dataset.slices = parsed.slices ? parsed.slices.join(",") : "";
    out.textContent = parsed.error || t("scopeSeesSlices", { n: parsed.slices.length, list: parsed.slices.map((k) => k + 1).join(", ") });
    if (parsed.error) out.classList.add("bad");
  } else {
    out.dataset.slices = String(entry.slice);
    out.textContent = t("scopeSeesOne", { k: entry.slice + 1, n: entry.slices });
  }
}

/** The slices the "several slices" choice names (0-based), or an Error with the reason. */
export function chosenSlices(entry) {
  const parsed = parseSliceList($("scope-slices-input").value, entry.slices);
  if (parsed.error) throw new Error(parsed.error);
  return parsed.slices;
}

/** What the keys do to the viewer and the active entry. */
const viewerActions = {
  hasImage: () => Boolean(activeEntry() && state.viewer.image),
  hasSlices: () => !$("slice-box").hidden,
  stepSlice: (delta, wrap = false) => step(delta, wrap),
  toSlice: (k) => {
    const slider = $("slice");
    if ($("slice-box").hidden) return;
    slider.value = String(Math.min(Number(slider.max), Math.max(0, k)));
    slider.dispatchEvent(new Event("input"));
  },
  invert: () => {
    const entry = activeEntry();
    entry.invert = !entry.invert;
    if (entry.study) rerender(entry);
    else state.viewer.setInvert(entry.invert);
    updateOverlay(entry);
  },
  rotate: (turns) => state.viewer.rotate(turns),
  flip: (horizontal) => state.viewer.flip(horizontal),
  reset: () => {
    const entry = activeEntry();
    const wasInverted = entry.invert;
    entry.invert = false;
    state.viewer.resetView();
    if (entry.rendered && entry.window.preset !== "default") setPreset("default");
    else if (wasInverted && entry.study) rerender(entry);
    updateOverlay(entry);
  },
  preset: (name) => { if (activeEntry().rendered) setPreset(name); },
  zoom: (factor) => state.viewer.zoomBy(factor),
  fit: () => state.viewer.fit(),
  onCine: () => updateOverlay(),
};

export function initStudyUI() {
  for (const input of document.querySelectorAll('input[name="scope"]')) {
    input.addEventListener("change", () => {
      const entry = activeEntry();
      if (input.value === "slices" && entry && !$("scope-slices-input").value.trim()) $("scope-slices-input").value = String(entry.slice + 1);
      showScopePreview();
    });
  }
  $("scope-slices-input").addEventListener("input", () => {
    $("scope-slices").checked = true;
    showScopePreview();
  });
  // Typing a slice list chooses "several slices".
  $("scope-slices-input").addEventListener("focus", () => { $("scope-slices").checked = true; showScopePreview(); });
  initHotkeys(viewerActions);
  onLanguageChange(() => { showScopePreview(); updateOverlay(); showSkipped(); });
}
