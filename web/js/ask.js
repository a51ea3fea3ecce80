// The right column: the question (examples, context, settings), the streamed answer, and its
// copy/download buttons.

import { predictStream, dataURL, windowField, regionField, setApiKey } from "./api.js";
import { EXAMPLES, REGION_EXAMPLES, t, language, onLanguageChange } from "./i18n.js";
import { storedFrame } from "./files.js";
import { errorText, onImagesChange, setBoxesFor } from "./images.js";
import { fieldsOn, fieldsSchema, showFieldsResult } from "./fields.js";
import { refreshHistory } from "./history.js";
import { renderMarkdown, splitReasoning } from "./markdown.js";
import { showRecord } from "./record.js";
import { $, state, activeEntry, showError, toast } from "./state.js";
import { studyReference, sliceRanges } from "./study.js";
import { chosenSlices } from "./studyui.js";

let controller = null;
/** The answer on screen: the final response plus what was asked. */
let shown = null;
let answerState = "";

// ---- examples -----------------------------------------------------------------------------
function renderExamples() {
  const list = $("example-list");
  list.replaceChildren();
  const entry = activeEntry();
  const groups = entry && entry.region ? [[t("examplesRegion"), REGION_EXAMPLES], [null, EXAMPLES]] : [[null, EXAMPLES]];
  const lang = language();
  for (const [title, items] of groups) {
    if (title) {
      const h = document.createElement("li");
      h.className = "ex-group";
      h.textContent = title;
      list.append(h);
    }
    for (const ex of items) {
      const li = document.createElement("li");
      // The interface language first, the other underneath; both insert their own text.
      for (const l of lang === "zh" ? ["zh", "en"] : ["en", "zh"]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = `ex ex-${l}`;
        b.lang = l === "zh" ? "zh-CN" : "en";
        b.textContent = ex[l];
        b.addEventListener("click", () => {
          $("question").value = ex[l];
          $("examples").open = false;
          $("question").focus();
        });
        li.append(b);
      }
      list.append(li);
    }
  }
}

function insertRegionPhrase() {
  const q = $("question");
  const phrase = t("regionPhrase");
  const start = q.selectionStart ?? q.value.length;
  const end = q.selectionEnd ?? q.value.length;
  const before = q.value.slice(0, start);
  const pad = before && !/\s$/.test(before) && language() === "en" ? " " : "";
  q.value = `${before}${pad}${phrase}${q.value.slice(end)}`;
  q.focus();
  const caret = start + pad.length + phrase.length;
  q.setSelectionRange(caret, caret);
}

// ---- the request --------------------------------------------------------------------------
function scopeEntries() {
  const active = activeEntry();
  const scope = document.querySelector('input[name="scope"]:checked');
  if (!active) return [];
  // A series is asked about by reference, alone.
  if (active.study) return [active];
  if (scope && scope.value === "volume") return state.entries.length >= 2 ? [...state.entries] : [active];
  if (!scope || scope.value !== "all" || state.entries.length < 2) return [active];
  // In order, with the image on screen last: the region and the boxes belong to it.
  return [...state.entries.filter((e) => e.id !== active.id), active];
}

async function buildPayload(entries) {
  const active = entries[entries.length - 1];
  const payload = { question: $("question").value.trim() };
  if (active.study) {
    // The study cache holds the files: only the reference goes, never their bytes.
    const scope = $("scope").hidden ? "current" : document.querySelector('input[name="scope"]:checked')?.value || "current";
    payload.study = studyReference(active, scope, scope === "slices" ? chosenSlices(active) : undefined);
  } else {
    const images = await Promise.all(entries.map((e) => dataURL(e.file)));
    if (images.length === 1) payload.image = images[0];
    else payload.images = images;
  }
  const context = $("context").value.trim();
  if (context) payload.context = context;
  const max = parseInt($("max-tokens").value, 10);
  if (Number.isFinite(max) && max > 0) payload.max_new_tokens = max;
  const temp = parseFloat($("temperature").value);
  if (Number.isFinite(temp) && temp >= 0) payload.temperature = temp;
  const system = $("system").value.trim();
  if (system) payload.system = system;
  if (active.study) {
    const region = payload.study.slices && payload.study.slices.length === 1 ? regionField(active.region) : undefined;
    if (region) payload.region = region;
    return payload;
  }
  if ($("scope-volume").checked && !$("scope").hidden) {
    // The server orders the slices, samples them and packs CT windows; no slice, frame or mark applies.
    payload.volume = true;
    if (active.rendered) {
      const w = windowField(active.window);
      if (w !== undefined) payload.window = w;
    }
    return payload;
  }
  if (active.rendered) {
    const w = windowField(active.window);
    if (w !== undefined) payload.window = w;
    if (active.slices > 1) payload.slice = active.slice;
    if (active.frames > 1) payload.frame = storedFrame(active);
  }
  const region = regionField(active.region);
  if (region) payload.region = region;
  return payload;
}

function setBusy(busy) {
  state.busy = busy;
  $("ask").disabled = busy;
  $("stop").disabled = !busy;
  $("answer").setAttribute("aria-busy", String(busy));
}

function setAnswerState(key) {
  answerState = key;
  const el = $("answer-state");
  el.textContent = key ? t(key) : "";
  el.dataset.state = key;
}

function showAnswer(answer, reasoning) {
  if (shown && shown.fields) {
    // An answer as JSON fields: the JSON text as it came, not read as Markdown.
    const pre = document.createElement("pre");
    pre.className = "answer-json";
    pre.textContent = answer;
    $("answer").replaceChildren(...(answer ? [pre] : []));
  } else $("answer").innerHTML = renderMarkdown(answer);
  $("reasoning-box").hidden = !reasoning;
  $("reasoning").textContent = reasoning || "";
}

async function ask(event) {
  event?.preventDefault();
  if (state.busy) return;
  showError("");
  const entries = scopeEntries();
  const question = $("question").value.trim();
  if (!entries.length) { showError(t("errNoImage")); return; }
  if (!question) { showError(t("errNoQuestion")); $("question").focus(); return; }
  // The fields' schema: an error stays inline in the editor and nothing is sent.
  const fields = fieldsOn() ? fieldsSchema(true) : null;
  if (fields && fields.error) return;
  setApiKey($("api-key").value);
  const active = entries[entries.length - 1];
  // Busy before the first await: a second click while the files are read sends nothing, and the
  // old answer's "Done" never stands for the new question.
  setBusy(true);
  setAnswerState("stateWaiting");
  let payload;
  try {
    payload = await buildPayload(entries);
  } catch (e) {
    setBusy(false);
    setAnswerState("stateFailed");
    showError(errorText(e));
    return;
  }
  if (fields) payload.schema = fields.schema;
  controller = new AbortController();
  $("answer-box").hidden = false;
  $("answer-box").scrollIntoView({ block: "nearest", behavior: "smooth" });
  shown = {
    question, context: payload.context || "", images: entries.map((e) => e.name), entryId: active.id,
    region: active.region || null, window: { ...active.window }, slice: active.slice, frame: active.frame,
    thumb: active.thumb, time: new Date().toISOString(), response: null, stopped: false,
    settings: { max_new_tokens: payload.max_new_tokens, temperature: payload.temperature, system: payload.system },
    fields: fields ? fields.names : undefined, schema: fields ? fields.schema : undefined,
  };
  showFieldsResult(null);
  showAnswer("", "");
  $("stats").textContent = "";
  $("disclaimer").textContent = "";
  showRecord(null);
  setAnswerState("stateWaiting");
  setBoxesFor(active, []);
  let raw = "";
  let streamedReasoning = "";
  try {
    const final = await predictStream(payload, {
      signal: controller.signal,
      onDelta: (d) => {
        raw += d;
        if (answerState !== "stateStreaming") setAnswerState("stateStreaming");
        const split = splitReasoning(raw);
        showAnswer(split.answer, split.reasoning || streamedReasoning);
      },
      onReasoningDelta: (d) => { streamedReasoning += d; $("reasoning-box").hidden = false; $("reasoning").textContent = streamedReasoning; },
    });
    shown.response = final;
    finish(active, final);
    setAnswerState("stateDone");
  } catch (e) {
    if (e && e.name === "AbortError") {
      const split = splitReasoning(raw);
      shown.response = { answer: split.answer, reasoning: split.reasoning || streamedReasoning };
      shown.stopped = true;
      $("disclaimer").textContent = disclaimerText({});
      setAnswerState("stateStopped");
    } else {
      setAnswerState("stateFailed");
      showError(errorText(e));
      if (!raw) $("answer-box").hidden = true;
      shown = null;
    }
  } finally {
    setBusy(false);
    controller = null;
  }
  // The record has the new analysis (or the failed one) now: the History panel shows it on top.
  const id = shown && shown.response && shown.response.analysis_id;
  if (id) shown.analysisId = id;
  refreshHistory(id, id ? { ...shown } : null);
}

function pick(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

/** Boxes in original pixels; computed from `box_2d` (0–1000 of the padded square) if needed. */
export function normaliseBoxes(boxes, entry) {
  if (!Array.isArray(boxes)) return [];
  return boxes.map((b) => {
    if ([b.x0, b.y0, b.x1, b.y1].every(Number.isFinite)) return b;
    const b2 = b.box_2d || b.box2d;
    if (!Array.isArray(b2) || b2.length !== 4) return null;
    const side = Math.max(entry.width, entry.height);
    const left = (side - entry.width) / 2;
    const top = (side - entry.height) / 2;
    return { label: b.label || "", x0: (b2[1] / 1000) * side - left, y0: (b2[0] / 1000) * side - top,
      x1: (b2[3] / 1000) * side - left, y1: (b2[2] / 1000) * side - top, image: b.image };
  }).filter(Boolean);
}

function finish(active, final) {
  const answer = typeof final.answer === "string" ? final.answer : "";
  const split = splitReasoning(answer);
  showAnswer(split.answer, final.reasoning || split.reasoning);
  showFieldsResult(shown);
  $("disclaimer").textContent = disclaimerText(final);
  renderStats(final);
  const boxes = normaliseBoxes(final.boxes, active);
  // Boxes name the image of the request they belong to; the page draws those of the shown one.
  const count = shown.images.length;
  const mine = boxes.filter((b) => b.image === undefined || b.image === null || b.image === count - 1);
  setBoxesFor(active, mine);
  if (mine.length) toast(t("boxesFound", { n: mine.length }));
}

/** The server's disclaimer (English), or ours in the interface language. */
function disclaimerText(response) {
  if (language() === "en" && response && response.disclaimer) return response.disclaimer;
  return t("mdDisclaimer") + (response && response.demo ? ` ${t("detailDemo")}` : "");
}

function renderStats(final) {
  const usage = final && final.usage ? final.usage : {};
  const timings = final && final.timings ? final.timings : {};
  const tokensIn = pick(usage, "prompt_tokens", "tokens_in", "input_tokens", "input");
  const tokensOut = pick(usage, "completion_tokens", "tokens_out", "output_tokens", "output");
  const tps = pick(timings, "tokens_per_second", "tokens_per_s", "decode_tokens_per_second", "tps");
  const totalMs = pick(timings, "total_ms", "total");
  const fmt = (v, digits = 0) => (Number.isFinite(Number(v)) ? Number(v).toFixed(digits) : "–");
  let text = t("stats", { tokensIn: fmt(tokensIn), tokensOut: fmt(tokensOut), tps: fmt(tps, 1), total: fmt(Number(totalMs) / 1000, 2) });
  const model = typeof final.model === "string" ? final.model : final.model && (final.model.name || final.model.id);
  if (model) text += ` · ${t("statsModel", { model })}`;
  if (final.volume) {
    text += ` · ${t("volumeShown", { shown: final.volume.slices_shown, total: final.volume.slices_total, packing: final.volume.packing })}`;
    if (Array.isArray(final.volume.slice_numbers) && final.volume.slice_numbers.length) {
      text += ` · ${t("volumeSlices", { list: sliceRanges(final.volume.slice_numbers.map((n) => n - 1)) })}`;
    }
    if (final.volume.note) text += ` — ${final.volume.note}`;
  }
  $("stats").textContent = text;
}

/** Puts an answer back on screen (answer, question, stats). */
function showResult(item) {
  shown = item;
  $("question").value = item.question;
  $("context").value = item.context || "";
  $("answer-box").hidden = false;
  const response = item.response || {};
  const split = splitReasoning(response.answer || "");
  showAnswer(split.answer, response.reasoning || split.reasoning);
  showFieldsResult(item);
  $("disclaimer").textContent = disclaimerText(response);
  if (item.response && item.response.usage) renderStats(item.response); else $("stats").textContent = "";
  setAnswerState(item.failed ? "stateFailed" : item.stopped ? "stateStopped" : "stateDone");
}

/** An analysis of the record as the page's answer item. */
function itemFrom(a) {
  const tm = a.timings || {};
  const out = a.usage && a.usage.completion_tokens;
  return {
    question: a.question || "", context: a.context || "", time: a.created_at, stopped: false,
    images: (a.images || []).map((im) => [String(im.format || "").toUpperCase(), im.width && im.height ? `${im.width}×${im.height}` : ""].filter(Boolean).join(" ")),
    response: { answer: a.answer || "", reasoning: a.reasoning || "", boxes: a.boxes || [], usage: a.usage,
      timings: { ...tm, tokens_per_second: out && tm.decode_ms ? (out * 1000) / tm.decode_ms : undefined },
      model: a.model && (a.model.name || a.model.file), analysis_id: a.id },
  };
}

/** Reopens an analysis of the record; `local` is what this page showed when it asked it, if it did. */
export function showAnalysis(a, local) {
  showError("");
  const item = local ? { ...local } : itemFrom(a);
  item.record = a;
  item.failed = a.status === "error";
  showResult(item);
  showRecord(a);
  $("answer-box").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// ---- copy and download --------------------------------------------------------------------
function markdown(item) {
  const r = item.response || {};
  const lines = [`# MedGemma Vision Lab`, "", `> ${t("mdDisclaimer")}`, "",
    `**${t("mdImages")}:** ${item.images.join(", ")}`, "", `## ${t("mdQuestion")}`, "", item.question, ""];
  if (item.context) lines.push(`## ${t("mdContext")}`, "", item.context, "");
  lines.push(`## ${t("mdAnswer")}`, "", splitReasoning(r.answer || "").answer, "");
  if (item.fields && r.json && typeof r.json === "object") {
    const cell = (v) => (Array.isArray(v) ? v.join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)).replace(/\|/g, "\\|");
    lines.push(`## ${t("mdFields")}`, "", `| ${t("fieldsColField")} | ${t("fieldsColValue")} |`, "|---|---|",
      ...Object.entries(r.json).map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`), "");
  }
  if (r.json_error) lines.push(`> ${t("fieldsJsonError", { message: r.json_error })}`, "");
  if (r.reasoning) lines.push(`## ${t("mdReasoning")}`, "", r.reasoning, "");
  if (Array.isArray(r.boxes) && r.boxes.length) lines.push("```json", JSON.stringify(r.boxes, null, 2), "```", "");
  const model = typeof r.model === "string" ? r.model : r.model && (r.model.name || r.model.id);
  if (model) lines.push(`*${t("mdModel")}: ${model} · ${item.time}*`, "");
  return lines.join("\n");
}

function download(name, type, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 2000);
}

function stamp() { return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19); }

async function copyAnswer() {
  if (!shown) return;
  const text = splitReasoning((shown.response && shown.response.answer) || "").answer;
  try {
    await navigator.clipboard.writeText(text);
    toast(t("copied"));
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("answer"));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    toast(t("copyFailed"));
  }
}

export function initAsk() {
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) ask(e);
  });
  $("stop").addEventListener("click", () => controller?.abort());
  $("insert-region").addEventListener("click", insertRegionPhrase);
  $("copy").addEventListener("click", copyAnswer);
  $("download-md").addEventListener("click", () => shown && download(`medlab-${stamp()}.md`, "text/markdown", markdown(shown)));
  $("download-json").addEventListener("click", () => {
    if (!shown) return;
    const { thumb, record, ...rest } = shown;
    download(`medlab-${stamp()}.json`, "application/json", JSON.stringify(record || rest, null, 2));
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.busy) controller?.abort();
  });
  onImagesChange((entry) => {
    $("insert-region").hidden = !(entry && entry.region);
    renderExamples();
  });
  onLanguageChange(() => {
    renderExamples();
    if (answerState) setAnswerState(answerState);
    if (shown && shown.response && shown.response.usage) renderStats(shown.response);
    if (shown && shown.response) $("disclaimer").textContent = disclaimerText(shown.response);
  });
  renderExamples();
}
