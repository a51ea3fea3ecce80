// The experiment routes of `medlab serve` (compare grids, regression runs) and what the Compare
// and Regression views share: dates, percentages, export links.

import { request, headers, setApiKey, serverSentEvents, LabError, hasApiKey, recordBlob } from "./api.js";
import { language } from "./i18n.js";
import { errorText } from "./images.js";
import { $, toast } from "./state.js";

/** The key typed under the Ask view's advanced settings goes with these requests too. */
function useKey() {
  const input = $("api-key");
  if (input) setApiKey(input.value);
}

async function getJSON(url) {
  useKey();
  const response = await request(url, { headers: headers({ Accept: "application/json" }), cache: "no-store" });
  return response.json();
}

function query(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

export function experimentURL(id, format) {
  return `api/experiments/${encodeURIComponent(id)}${query({ format })}`;
}

/** `GET /api/experiments?kind=&set=&limit=`: newest first. */
export async function listExperiments(params) {
  const body = await getJSON(`api/experiments${query(params)}`);
  return Array.isArray(body && body.experiments) ? body.experiments : [];
}

/** `GET /api/experiments/{id}`: a compare grid or a regression report. */
export function getExperiment(id) { return getJSON(experimentURL(id)); }

/** `GET /api/regression-runs?set=`: every set's runs (or one set's), newest first. */
export async function listRegressionRuns(set) {
  const body = await getJSON(`api/regression-runs${query({ set })}`);
  return Array.isArray(body && body.runs) ? body.runs : [];
}

/** `POST /api/regression-runs` with the bytes of a ZIP (the set file and its images). */
export async function runRegression(file) {
  useKey();
  const response = await request("api/regression-runs", {
    method: "POST",
    headers: headers({ "Content-Type": "application/zip", Accept: "application/json" }),
    body: file,
  });
  return response.json();
}

/**
 * `POST /api/experiments/compare` with `"stream": true`: `onCell(index, cell, done, total)` for
 * each finished cell (in any order), then the whole grid is returned.
 */
export async function compareStream(payload, { onCell, signal } = {}) {
  useKey();
  const response = await request("api/experiments/compare", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream, application/json" }),
    body: JSON.stringify({ ...payload, stream: true }),
    signal,
  });
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (!type.includes("text/event-stream") || !response.body) {
    const grid = await response.json();
    (grid.cells || []).forEach((cell, i) => onCell?.(i, cell, i + 1, grid.cells.length));
    return grid;
  }
  for await (const ev of serverSentEvents(response.body)) {
    const raw = ev.data.trim();
    if (!raw || raw === "[DONE]") continue;
    let obj;
    try { obj = JSON.parse(raw); } catch { continue; }
    if (ev.event === "error" || (obj && obj.error && !obj.cell)) {
      const err = obj.error ?? obj;
      const e = new LabError(typeof err.status === "number" ? err.status : 500, err.code || "stream_error",
        err.message || (typeof err === "string" ? err : "the experiment failed"));
      e.inStream = true;
      throw e;
    }
    if (obj.cell && Number.isInteger(obj.index)) onCell?.(obj.index, obj.cell, obj.done, obj.total);
    if (obj.done === true && obj.grid) return obj.grid;
  }
  if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
  const e = new LabError(0, "stream_incomplete", "the server closed the stream before the grid was complete");
  e.inStream = true;
  throw e;
}

/** A cell's or case's error as text (a string, or `{code, message}`). */
export function errorMessage(err) {
  if (!err) return "";
  if (typeof err === "string") return err;
  return [err.code, err.message].filter(Boolean).join(": ") || JSON.stringify(err);
}

/** A date of the record ("2026-12-02T14:04:05Z", or with a space), in the interface language. */
export function when(iso) {
  const d = new Date(String(iso || "").replace(" ", "T"));
  if (Number.isNaN(d.getTime())) return String(iso || "");
  const locale = language() === "zh" ? "zh-CN" : "en-GB";
  const clock = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === new Date().toDateString() ? clock : `${d.toLocaleDateString(locale)} ${clock}`;
}

export function percent(rate) {
  const n = Number(rate);
  return Number.isFinite(n) ? `${Math.round(n * 1000) / 10}%` : "–";
}

export function shortSum(sha, n = 8) { return sha ? String(sha).slice(0, n) : ""; }

/** Points the HTML / CSV / JSON links of `box` (an element with `a[data-format]`) at experiment `id`. */
export function setExportLinks(box, id, stem) {
  box.hidden = !id;
  for (const a of box.querySelectorAll("a[data-format]")) {
    if (!id) { a.removeAttribute("href"); continue; }
    a.href = experimentURL(id, a.dataset.format);
    a.download = `${stem}-${String(id).slice(0, 12)}.${a.dataset.format}`;
  }
}

/** Export links download by themselves, except with an API key (a link sends no header). */
export function wireExportLinks(box) {
  for (const a of box.querySelectorAll("a[data-format]")) {
    a.addEventListener("click", async (e) => {
      useKey();
      if (!hasApiKey() || !a.href) return;
      e.preventDefault();
      try {
        const url = URL.createObjectURL(await recordBlob(a.getAttribute("href")));
        const link = document.createElement("a");
        link.href = url;
        link.download = a.download;
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 2000);
      } catch (err) { toast(errorText(err)); }
    });
  }
}

/** The record's status from the health answer: "ok", "degraded" or "off". */
export function onRecordStatus(fn) {
  document.addEventListener("medlab:health", (e) => {
    const r = e.detail && e.detail.record;
    fn(String((r && typeof r === "object" ? r.status : r) || "ok").toLowerCase());
  });
}
