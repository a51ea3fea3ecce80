// Talking to `medlab serve`: health, render previews, streamed predictions, errors.
// Written defensively: the page must say something readable whatever comes back.

/** An error the page can show: an HTTP status (0 for network), a code and a message. */
export class LabError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let apiKey = "";
export function setApiKey(key) { apiKey = (key || "").trim(); }

/** Request headers with the API key, when one is set. */
export function headers(extra = {}) {
  const h = { ...extra };
  if (apiKey) h.Authorization = `Bearer ${apiKey}`;
  return h;
}

/** Turns a non-2xx response into a LabError, reading `{"error": {"code", "message"}}` when present. */
export async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  let text = "";
  try { text = await response.text(); } catch { /* body unreadable */ }
  if (text) {
    try {
      const body = JSON.parse(text);
      const err = body && typeof body === "object" ? (body.error ?? body) : null;
      if (typeof err === "string") message = err;
      else if (err && typeof err === "object") {
        if (err.message) message = String(err.message);
        else if (err.detail) message = String(err.detail);
        if (err.code || err.type) code = String(err.code || err.type);
      }
    } catch {
      message = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    }
  }
  const retry = Number(response.headers.get("Retry-After"));
  return new LabError(response.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
}

/** `fetch` that throws a LabError for a network failure or a non-2xx answer. */
export async function request(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    // Let the status badge find out at once that the server is gone.
    document.dispatchEvent(new Event("medlab:network-error"));
    throw new LabError(0, "network", e && e.message ? e.message : String(e));
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** `GET /api/health`, normalised: {status, model, backend, demo, message, raw}. */
export async function health(signal) {
  let response;
  try {
    response = await fetch("api/health", { headers: headers({ Accept: "application/json" }), signal, cache: "no-store" });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new LabError(0, "network", e && e.message ? e.message : String(e));
  }
  // 503 while loading or without a model still carries a useful body.
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!body || typeof body !== "object") {
    if (response.status === 401) throw new LabError(401, "unauthorized", "API key required");
    body = { status: response.ok ? "ok" : "error", message: `HTTP ${response.status}` };
  }
  if (body.error && !body.status) {
    if (response.status === 401) throw new LabError(401, body.error.code || "unauthorized", body.error.message || "API key required");
    body = { status: response.status === 503 ? "no_model" : "error", message: body.error.message || "" };
  }
  const model = body.model;
  let modelName = "";
  let demo = Boolean(body.demo || body.demo_model);
  if (typeof model === "string") modelName = model;
  else if (model && typeof model === "object") {
    modelName = model.name || model.id || model.file || model.path || "";
    if (typeof modelName === "string" && modelName.includes("/")) modelName = modelName.split("/").pop();
    demo = demo || Boolean(model.demo || model.is_demo || model.kind === "demo");
  }
  const backendRaw = body.backend ?? (model && model.backend);
  let backend = typeof backendRaw === "string" ? backendRaw : (backendRaw && (backendRaw.name || backendRaw.kind)) || "";
  return {
    status: String(body.status || "ok").toLowerCase(),
    model: String(modelName || ""),
    backend: String(backend || ""),
    gpuLayers: body.gpu_layers,
    demo,
    message: body.message || body.detail || body.hint || (model && typeof model === "object" && (model.message || model.hint)) || "",
    raw: body,
  };
}

/** Reads a File/Blob into a `data:` URL (base64), as the article's API expects. */
export function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error || new Error("read failed"));
    reader.readAsDataURL(blob);
  });
}

/** The `window` field: a preset name, or centre/width. `default` sends nothing. */
export function windowField(win) {
  if (!win || win.preset === "default") return undefined;
  if (win.preset && win.preset !== "custom") return win.preset;
  if (Number.isFinite(win.center) && Number.isFinite(win.width)) return { center: win.center, width: win.width };
  return undefined;
}

/** The region field: `{"rect": [x0, y0, x1, y1]}` or `{"points": [[x, y]]}`, in original pixels. */
export function regionField(region) {
  if (!region) return undefined;
  if (region.type === "rect") return { rect: [region.x0, region.y0, region.x1, region.y1] };
  return { points: [[region.x, region.y]] };
}

function base64ToBlob(text, type = "image/png") {
  const data = text.includes(",") ? text.slice(text.indexOf(",") + 1) : text;
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

function headerJSON(response, names) {
  for (const name of names) {
    const v = response.headers.get(name);
    if (!v) continue;
    try { return JSON.parse(v); } catch { /* not JSON */ }
    try { return JSON.parse(atob(v)); } catch { /* not base64 JSON either */ }
  }
  return null;
}

/**
 * `POST /api/render`: the file with window/frame/slice → {blob (PNG), metadata}. With
 * `modelInput` (and `region`, drawn as the model sees it) the letterboxed square the model
 * receives, and `letterbox`: where the image sits in it.
 * Accepts either a PNG body (metadata in a header) or JSON carrying the PNG as base64.
 */
export async function render(file, { window: win, frame, slice, region, modelInput, signal } = {}) {
  const body = { image: await dataURL(file) };
  const w = windowField(win);
  if (w !== undefined) body.window = w;
  if (Number.isInteger(frame)) body.frame = frame;
  if (Number.isInteger(slice)) body.slice = slice;
  const r = regionField(region);
  if (r !== undefined) body.region = r;
  if (modelInput) body.model_input = true;
  const response = await request("api/render", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "application/json, image/png" }),
    body: JSON.stringify(body),
    signal,
  });
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (type.startsWith("image/")) {
    const blob = await response.blob();
    const metadata = headerJSON(response, ["X-Medlab-Metadata", "X-Metadata"]) || {};
    return { blob, metadata };
  }
  const json = await response.json();
  const png = json.png ?? json.image ?? json.preview ?? json.data_url ?? json.dataURL ?? json.data;
  if (typeof png !== "string") throw new LabError(500, "bad_render", "the render answer carried no image");
  const metadata = { ...(json.metadata || json.meta || {}) };
  for (const key of ["width", "height", "frames", "slices", "frame", "slice", "window", "format", "modality",
    "number_of_frames", "depth", "original_width", "original_height"]) {
    if (json[key] !== undefined && metadata[key] === undefined) metadata[key] = json[key];
  }
  return { blob: base64ToBlob(png), metadata, letterbox: json.letterbox || null };
}

/**
 * Splits a text/event-stream into events. Handles `\n`, `\r\n` and `\r` line ends, several
 * `data:` lines per event, comments, and chunks that end mid-line or mid-character.
 */
export async function* serverSentEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data = [];
  let event = "message";
  const flushLines = function* (final) {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      if (!match) break;
      // A lone \r at the end of the buffer may be the first half of \r\n.
      if (match[0] === "\r" && match.index === buffer.length - 1 && !final) break;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (data.length) yield { event, data: data.join("\n") };
        data = [];
        event = "message";
      } else if (line.startsWith(":")) {
        // comment / keep-alive
      } else {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value || "message";
      }
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      yield* flushLines(false);
    }
    buffer += decoder.decode();
    if (buffer && !/[\r\n]$/.test(buffer)) buffer += "\n";
    yield* flushLines(true);
    if (data.length) yield { event, data: data.join("\n") };
  } finally {
    try { reader.releaseLock(); } catch { /* already released */ }
  }
}

/**
 * `POST /api/predict` with `"stream": true`. Calls `onDelta(text)` for each piece and returns
 * the final response object. Falls back to a plain JSON answer if the server does not stream.
 */
export async function predictStream(payload, { signal, onDelta, onReasoningDelta } = {}) {
  const response = await request("api/predict", {
    method: "POST",
    // `page`: the lab record notes where the analysis came from.
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream, application/json", "X-MedLab-Client": "page" }),
    body: JSON.stringify({ ...payload, stream: true }),
    signal,
  });
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (!type.includes("text/event-stream") || !response.body) {
    const json = await response.json();
    if (json && json.error) throw new LabError(response.status, json.error.code || "error", json.error.message || String(json.error));
    if (json && typeof json.answer === "string") onDelta?.(json.answer);
    return json;
  }
  let final = null;
  let text = "";
  for await (const ev of serverSentEvents(response.body)) {
    const raw = ev.data.trim();
    if (!raw) continue;
    if (raw === "[DONE]") break;
    let obj;
    try { obj = JSON.parse(raw); } catch {
      // A server may send bare text deltas.
      text += ev.data;
      onDelta?.(ev.data);
      continue;
    }
    if (ev.event === "error" || (obj && obj.error)) {
      const err = obj.error ?? obj;
      const e = new LabError(typeof err.status === "number" ? err.status : 500, err.code || "stream_error",
        err.message || (typeof err === "string" ? err : "the generation failed"));
      e.inStream = true;
      throw e;
    }
    // OpenAI-style chunk, in case the server speaks that shape.
    const choiceDelta = obj.choices && obj.choices[0] && obj.choices[0].delta;
    const delta = typeof obj.delta === "string" ? obj.delta
      : (obj.delta && typeof obj.delta.text === "string") ? obj.delta.text
        : (choiceDelta && typeof choiceDelta.content === "string") ? choiceDelta.content : null;
    const isFinal = typeof obj.answer === "string" || obj.done === true || ev.event === "done" || ev.event === "final";
    // `{"reasoning": "..."}` without an answer is a piece of the model's reasoning block.
    const reasoningDelta = typeof obj.reasoning_delta === "string" ? obj.reasoning_delta
      : (!isFinal && typeof obj.reasoning === "string") ? obj.reasoning
        : (choiceDelta && typeof choiceDelta.reasoning_content === "string") ? choiceDelta.reasoning_content : null;
    if (reasoningDelta) onReasoningDelta?.(reasoningDelta);
    if (delta !== null && !isFinal) {
      text += delta;
      onDelta?.(delta);
    }
    if (isFinal) {
      final = obj.response && typeof obj.response === "object" ? obj.response : obj;
      if (!final.analysis_id && obj.analysis_id) final.analysis_id = obj.analysis_id;
    }
  }
  if (!final) {
    if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
    throw new LabError(0, "stream_incomplete", "the server closed the stream before the final answer");
  }
  if (typeof final.answer !== "string") final.answer = text;
  return final;
}

// ---- the lab record -----------------------------------------------------------------------
export function hasApiKey() { return Boolean(apiKey); }

/** `api/analyses…` with the non-empty `params` as a query string. */
export function recordURL(path = "", params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const query = q.toString();
  return `api/analyses${path}${query ? `?${query}` : ""}`;
}

/** `GET /api/analyses`: {analyses, next_cursor}, newest first. */
export async function listAnalyses(params, signal) {
  const response = await request(recordURL("", params), { headers: headers({ Accept: "application/json" }), signal, cache: "no-store" });
  const body = await response.json();
  return { analyses: Array.isArray(body && body.analyses) ? body.analyses : [], next: (body && body.next_cursor) || null };
}

export async function getAnalysis(id, signal) {
  const response = await request(recordURL(`/${encodeURIComponent(id)}`), { headers: headers({ Accept: "application/json" }), signal, cache: "no-store" });
  return response.json();
}

export async function deleteAnalysis(id) {
  await request(recordURL(`/${encodeURIComponent(id)}`), { method: "DELETE", headers: headers() });
}

/** A record URL as a blob: for `<img>` and downloads when an API key must go with the request. */
export async function recordBlob(url) {
  const response = await request(url, { headers: headers() });
  return response.blob();
}
