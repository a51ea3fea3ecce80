// The History panel: the server's lab record (`GET /api/analyses`), newest first, with search,
// paging, delete and export. One click reopens an analysis. It survives reloads because the page
// keeps nothing itself; when the server's record is off the panel says so and shows nothing.

import { listAnalyses, deleteAnalysis, recordURL, recordBlob, hasApiKey } from "./api.js";
import { t, language, onLanguageChange } from "./i18n.js";
import { errorText } from "./images.js";
import { splitReasoning } from "./markdown.js";
import { $, toast } from "./state.js";

const PAGE = 20;
let items = []; // analyses shown, newest first
let next = null; // cursor of the next page
let query = "";
let record = "unknown"; // the health's record status: ok, degraded, off
let recordErrors = 0;
let failure = "";
let loading = false;
let generation = 0; // the newest load: answers to older ones are dropped
let started = false;
let openId = null;
let reopen = () => {};
/** What this page itself asked, by analysis id: the loaded image, mark and window come back too. */
const local = new Map();
const blobs = new Map();

function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const locale = language() === "zh" ? "zh-CN" : "en-GB";
  const clock = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === new Date().toDateString() ? clock : `${d.toLocaleDateString(locale)} ${clock}`;
}

export function sourceName(source) {
  const key = `source_${source}`;
  const text = t(key);
  return text === key ? String(source || "") : text;
}

/** Sets an <img> to a record URL; with an API key the image is fetched (an <img> sends no header). */
export function recordImage(img, url, onFail = () => img.remove()) {
  img.onerror = onFail;
  if (!hasApiKey()) { img.src = url; return; }
  if (blobs.has(url)) { img.src = blobs.get(url); return; }
  recordBlob(url).then((blob) => { blobs.set(url, URL.createObjectURL(blob)); img.src = blobs.get(url); }).catch(onFail);
}

export function thumbnailURL(analysis) {
  return recordURL(`/${encodeURIComponent(analysis.id)}/thumbnail.png`);
}

async function load(append = false) {
  if (record === "off") return;
  started = true;
  const mine = ++generation;
  loading = true;
  renderNote();
  try {
    const page = await listAnalyses({ q: query, limit: PAGE, cursor: append ? next : undefined });
    if (mine !== generation) return;
    const known = new Set(append ? items.map((a) => a.id) : []);
    items = append ? [...items, ...page.analyses.filter((a) => !known.has(a.id))] : page.analyses;
    next = page.next;
    failure = "";
  } catch (e) {
    if (mine === generation) failure = t("historyFailed", { message: errorText(e) });
  } finally {
    if (mine === generation) { loading = false; render(); }
  }
}

/** After an answer: the newest analyses again (the new one on top); `item` is what the page showed. */
export function refreshHistory(id, item) {
  if (id && item) local.set(id, item);
  if (id) openId = id;
  load();
}

function renderNote() {
  const note = $("history-empty");
  let text = "";
  if (record === "off") text = t("historyOff");
  else if (failure) text = failure;
  else if (loading && !items.length) text = t("historyLoading");
  else if (!items.length && started) text = query ? t("historyNoMatch", { q: query }) : t("historyEmpty");
  note.textContent = text;
  note.hidden = !text;
  note.classList.toggle("history-failed", Boolean(failure));
  $("history-degraded").hidden = record !== "degraded";
  $("history-degraded").textContent = record === "degraded" ? t("historyDegraded", { n: recordErrors }) : "";
  $("history-tools").hidden = record === "off";
  $("history-more").hidden = record === "off" || !next;
  $("history-more").disabled = loading;
  for (const [id, format] of [["export-jsonl", "jsonl"], ["export-csv", "csv"]]) {
    $(id).href = recordURL("/export", { format, q: query });
  }
}

function entry(a) {
  const li = document.createElement("li");
  li.className = "history-entry";
  li.dataset.id = a.id;
  li.classList.toggle("active", a.id === openId);
  const b = document.createElement("button");
  b.type = "button";
  b.className = "history-item";
  b.title = t("restore");
  if (Array.isArray(a.images) && a.images.length) {
    const img = document.createElement("img");
    img.alt = "";
    img.className = "history-thumb";
    recordImage(img, thumbnailURL(a));
    b.append(img);
  }
  const body = document.createElement("span");
  body.className = "history-body";
  const q = document.createElement("span");
  q.className = "history-q";
  q.textContent = a.question || "—";
  const ans = document.createElement("span");
  ans.className = "history-a";
  const text = a.status === "error" && a.error ? a.error.message || a.error.code || ""
    : splitReasoning(a.answer || "").answer.replace(/\s+/g, " ").trim();
  ans.textContent = text.length > 140 ? `${text.slice(0, 140)}…` : text;
  const meta = document.createElement("span");
  meta.className = "history-time";
  meta.textContent = [when(a.created_at), sourceName(a.source), a.status === "error" ? t("stateFailed") : ""].filter(Boolean).join(" · ");
  body.append(q, ans, meta);
  b.append(body);
  b.addEventListener("click", () => {
    openId = a.id;
    for (const el of $("history-list").children) el.classList.toggle("active", el.dataset.id === a.id);
    reopen(a, local.get(a.id) || null);
  });
  li.append(b, deleteButton(a));
  return li;
}

/** × asks once more ("Delete?") before the analysis leaves the record. */
function deleteButton(a) {
  const del = document.createElement("button");
  del.type = "button";
  del.className = "history-delete";
  del.textContent = "×";
  del.setAttribute("aria-label", t("deleteAnalysis"));
  del.title = t("deleteAnalysis");
  let timer = 0;
  del.addEventListener("click", async () => {
    if (del.dataset.armed !== "1") {
      del.dataset.armed = "1";
      del.textContent = t("deleteConfirm");
      timer = setTimeout(() => { del.dataset.armed = ""; del.textContent = "×"; }, 4000);
      return;
    }
    clearTimeout(timer);
    del.disabled = true;
    try {
      await deleteAnalysis(a.id);
    } catch (e) {
      if (e.status !== 404) { del.disabled = false; toast(errorText(e)); return; }
    }
    items = items.filter((x) => x.id !== a.id);
    local.delete(a.id);
    render();
    toast(t("deleted"));
  });
  return del;
}

function render() {
  $("history-list").replaceChildren(...(record === "off" ? [] : items.map(entry)));
  renderNote();
}

/** The health's `record`: {status: ok|degraded|off, errors}. The first answer starts the list. */
function onHealth(body) {
  const r = body && body.record;
  const was = record;
  record = String((r && typeof r === "object" ? r.status : r) || "ok").toLowerCase();
  recordErrors = Number(r && r.errors) || 0;
  if (record === "off") { items = []; next = null; failure = ""; render(); return; }
  if (!started || was === "off") load(); else renderNote();
}

async function exportClick(e) {
  if (!hasApiKey()) return; // the link downloads by itself
  e.preventDefault();
  const link = e.currentTarget;
  try {
    const url = URL.createObjectURL(await recordBlob(link.getAttribute("href")));
    const a = document.createElement("a");
    a.href = url;
    a.download = `medlab-record.${link.id === "export-csv" ? "csv" : "jsonl"}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  } catch (err) { toast(errorText(err)); }
}

export function initHistory(onReopen) {
  reopen = onReopen;
  let debounce = 0;
  const search = $("history-search");
  const apply = () => {
    clearTimeout(debounce);
    if (search.value.trim() === query) return;
    query = search.value.trim();
    load();
  };
  search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(apply, 300); });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); apply(); } });
  $("history-more").addEventListener("click", () => load(true));
  $("refresh-history").addEventListener("click", () => load());
  $("export-jsonl").addEventListener("click", exportClick);
  $("export-csv").addEventListener("click", exportClick);
  document.addEventListener("medlab:health", (e) => onHealth(e.detail));
  onLanguageChange(render);
  renderNote();
}
