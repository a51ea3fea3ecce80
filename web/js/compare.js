// The Compare view: several phrasings × several images, asked as one experiment
// (`POST /api/experiments/compare`, streamed); the grid fills cell by cell, phrasings as rows and
// images as columns. Saved grids (`GET /api/experiments?kind=compare`) reopen into the same table.
// "From the record" adds images of recent analyses whose exact model input the record keeps
// (`--record-images model-input`; `GET /api/analyses?has_model_input=1`), sent as `record_image`.

import { dataURL, listAnalyses, recordURL } from "./api.js";
import { compareStream, listExperiments, getExperiment, setExportLinks, wireExportLinks, errorMessage, when,
  onRecordStatus } from "./experiments.js";
import { sniffFormat } from "./files.js";
import { recordImage } from "./history.js";
import { EXAMPLES, t, onLanguageChange } from "./i18n.js";
import { errorText } from "./images.js";
import { $, el, showErrorIn } from "./state.js";
import { registerView } from "./views.js";

let picked = []; // {id, file, name, format, url} or, from the record, {id, record, name, format: "record", recordSrc}
let recorded = []; // candidates from the record: {key (the copy's SHA-256), analysisId, index, many, created_at, question}
let recordedState = "idle"; // idle, loading, failed, off
let recordedError = "";
let recordedLoaded = false;
let nextId = 1;
let running = false;
let grid = null; // what the table shows: {id, created_at, model, questions, images: [{name, url}], cells: [{state, cell}]}
let saved = [];
let savedState = "idle"; // idle, loading, failed, off
let savedError = "";
let record = "ok";
let started = false;
let progress = null; // {done, total} while running; {total, seconds} after
let openToken = 0;

const showError = (message) => showErrorIn("cmp-error", message);

// ---- images -------------------------------------------------------------------------------
async function addImages(fileList) {
  const errors = [];
  for (const file of Array.from(fileList || [])) {
    const format = await sniffFormat(file);
    if (!format) { errors.push(t("errUnsupported", { name: file.name })); continue; }
    const url = format === "png" || format === "jpeg" ? URL.createObjectURL(file) : "";
    picked.push({ id: nextId++, file, name: file.name || `image-${nextId}`, format, url });
  }
  showError(errors.join("\n"));
  renderImages();
}

function removeImage(id) {
  const item = picked.find((p) => p.id === id);
  picked = picked.filter((p) => p.id !== id);
  if (item && item.url && !(grid && grid.images.some((im) => im.url === item.url))) URL.revokeObjectURL(item.url);
  renderImages();
  if (item && item.record) renderRecorded();
  const next = $("cmp-images").querySelector(".cmp-image-remove") || $("cmp-drop");
  next.focus();
}

function renderImages() {
  const list = $("cmp-images");
  list.replaceChildren(...picked.map((p, i) => {
    const li = el("li", "cmp-image");
    if (p.url || p.recordSrc) {
      const img = el("img");
      img.alt = "";
      if (p.url) img.src = p.url; else recordImage(img, p.recordSrc, () => { img.hidden = true; });
      li.append(img);
    } else li.append(el("span", "cmp-image-ph", p.format.toUpperCase()));
    if (p.record) li.dataset.record = p.record;
    const name = el("span", "cmp-image-name", `${i + 1}. ${p.name}`);
    name.title = p.name;
    const remove = el("button", "cmp-image-remove", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", t("removeImage", { name: p.name }));
    remove.title = t("removeImage", { name: p.name });
    remove.addEventListener("click", () => removeImage(p.id));
    li.append(name, remove);
    return li;
  }));
  $("cmp-images-count").textContent = picked.length ? t("cmpImagesCount", { n: picked.length }) : "";
}

// ---- images from the record ----------------------------------------------------------------
function recordedThumb(c) { return recordURL(`/${encodeURIComponent(c.analysisId)}/thumbnail.png`, { image: c.index }); }

function recordedName(c) { return t("cmpRecordName", { when: when(c.created_at) }) + (c.many ? ` #${c.index + 1}` : ""); }

async function loadRecorded() {
  if (record === "off") { recordedState = "off"; renderRecorded(); return; }
  recordedState = "loading";
  renderRecorded();
  try {
    const { analyses } = await listAnalyses({ has_model_input: 1, limit: 24 });
    const seen = new Set();
    recorded = [];
    for (const a of analyses) {
      const images = a.images || [];
      images.forEach((im, index) => {
        if (!im.model_input || seen.has(im.model_input)) return;
        seen.add(im.model_input);
        recorded.push({ key: im.model_input, analysisId: a.id, index, many: images.length > 1, created_at: a.created_at,
          question: a.question || "" });
      });
    }
    recordedState = "idle";
    recordedLoaded = true;
  } catch (e) {
    recordedState = e && e.code === "record_off" ? "off" : "failed";
    recordedError = errorText(e);
  }
  renderRecorded();
}

function addRecorded(c) {
  if (picked.some((p) => p.record === c.key)) return;
  picked.push({ id: nextId++, record: c.key, name: recordedName(c), format: "record", url: "", recordSrc: recordedThumb(c) });
  showError("");
  renderImages();
  renderRecorded();
}

function renderRecorded() {
  const list = $("cmp-record-list");
  list.replaceChildren(...(recordedState === "off" ? [] : recorded.map((c) => {
    const li = el("li", "cmp-image");
    li.dataset.record = c.key;
    const img = el("img");
    img.alt = "";
    recordImage(img, recordedThumb(c), () => { img.hidden = true; });
    const name = el("span", "cmp-image-name", when(c.created_at));
    name.title = c.question;
    const added = picked.some((p) => p.record === c.key);
    const add = el("button", "chip cmp-record-add", t(added ? "cmpRecordAdded" : "cmpRecordAdd"));
    add.type = "button";
    add.disabled = added;
    add.setAttribute("aria-label", t("cmpRecordAddLabel", { when: when(c.created_at) }));
    add.addEventListener("click", () => addRecorded(c));
    li.append(img, name, add);
    return li;
  })));
  const note = $("cmp-record-note");
  let text = "";
  if (recordedState === "off") text = t("expRecordOff");
  else if (recordedState === "failed") text = recordedError;
  else if (recordedState === "loading" && !recorded.length) text = t("historyLoading");
  else if (recordedLoaded && !recorded.length) text = t("cmpRecordNone");
  note.textContent = text;
  note.hidden = !text;
}

// ---- phrasings ----------------------------------------------------------------------------
function questionInputs() { return [...$("cmp-questions").querySelectorAll("input")]; }

function addQuestion(value = "", focus = false) {
  const li = el("li", "cmp-question");
  const input = el("input");
  input.type = "text";
  input.value = value;
  input.autocomplete = "off";
  const remove = el("button", "cmp-question-remove", "×");
  remove.type = "button";
  remove.addEventListener("click", () => {
    if (questionInputs().length <= 1) { input.value = ""; input.focus(); return; }
    const inputs = questionInputs();
    const i = inputs.indexOf(input);
    li.remove();
    labelQuestions();
    const rest = questionInputs();
    rest[Math.min(i, rest.length - 1)].focus();
  });
  li.append(input, remove);
  $("cmp-questions").append(li);
  labelQuestions();
  if (focus) input.focus();
}

function labelQuestions() {
  questionInputs().forEach((input, i) => {
    input.setAttribute("aria-label", t("cmpPhrasingN", { n: i + 1 }));
    input.placeholder = t("cmpPhrasingPlaceholder");
    const remove = input.nextElementSibling;
    remove.setAttribute("aria-label", t("cmpRemovePhrasing", { n: i + 1 }));
    remove.title = t("cmpRemovePhrasing", { n: i + 1 });
  });
}

// ---- the grid -----------------------------------------------------------------------------
function seconds(ms) {
  const n = Number(ms);
  return Number.isFinite(n) ? t("cmpSeconds", { s: (n / 1000).toFixed(1) }) : "";
}

function fillCell(td, entry) {
  td.dataset.state = entry.state;
  td.replaceChildren();
  if (entry.state === "pending") {
    td.append(el("span", "spinner"), el("span", "cell-wait", t("cmpWaiting")));
    td.setAttribute("aria-busy", "true");
    return;
  }
  td.removeAttribute("aria-busy");
  const cell = entry.cell || {};
  const error = errorMessage(cell.error) || (entry.missing ? t("cmpNotRun") : "");
  if (typeof cell.answer === "string" && cell.answer) td.append(el("div", "cell-answer", cell.answer));
  if (error) td.append(el("div", "cell-error", error));
  const time = cell.timings ? seconds(cell.timings.total_ms) : "";
  if (time) td.append(el("div", "cell-time", time));
}

/** The column's header picture: the chosen file, else the record's thumbnail of a cell of that column. */
function headerImage(th, j) {
  const fig = th.querySelector("figure");
  const old = fig.querySelector("img");
  const image = grid.images[j];
  if (old && old.dataset.src) return;
  let src = image.url || "";
  let fromRecord = false;
  if (!src && image.recordSrc) {
    src = image.recordSrc;
    fromRecord = true;
  }
  if (!src) {
    const n = grid.images.length;
    for (let i = 0; i < grid.questions.length; i += 1) {
      const entry = grid.cells[i * n + j];
      if (entry && entry.cell && entry.cell.analysis_id && !entry.cell.error) {
        src = `api/analyses/${encodeURIComponent(entry.cell.analysis_id)}/thumbnail.png`;
        fromRecord = true;
        break;
      }
    }
  }
  if (!src) return;
  const img = el("img");
  img.alt = image.name;
  img.dataset.src = src;
  if (old) old.replaceWith(img); else fig.prepend(img);
  if (fromRecord) recordImage(img, src, () => { img.hidden = true; }); else img.src = src;
}

function renderGrid() {
  const table = $("cmp-grid");
  $("cmp-empty").hidden = Boolean(grid);
  table.hidden = !grid;
  table.replaceChildren();
  if (!grid) return;
  const caption = el("caption", "visually-hidden", t("cmpGridCaption"));
  const head = el("tr");
  head.append(Object.assign(el("th", "cmp-corner", t("cmpCorner")), { scope: "col" }));
  grid.images.forEach((image, j) => {
    const th = el("th", "cmp-col");
    th.scope = "col";
    th.dataset.col = String(j);
    const fig = el("figure");
    fig.append(el("figcaption", "", image.name));
    th.append(fig);
    head.append(th);
  });
  const body = el("tbody");
  grid.questions.forEach((q, i) => {
    const tr = el("tr");
    tr.dataset.row = String(i);
    const th = el("th", "cmp-row", q);
    th.scope = "row";
    tr.append(th);
    grid.images.forEach((_, j) => {
      const td = el("td", "cmp-cell");
      const index = i * grid.images.length + j;
      td.dataset.index = String(index);
      fillCell(td, grid.cells[index]);
      tr.append(td);
    });
    body.append(tr);
  });
  const thead = el("thead");
  thead.append(head);
  table.append(caption, thead, body);
  grid.images.forEach((_, j) => headerImage(table.querySelector(`th[data-col="${j}"]`), j));
  renderMeta();
}

function updateCell(index, cell, state) {
  if (!grid || !grid.cells[index]) return;
  grid.cells[index] = { state, cell };
  const td = $("cmp-grid").querySelector(`td[data-index="${index}"]`);
  if (td) fillCell(td, grid.cells[index]);
  const j = index % grid.images.length;
  const th = $("cmp-grid").querySelector(`th[data-col="${j}"]`);
  if (th) headerImage(th, j);
}

function renderMeta() {
  const meta = $("cmp-meta");
  meta.replaceChildren();
  const busy = running && progress;
  $("cmp-busy").hidden = !busy;
  if (busy) {
    $("cmp-progress").textContent = t("cmpRunning", { done: progress.done, total: progress.total });
  } else if (progress && progress.seconds !== undefined) {
    $("cmp-progress").textContent = t("cmpDone", { total: progress.total, s: progress.seconds.toFixed(1) });
  } else $("cmp-progress").textContent = "";
  if (grid && grid.id) {
    const parts = [t("cmpExperiment"), " "];
    const code = el("code", "", grid.id);
    code.id = "cmp-id";
    meta.append(...parts, code);
    const model = grid.model && (grid.model.name || grid.model.file);
    const extra = [when(grid.created_at), model].filter(Boolean).join(" · ");
    if (extra) meta.append(` · ${extra}`);
  }
  setExportLinks($("cmp-exports"), grid && grid.id, "compare");
}

function gridFrom(saved_) {
  const images = (saved_.images || []).map((im) => ({ name: typeof im === "string" ? im : im.name, url: "" }));
  const questions = saved_.questions || [];
  const all = Array.isArray(saved_.cells) ? saved_.cells : [];
  // Cells come question-major (index = question × images + image); else matched by their names.
  const key = (q, im) => `${q}\u0000${im}`;
  const byName = new Map();
  for (const c of all) if (!byName.has(key(c.question, c.image))) byName.set(key(c.question, c.image), c);
  const cells = [];
  questions.forEach((q, i) => images.forEach((im, j) => {
    let c = all[i * images.length + j];
    if (!c || c.question !== q || c.image !== im.name) c = byName.get(key(q, im.name)) || c;
    cells.push(c ? { state: c.error ? "error" : "done", cell: c } : { state: "error", cell: null, missing: true });
  }));
  return { id: saved_.experiment_id || saved_.id, created_at: saved_.created_at, model: saved_.model, questions, images, cells };
}

// ---- running ------------------------------------------------------------------------------
async function run() {
  if (running) return;
  showError("");
  const questions = questionInputs().map((i) => i.value.trim()).filter(Boolean);
  if (!picked.length) { showError(t("errNoImage")); $("cmp-drop").focus(); return; }
  if (!questions.length) { showError(t("cmpErrNoPhrasing")); questionInputs()[0].focus(); return; }
  const images = [...picked];
  let payload;
  try {
    payload = {
      images: await Promise.all(images.map(async (p) => (p.record
        ? { name: p.name, record_image: p.record } : { name: p.name, data: await dataURL(p.file) }))),
      questions,
    };
  } catch (e) { showError(errorText(e)); return; }
  const max = parseInt($("cmp-max-tokens").value, 10);
  if (Number.isFinite(max) && max > 0) payload.max_new_tokens = max;
  const context = $("cmp-context").value.trim();
  if (context) payload.context = context;
  if ($("cmp-window").value !== "default") payload.window = $("cmp-window").value;
  grid = {
    id: null, questions, images: images.map((p) => ({ name: p.name, url: p.url, recordSrc: p.recordSrc })),
    cells: questions.flatMap(() => images.map(() => ({ state: "pending", cell: null }))),
  };
  running = true;
  progress = { done: 0, total: grid.cells.length };
  const t0 = performance.now();
  $("cmp-run").disabled = true;
  renderGrid();
  markSaved();
  try {
    const final = await compareStream(payload, {
      onCell: (index, cell, done, total) => {
        updateCell(index, cell, cell.error ? "error" : "done");
        progress = { done: Number.isFinite(done) ? done : progress.done + 1, total: total || progress.total };
        renderMeta();
      },
    });
    const urls = grid.images.map((im) => im.url);
    const recordSrcs = grid.images.map((im) => im.recordSrc);
    grid = gridFrom(final);
    grid.images.forEach((im, j) => { im.url = urls[j] || ""; im.recordSrc = recordSrcs[j]; });
    progress = { total: grid.cells.length, seconds: (performance.now() - t0) / 1000 };
    running = false;
    renderGrid();
    loadSaved();
  } catch (e) {
    running = false;
    progress = null;
    showError(errorText(e));
    grid.cells = grid.cells.map((entry) => (entry.state === "pending" ? { state: "error", cell: null, missing: true } : entry));
    renderGrid();
  } finally {
    running = false;
    $("cmp-run").disabled = false;
    renderMeta();
  }
}

// ---- saved grids --------------------------------------------------------------------------
async function loadSaved() {
  if (record === "off") { savedState = "off"; renderSaved(); return; }
  started = true;
  savedState = "loading";
  renderSaved();
  try {
    saved = await listExperiments({ kind: "compare", limit: 20 });
    savedState = "idle";
  } catch (e) {
    savedState = e && e.code === "record_off" ? "off" : "failed";
    savedError = errorText(e);
  }
  renderSaved();
}

function markSaved() {
  for (const li of $("cmp-saved").children) li.classList.toggle("active", Boolean(grid && li.dataset.id === grid.id));
}

function renderSaved() {
  const list = $("cmp-saved");
  list.replaceChildren(...(savedState === "off" ? [] : saved.map((x) => {
    const li = el("li", "saved-entry");
    li.dataset.id = x.id;
    const b = el("button", "saved-item");
    b.type = "button";
    b.append(el("span", "saved-when", when(x.created_at)), el("span", "saved-model", x.model_file || ""),
      el("code", "saved-id", String(x.id).slice(0, 12)));
    b.title = t("cmpReopen");
    b.addEventListener("click", () => openSaved(x.id));
    li.append(b);
    return li;
  })));
  markSaved();
  const note = $("cmp-saved-note");
  let text = "";
  if (savedState === "off") text = t("expRecordOff");
  else if (savedState === "failed") text = savedError;
  else if (savedState === "loading" && !saved.length) text = t("historyLoading");
  else if (!saved.length && started) text = t("cmpSavedEmpty");
  note.textContent = text;
  note.hidden = !text;
}

async function openSaved(id) {
  if (running) return;
  const mine = ++openToken;
  showError("");
  try {
    const body = await getExperiment(id);
    if (mine !== openToken || running) return;
    grid = gridFrom(body);
    progress = null;
    renderGrid();
    markSaved();
  } catch (e) {
    if (mine === openToken) showError(errorText(e));
  }
}

// ---- wiring -------------------------------------------------------------------------------
function relabel() {
  renderImages();
  renderRecorded();
  labelQuestions();
  renderGrid();
  renderSaved();
}

export function initCompare() {
  const input = $("cmp-files");
  input.addEventListener("change", () => { addImages(input.files).finally(() => { input.value = ""; }); });
  $("cmp-drop").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  // The article's question in both languages: one phrasing each, to compare them at once.
  addQuestion(EXAMPLES[0].zh);
  addQuestion(EXAMPLES[0].en);
  $("cmp-add").addEventListener("click", () => addQuestion("", true));
  $("cmp-run").addEventListener("click", run);
  $("view-compare").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  });
  $("cmp-refresh").addEventListener("click", loadSaved);
  $("cmp-record").addEventListener("toggle", () => { if ($("cmp-record").open) loadRecorded(); });
  wireExportLinks($("cmp-exports"));
  onRecordStatus((status) => {
    const was = record;
    record = status;
    $("cmp-record-off").hidden = record !== "off";
    if (record === "off") {
      savedState = "off";
      recordedState = "off";
      renderSaved();
      renderRecorded();
    } else if (was === "off" && started) loadSaved();
  });
  onLanguageChange(relabel);
  registerView("compare", {
    onShow: () => { if (!started) loadSaved(); },
    onDrop: addImages,
    overlayKey: "cmpDropOverlay",
  });
  renderImages();
  renderGrid();
}
