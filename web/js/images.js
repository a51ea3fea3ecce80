// The left and middle columns: loading files, thumbnails, the preview, window/level, slices,
// metadata and the region mark. A study's series (studyui.js) are entries too, rendered from the
// server's study cache instead of from their files.

import { render, LabError } from "./api.js";
import { sniffFormat, makeEntry, decodeBlob, thumbnail, applyMetadata, metadataRows, storedFrame } from "./files.js";
import { t, onLanguageChange } from "./i18n.js";
import { initModelView, modelViewOn, showModelInput } from "./modelview.js";
import { $, state, activeEntry, showError, PRESETS } from "./state.js";
import { Viewer } from "./viewer.js";
import { renderBlob, filesFromDrop } from "./study.js";
import { studyFiles, addStudy, updateStudyControls, updateOverlay, studyThumbLabel } from "./studyui.js";
import { measure, showMeasures } from "./measure.js";
import { toggleCine } from "./hotkeys.js";

const listeners = { change: [] };
/** Called when the active image, its region or its boxes change. */
export function onImagesChange(fn) { listeners.change.push(fn); }
function changed() { for (const fn of listeners.change) fn(activeEntry()); }

export function errorText(e, name = "") {
  if (e instanceof LabError) {
    if (e.status === 0 && e.code === "network") return t("errNetwork", { message: e.message });
    if (e.inStream || e.status === 0) return t("errStream", { message: e.message });
    if (e.status === 429) return t("errBusy", { s: e.retryAfter || 5 });
    if (e.status === 413) return t("errTooBig", { name: name || "—", message: e.message });
    return name ? t("errRender", { name, message: e.message }) : t("errHttp", { status: e.status, message: e.message });
  }
  return name ? t("errRender", { name, message: String(e && e.message ? e.message : e) }) : String(e && e.message ? e.message : e);
}

// ---- loading ------------------------------------------------------------------------------
export async function addFiles(fileList, { fromFolder = false } = {}) {
  let files = Array.from(fileList || []);
  if (!files.length) return;
  showError("");
  // A folder, a ZIP or several DICOM files are a study: uploaded once, its series listed.
  const { study, rest } = await studyFiles(files, fromFolder);
  files = rest;
  const errors = [];
  let last = null;
  for (const file of files) {
    const format = await sniffFormat(file);
    if (!format) { errors.push(t("errUnsupported", { name: file.name })); continue; }
    const entry = makeEntry(file, format);
    try {
      if (entry.rendered) {
        state.entries.push(entry);
        renderThumbs();
        await renderEntry(entry);
      } else {
        const image = await decodeBlob(file).catch(() => { throw new Error("decode"); });
        entry.image = image;
        entry.width = image.naturalWidth || image.width;
        entry.height = image.naturalHeight || image.height;
        entry.metadata = { format: format.toUpperCase(), width: entry.width, height: entry.height };
        entry.thumb = thumbnail(image);
        state.entries.push(entry);
      }
      last = entry;
    } catch (e) {
      state.entries = state.entries.filter((x) => x !== entry);
      errors.push(e && e.message === "decode" ? t("errDecode", { name: file.name }) : errorText(e, file.name));
    }
  }
  renderThumbs();
  if (last) select(last.id);
  if (errors.length) showError(errors.join("\n"));
  if (study.length) await addStudy(study, errors);
}

/** Renders a DICOM/NIfTI entry through the server with its current window/frame/slice. */
async function renderEntry(entry) {
  if (entry.study) {
    // From the study cache: nothing is uploaded again; the size is the series' own.
    entry.image = await decodeBlob(await renderBlob(entry));
    return;
  }
  const frame = entry.frames > 1 ? storedFrame(entry) : undefined;
  const { blob, metadata } = await render(entry.file, {
    window: entry.window,
    frame,
    slice: entry.slices > 1 ? entry.slice : undefined,
  });
  const image = await decodeBlob(blob);
  applyMetadata(entry, metadata, image);
  // The first render of an enhanced file learns its slice order: frame 1 of the stack may be
  // another stored frame than the one just drawn.
  if (entry.frames > 1 && storedFrame(entry) !== (frame ?? 0)) return renderEntry(entry);
  entry.image = image;
  if (!entry.thumb) entry.thumb = thumbnail(image);
}

// A render loop: one request in flight per file, the latest settings win.
const pending = new Map();
export async function rerender(entry) {
  if (pending.has(entry.id)) { pending.get(entry.id).again = true; return; }
  const job = { again: false };
  pending.set(entry.id, job);
  const busy = setTimeout(() => { $("viewer-busy").hidden = false; }, 250);
  try {
    do {
      job.again = false;
      await renderEntry(entry);
      if (entry.id === state.activeId) {
        await display(entry, true);
        showMeta(entry);
      }
    } while (job.again);
    if (entry.id === state.activeId) updateOverlay(entry);
    showError("");
  } catch (e) {
    toggleCine(false);
    showError(errorText(e, entry.name));
  } finally {
    clearTimeout(busy);
    $("viewer-busy").hidden = true;
    pending.delete(entry.id);
  }
}

/** Puts `entry` in the viewer: its preview, or in model view the square the model receives. */
async function display(entry, keepView) {
  if (modelViewOn()) await showModelInput(entry, keepView);
  else state.viewer.setImage(entry.image, { width: entry.width, height: entry.height }, keepView);
}

/** `display` outside the render loop, with its own busy sign and error. */
function redisplay(entry = activeEntry(), keepView = false) {
  if (!entry) return;
  const busy = setTimeout(() => { $("viewer-busy").hidden = false; }, 250);
  display(entry, keepView)
    .then(() => showError(""), (e) => showError(errorText(e, entry.name)))
    .finally(() => { clearTimeout(busy); $("viewer-busy").hidden = true; });
}

// ---- thumbnails ---------------------------------------------------------------------------
export function renderThumbs() {
  const list = $("thumbs");
  list.replaceChildren();
  state.entries.forEach((entry, index) => {
    const li = document.createElement("li");
    li.className = "thumb";
    li.dataset.id = entry.id;
    if (entry.id === state.activeId) li.classList.add("active");
    const pick = document.createElement("button");
    pick.type = "button";
    pick.className = "thumb-pick";
    pick.setAttribute("aria-pressed", String(entry.id === state.activeId));
    if (entry.thumb) {
      const img = document.createElement("img");
      img.src = entry.thumb;
      img.alt = "";
      pick.append(img);
    } else {
      const ph = document.createElement("span");
      ph.className = "thumb-ph spinner";
      pick.append(ph);
    }
    const label = document.createElement("span");
    label.className = "thumb-label";
    const n = document.createElement("span");
    n.className = "thumb-index";
    n.textContent = String(index + 1);
    const name = document.createElement("span");
    name.className = "thumb-name";
    name.textContent = entry.name;
    const kind = document.createElement("span");
    kind.className = "thumb-kind";
    const depth = entry.slices > 1 ? ` · ${entry.slices}` : entry.frames > 1 ? ` · ${entry.frames}` : "";
    kind.textContent = `${entry.format.toUpperCase()}${depth}`;
    label.append(n, name, kind);
    if (entry.study) studyThumbLabel(entry, li, kind);
    pick.append(label);
    pick.addEventListener("click", () => select(entry.id));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "thumb-remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", t("removeImage", { name: entry.name }));
    remove.addEventListener("click", () => removeEntry(entry.id));
    li.append(pick, remove);
    list.append(li);
  });
  // A volume is one file with slices (NIfTI, multi-frame DICOM) or several files (a series).
  const active = state.entries.find((e) => e.id === state.activeId);
  const volume = state.entries.length >= 2 || Boolean(active && (active.slices > 1 || active.frames > 1));
  $("scope").hidden = state.entries.length < 2 && !volume;
  $("scope-volume-label").hidden = !volume;
  $("scope-all-label").hidden = state.entries.length < 2;
  if (!volume && $("scope-volume").checked) document.querySelector('input[name="scope"][value="current"]').checked = true;
  $("clear-images").hidden = state.entries.length === 0;
  updateStudyControls(active);
}

function removeEntry(id) {
  state.entries = state.entries.filter((e) => e.id !== id);
  if (state.activeId === id) {
    const next = state.entries[state.entries.length - 1];
    state.activeId = null;
    if (next) { select(next.id); return; }
    state.viewer.clear();
    showMeta(null);
    updateControls(null);
    changed();
  }
  renderThumbs();
}

export function clearImages() {
  state.entries = [];
  state.activeId = null;
  state.viewer.clear();
  renderThumbs();
  showMeta(null);
  updateControls(null);
  changed();
}

// ---- the active image ---------------------------------------------------------------------
export function select(id) {
  const entry = state.entries.find((e) => e.id === id);
  if (!entry || !entry.image) return;
  if (state.activeId !== id) {
    // Rotation, flips and cine belong to what was on screen.
    toggleCine(false);
    state.viewer.rotation = 0;
    state.viewer.flipH = false;
    state.viewer.flipV = false;
  }
  state.activeId = id;
  state.viewer.invert = Boolean(entry.invert && !entry.study);
  if (modelViewOn()) redisplay(entry);
  else state.viewer.setImage(entry.image, { width: entry.width, height: entry.height });
  state.viewer.setRegion(entry.region || null, false);
  state.viewer.setBoxes(entry.boxes || []);
  renderThumbs();
  showMeta(entry);
  updateControls(entry);
  changed();
}

function showMeta(entry) {
  const dl = $("meta");
  dl.replaceChildren();
  const rows = entry ? metadataRows(entry.metadata) : [];
  if (!rows.length) {
    const dd = document.createElement("dd");
    dd.textContent = t("metaNone");
    dl.append(dd);
    return;
  }
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

export function updateControls(entry) {
  const rendered = Boolean(entry && entry.rendered);
  $("window-bar").hidden = !rendered;
  for (const el of document.querySelectorAll("button.needs-window")) el.disabled = !rendered;
  state.viewer.setWindowEnabled(rendered);
  updateStudyControls(entry);
  $("viewer-empty").hidden = Boolean(entry);
  $("clear-mark").hidden = !(entry && entry.region);
  $("clear-boxes").hidden = !(entry && entry.boxes && entry.boxes.length);
  if (!entry) return;
  $("preset").value = entry.window.preset;
  updateReadout(entry);
  const depth = Math.max(entry.slices, entry.frames);
  $("slice-box").hidden = !(rendered && depth > 1);
  if (depth > 1) {
    const isSlices = entry.slices > 1;
    $("slice-label").textContent = t(isSlices ? "slice" : "frame");
    const slider = $("slice");
    slider.max = String(depth - 1);
    slider.value = String(isSlices ? entry.slice : entry.frame);
    $("slice-out").textContent = `${Number(slider.value) + 1} / ${depth}`;
  }
}

function updateReadout(entry) {
  const w = entry.window;
  $("wl-readout").textContent = Number.isFinite(w.center) && Number.isFinite(w.width)
    ? t("wlReadout", { c: Math.round(w.center), w: Math.round(w.width) }) : "";
  updateOverlay(entry);
}

export function setPreset(value) {
  const entry = activeEntry();
  if (!entry || !entry.rendered) return;
  entry.window.preset = value;
  if (PRESETS[value]) Object.assign(entry.window, PRESETS[value]);
  else if (value === "default" && entry.defaultWindow) Object.assign(entry.window, entry.defaultWindow);
  else if (value === "default") Object.assign(entry.window, { center: NaN, width: NaN });
  updateControls(entry);
  rerender(entry);
}

function onWindowDrag(dx, dy, phase) {
  const entry = activeEntry();
  if (!entry || !entry.rendered || phase !== "move") return;
  const w = entry.window;
  if (!Number.isFinite(w.center) || !Number.isFinite(w.width)) {
    // A study's series has no window read out of a render: start from soft tissue.
    Object.assign(w, entry.defaultWindow || (entry.study ? PRESETS.abdomen : PRESETS.mediastinum));
  }
  const k = Math.max(1, w.width / 200);
  w.width = Math.max(1, w.width + dx * k);
  w.center -= dy * k;
  w.preset = "custom";
  $("preset").value = "custom";
  updateReadout(entry);
  rerender(entry);
}

/** Steps through the slices (or frames); `wrap` goes round (cine). False when there is nothing to step. */
export function step(delta, wrap = false) {
  const slider = $("slice");
  if ($("slice-box").hidden) return false;
  const max = Number(slider.max);
  let v = Number(slider.value) + delta;
  v = wrap ? ((v % (max + 1)) + max + 1) % (max + 1) : Math.min(max, Math.max(0, v));
  if (String(v) === slider.value) return true;
  slider.value = String(v);
  slider.dispatchEvent(new Event("input"));
  return true;
}

function onSlice() {
  const entry = activeEntry();
  if (!entry) return;
  const v = Number($("slice").value);
  if (entry.slices > 1) entry.slice = v; else entry.frame = v;
  $("slice-out").textContent = `${v + 1} / ${Math.max(entry.slices, entry.frames)}`;
  updateOverlay(entry);
  if (entry.study) showMeasures(entry);
  rerender(entry);
}

/** Region wording and controls follow the mark. */
function onRegion(region) {
  const entry = activeEntry();
  if (entry) entry.region = region;
  $("clear-mark").hidden = !region;
  if (entry && modelViewOn()) redisplay(entry, true);
  changed();
}

export function setBoxesFor(entry, boxes) {
  entry.boxes = boxes;
  if (entry.id === state.activeId) {
    state.viewer.setBoxes(boxes);
    $("clear-boxes").hidden = !boxes.length;
    $("clear-boxes").textContent = t("clearBoxes");
  }
}

// ---- wiring -------------------------------------------------------------------------------
/** Where files dropped or pasted on the page go: the Ask view's images unless a view says otherwise. */
let dropTarget = null;
export function routeDroppedFiles(fn) { dropTarget = fn || null; }

export function initImages() {
  const viewer = new Viewer($("canvas"), {
    onRegion,
    onWindowDrag,
    onSliceStep: (delta) => step(delta),
    onWheelSlice: (delta) => (delta ? step(delta) : !$("slice-box").hidden),
    onMeasure: measure,
    onView: () => updateOverlay(activeEntry()),
    onTool: (tool) => {
      for (const b of document.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    },
    onZoom: (pct) => { $("zoom-level").textContent = pct === null ? "" : `${pct}%`; updateOverlay(activeEntry()); },
  });
  state.viewer = viewer;
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => viewer.setTool(b.dataset.tool));
  $("zoom-in").addEventListener("click", () => viewer.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => viewer.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => viewer.fit());
  $("clear-mark").addEventListener("click", () => viewer.setRegion(null));
  $("clear-boxes").addEventListener("click", () => {
    viewer.showBoxes = !viewer.showBoxes;
    viewer.draw();
    $("clear-boxes").textContent = t(viewer.showBoxes ? "clearBoxes" : "showBoxes");
  });
  $("preset").addEventListener("change", (e) => setPreset(e.target.value));
  $("slice").addEventListener("input", onSlice);
  $("clear-images").addEventListener("click", clearImages);
  initModelView(() => redisplay());

  const input = $("file-input");
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  const folder = $("folder-input");
  folder.addEventListener("change", () => { addFiles(folder.files, { fromFolder: true }); folder.value = ""; });
  $("pick-folder").addEventListener("click", () => folder.click());
  $("drop").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  // Drag and drop anywhere on the page.
  let depth = 0;
  const overlay = $("drop-overlay");
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth += 1; overlay.hidden = false; } });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
  document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    if (dropTarget) { dropTarget(e.dataTransfer.files); return; }
    // A dropped folder's files are read from its entries (a study, uploaded once).
    filesFromDrop(e.dataTransfer).then(({ files, fromFolder }) => addFiles(files, { fromFolder }),
      (err) => showError(errorText(err)));
  });
  document.addEventListener("paste", (e) => {
    const files = Array.from(e.clipboardData?.files || []);
    if (files.length) (dropTarget || addFiles)(files);
  });
  onLanguageChange(() => { renderThumbs(); const a = activeEntry(); showMeta(a); updateControls(a); });
  updateControls(null);
  showMeta(null);
}

/** Brings back the image, mark, window and slice of a history item, when the file is still loaded. */
export function restoreView(item, boxes) {
  const entry = state.entries.find((e) => e.id === item.entryId);
  if (!entry) return false;
  entry.region = item.region || null;
  entry.boxes = boxes;
  const needsRender = entry.rendered && (entry.window.preset !== item.window?.preset
    || entry.window.center !== item.window?.center || entry.window.width !== item.window?.width
    || entry.slice !== item.slice || entry.frame !== item.frame);
  if (entry.rendered && item.window) {
    entry.window = { ...item.window };
    entry.slice = item.slice ?? entry.slice;
    entry.frame = item.frame ?? entry.frame;
  }
  select(entry.id);
  if (needsRender) rerender(entry);
  return true;
}
