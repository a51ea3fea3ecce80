// The Regression view: a ZIP of a set file and its images goes to `POST /api/regression-runs`;
// the report shows the pass rate against the set's previous run, what newly fails or passes,
// and every case (a click opens its thumbnail, question, expectations, answer and previous
// verdict). Beside it, each set's pass rates per model checksum (`GET /api/regression-runs`).

import { runRegression, listRegressionRuns, getExperiment, setExportLinks, wireExportLinks, errorMessage, when,
  percent, shortSum, onRecordStatus } from "./experiments.js";
import { recordImage } from "./history.js";
import { t, onLanguageChange } from "./i18n.js";
import { errorText } from "./images.js";
import { renderCharts } from "./passchart.js";
import { $, el, showErrorIn } from "./state.js";
import { registerView } from "./views.js";

let report = null;
let openCase = null; // id of the case shown in detail
let runs = [];
let runsState = "idle"; // idle, loading, failed, off
let runsError = "";
let started = false;
let busy = null; // {name, t0, timer} while a set runs
let openToken = 0;

const showError = (message) => showErrorIn("reg-error", message);

// ---- running a set ------------------------------------------------------------------------
function renderBusy() {
  $("reg-busy").hidden = !busy;
  $("reg-file").disabled = Boolean(busy);
  $("reg-drop").setAttribute("aria-disabled", String(Boolean(busy)));
  if (busy) {
    const s = Math.round((performance.now() - busy.t0) / 1000);
    $("reg-busy-text").textContent = t("regRunning", { name: busy.name, s });
  }
}

async function upload(fileList) {
  const file = Array.from(fileList || [])[0];
  if (!file || busy) return;
  showError("");
  busy = { name: file.name, t0: performance.now(), timer: setInterval(renderBusy, 1000) };
  renderBusy();
  try {
    const body = await runRegression(file);
    showReport(body);
    loadRuns();
  } catch (e) {
    // A bad set: the server names the file, line, case and field.
    showError(e && e.code === "invalid_set" ? t("regInvalidSet", { name: file.name, message: e.message }) : errorText(e));
  } finally {
    clearInterval(busy.timer);
    busy = null;
    renderBusy();
  }
}

// ---- the report ---------------------------------------------------------------------------
function showReport(body) {
  report = body;
  openCase = null;
  renderReport();
  if (runs.length) renderRuns();
}

function idList(ids) { return Array.isArray(ids) && ids.length ? ids.join(", ") : ""; }

function verdict(passed) {
  const span = el("span", passed ? "verdict pass" : "verdict fail", passed ? "✓" : "✗");
  span.setAttribute("aria-label", t(passed ? "regPassed" : "regFailed"));
  span.title = t(passed ? "regPassed" : "regFailed");
  return span;
}

function renderReport() {
  const box = $("reg-report");
  box.hidden = !report;
  if (!report) return;
  const r = report;
  const cases = Array.isArray(r.cases) ? r.cases : [];
  const passed = Number.isFinite(r.passed) ? r.passed : cases.filter((c) => c.passed).length;
  const total = Number.isFinite(r.passed) && Number.isFinite(r.failed) ? r.passed + r.failed : cases.length;
  $("reg-title").textContent = t("regSetTitle", { set: r.set || "—" });
  $("reg-rate").textContent = t("regRate", { passed, total, rate: percent(r.pass_rate) });
  $("reg-rate").dataset.passed = String(passed);
  $("reg-rate").dataset.total = String(total);
  const prev = $("reg-prev");
  if (r.previous_run_id) {
    const diff = Math.round((Number(r.pass_rate) - Number(r.previous_pass_rate)) * 1000) / 10;
    prev.textContent = t("regPrevious", { rate: percent(r.previous_pass_rate), diff: `${diff > 0 ? "+" : ""}${diff}` });
  } else prev.textContent = t("regFirstRun");
  const changes = $("reg-changes");
  changes.replaceChildren();
  for (const [key, ids, cls] of [["regNewlyFailing", r.newly_failing, "fail"], ["regNewlyPassing", r.newly_passing, "pass"],
    ["regAnswerChanged", r.answer_changed, ""]]) {
    const text = idList(ids);
    if (!text) continue;
    const dt = el("dt", cls, t(key));
    const dd = el("dd", cls, text);
    dd.dataset.key = key;
    changes.append(dt, dd);
  }
  changes.hidden = !changes.children.length;
  const m = r.model || {};
  $("reg-model").textContent = [t("regModel", { model: m.name || m.file || "—" }), m.sha256 ? `sha256 ${shortSum(m.sha256, 16)}…` : "",
    r.file, when(r.created_at), r.run_id ? t("regRun", { id: r.run_id }) : ""].filter(Boolean).join(" · ");
  setExportLinks($("reg-exports"), r.run_id, "regression");
  renderCases(cases);
  renderDetail();
}

function renderCases(cases) {
  const body = $("reg-cases").querySelector("tbody");
  const failing = new Set(report.newly_failing || []);
  const passing = new Set(report.newly_passing || []);
  body.replaceChildren(...cases.map((c) => {
    const tr = el("tr");
    tr.dataset.id = c.id;
    tr.dataset.passed = String(Boolean(c.passed));
    tr.classList.toggle("active", c.id === openCase);
    const idCell = el("th");
    idCell.scope = "row";
    const b = el("button", "link case-open", c.id);
    b.type = "button";
    b.setAttribute("aria-expanded", String(c.id === openCase));
    b.title = t("regOpenCase");
    b.addEventListener("click", () => toggleCase(c.id));
    idCell.append(b);
    const result = el("td", "case-verdict");
    result.append(verdict(c.passed));
    if (failing.has(c.id)) result.append(el("span", "badge fail", t("regBadgeNewFail")));
    if (passing.has(c.id)) result.append(el("span", "badge pass", t("regBadgeNewPass")));
    const failed = el("td", "case-failed");
    const list = Array.isArray(c.failed_expectations) ? c.failed_expectations : [];
    if (list.length) {
      const ul = el("ul");
      for (const f of list) ul.append(el("li", "", f));
      failed.append(ul);
    }
    if (c.error) failed.append(el("div", "cell-error", errorMessage(c.error)));
    const answer = el("td", "case-answer");
    answer.append(el("div", "case-answer-text", c.answer || ""));
    tr.append(idCell, result, failed, answer);
    tr.addEventListener("click", (e) => { if (!e.target.closest("button")) toggleCase(c.id); });
    return tr;
  }));
}

function toggleCase(id) {
  openCase = openCase === id ? null : id;
  for (const tr of $("reg-cases").querySelectorAll("tbody tr")) {
    const on = tr.dataset.id === openCase;
    tr.classList.toggle("active", on);
    tr.querySelector(".case-open").setAttribute("aria-expanded", String(on));
  }
  renderDetail();
  if (openCase) $("reg-detail").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function expectationText(key, value) {
  if (Array.isArray(value)) return value.map((v) => JSON.stringify(v)).join(", ");
  if (value && typeof value === "object") return JSON.stringify(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

function renderDetail() {
  const box = $("reg-detail");
  const c = report && openCase ? (report.cases || []).find((x) => x.id === openCase) : null;
  box.hidden = !c;
  if (!c) { box.replaceChildren(); return; }
  const head = el("div", "reg-detail-head");
  head.append(el("h3", "", t("regCaseTitle", { id: c.id })), verdict(c.passed));
  const close = el("button", "link", t("regCloseCase"));
  close.type = "button";
  close.addEventListener("click", () => { const id = c.id; toggleCase(id); $("reg-cases").querySelector(`tr[data-id="${CSS.escape(id)}"] .case-open`)?.focus(); });
  head.append(close);
  const wrap = el("div", "reg-detail-body");
  if (c.analysis_id) {
    const fig = el("figure", "reg-thumb");
    const img = el("img");
    img.alt = t("recThumb");
    recordImage(img, `api/analyses/${encodeURIComponent(c.analysis_id)}/thumbnail.png`, () => { fig.hidden = true; });
    fig.append(img);
    wrap.append(fig);
  }
  const dl = el("dl", "reg-detail-info");
  const row = (key, value, cls = "") => {
    if (value === null || value === undefined || value === "") return;
    const dd = el("dd", cls);
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
    dd.dataset.key = key;
    dl.append(el("dt", "", t(key)), dd);
  };
  row("regImages", (c.images || []).join(", "));
  row("regQuestion", c.question);
  const expect = el("ul", "reg-expect");
  for (const [k, v] of Object.entries(c.expect || {})) {
    const li = el("li");
    li.append(el("code", "", k), ` ${expectationText(k, v)}`);
    expect.append(li);
  }
  row("regExpect", expect.children.length ? expect : "—");
  if ((c.failed_expectations || []).length) row("regFailedExpect", c.failed_expectations.join("\n"), "fail pre");
  row("regAnswer", c.answer || "—", "pre");
  if (c.error) row("recError", errorMessage(c.error), "fail");
  const p = c.previous;
  row("regPreviousVerdict", p ? [t(p.passed ? "regPassed" : "regFailed"), t(p.answer_changed ? "regAnswerDiffers" : "regAnswerSame")].join(" · ")
    : t("regNoPrevious"));
  row("recId", c.analysis_id);
  wrap.append(dl);
  box.replaceChildren(head, wrap);
}

// ---- the history of runs ------------------------------------------------------------------
async function loadRuns() {
  if (runsState === "off") { renderRuns(); return; }
  started = true;
  runsState = "loading";
  renderRuns();
  try {
    runs = await listRegressionRuns();
    runsState = "idle";
  } catch (e) {
    runsState = e && e.code === "record_off" ? "off" : "failed";
    runsError = errorText(e);
  }
  renderRuns();
}

function renderRuns() {
  const box = $("reg-charts");
  if (runsState === "off") box.replaceChildren();
  else renderCharts(box, runs, { onOpen: openRun, activeId: report && report.run_id });
  const note = $("reg-charts-note");
  let text = "";
  if (runsState === "off") text = t("expRecordOff");
  else if (runsState === "failed") text = runsError;
  else if (runsState === "loading" && !runs.length) text = t("historyLoading");
  else if (!runs.length && started) text = t("regNoRuns");
  note.textContent = text;
  note.hidden = !text;
}

async function openRun(id) {
  const mine = ++openToken;
  showError("");
  try {
    const body = await getExperiment(id);
    if (mine !== openToken) return;
    showReport(body);
    $("reg-report").scrollIntoView({ block: "nearest", behavior: "smooth" });
  } catch (e) {
    if (mine === openToken) showError(errorText(e));
  }
}

// ---- wiring -------------------------------------------------------------------------------
export function initRegression() {
  const input = $("reg-file");
  input.addEventListener("change", () => { const files = [...input.files]; input.value = ""; upload(files); });
  $("reg-drop").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); if (!busy) input.click(); }
  });
  $("reg-refresh").addEventListener("click", loadRuns);
  wireExportLinks($("reg-exports"));
  onRecordStatus((status) => {
    const was = runsState;
    $("reg-record-off").hidden = status !== "off";
    if (status === "off") { runsState = "off"; runs = []; renderRuns(); } else if (was === "off") { runsState = "idle"; if (started) loadRuns(); }
  });
  onLanguageChange(() => { renderBusy(); renderReport(); renderRuns(); });
  registerView("regression", {
    onShow: () => { if (!started) loadRuns(); },
    onDrop: upload,
    overlayKey: "regDropOverlay",
  });
  renderRuns();
}
