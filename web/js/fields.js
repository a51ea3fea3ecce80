// "Answer as JSON fields": a small editor of (name, type, description) rows under the question,
// the JSON Schema built from them for /api/predict's `schema`, and the answer's object shown as a
// field | value table. The rows are remembered in localStorage (`medlab.fields`).

import { t, onLanguageChange } from "./i18n.js";
import { $, el } from "./state.js";

const STORAGE_KEY = "medlab.fields";
/** The row types, in the order of the menu; `enum` and `array` are built below. */
const TYPES = ["string", "boolean", "integer", "number", "enum", "array"];
const TYPE_KEYS = { string: "fieldTypeString", boolean: "fieldTypeBoolean", integer: "fieldTypeInteger",
  number: "fieldTypeNumber", enum: "fieldTypeEnum", array: "fieldTypeArray" };
const DEFAULT_ROWS = [
  { name: "effusion", type: "boolean", description: "Is there a pleural effusion?", options: "" },
  { name: "side", type: "enum", description: "", options: "left, right, none" },
];

// ---- the editor ---------------------------------------------------------------------------
function rowElements() { return [...$("fields-rows").querySelectorAll(".field-row")]; }

function readRow(li) {
  return {
    name: li.querySelector(".field-name").value,
    type: li.querySelector(".field-type").value,
    description: li.querySelector(".field-desc").value,
    options: li.querySelector(".field-options").value,
  };
}

export function fieldRows() { return rowElements().map(readRow); }

function save() {
  try { localStorage.setItem(STORAGE_KEY, JSON.stringify(fieldRows())); } catch { /* storage blocked */ }
}

function loadRows() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    if (Array.isArray(saved)) {
      return saved.filter((r) => r && typeof r === "object").map((r) => ({
        name: String(r.name ?? ""), type: TYPES.includes(r.type) ? r.type : "string",
        description: String(r.description ?? ""), options: String(r.options ?? ""),
      }));
    }
  } catch { /* unreadable: the examples */ }
  return DEFAULT_ROWS.map((r) => ({ ...r }));
}

function showOptions(li) {
  const isEnum = li.querySelector(".field-type").value === "enum";
  li.querySelector(".field-options").hidden = !isEnum;
  li.dataset.type = li.querySelector(".field-type").value;
}

function addRow(row = { name: "", type: "string", description: "", options: "" }, focus = false) {
  const li = el("li", "field-row");
  const name = el("input", "field-name");
  name.type = "text";
  name.autocomplete = "off";
  name.spellcheck = false;
  name.value = row.name;
  const type = el("select", "field-type");
  for (const value of TYPES) {
    const option = el("option");
    option.value = value;
    type.append(option);
  }
  type.value = TYPES.includes(row.type) ? row.type : "string";
  const desc = el("input", "field-desc");
  desc.type = "text";
  desc.autocomplete = "off";
  desc.value = row.description || "";
  const remove = el("button", "field-remove", "×");
  remove.type = "button";
  const options = el("input", "field-options");
  options.type = "text";
  options.autocomplete = "off";
  options.value = row.options || "";
  type.addEventListener("change", () => {
    showOptions(li);
    if (type.value === "enum") options.focus();
  });
  remove.addEventListener("click", () => {
    const i = rowElements().indexOf(li);
    li.remove();
    labelRows();
    changed();
    const rest = rowElements();
    if (rest.length) rest[Math.min(i, rest.length - 1)].querySelector(".field-name").focus();
    else $("fields-add").focus();
  });
  li.append(name, type, desc, remove, options);
  $("fields-rows").append(li);
  showOptions(li);
  labelRows();
  if (focus) name.focus();
}

/** Labels, placeholders and menu texts of every row, in the interface language. */
function labelRows() {
  rowElements().forEach((li, i) => {
    const n = i + 1;
    const name = li.querySelector(".field-name");
    name.setAttribute("aria-label", t("fieldNameN", { n }));
    name.placeholder = t("fieldNamePlaceholder");
    const type = li.querySelector(".field-type");
    type.setAttribute("aria-label", t("fieldTypeN", { n }));
    for (const option of type.options) option.textContent = t(TYPE_KEYS[option.value]);
    const desc = li.querySelector(".field-desc");
    desc.setAttribute("aria-label", t("fieldDescN", { n }));
    desc.placeholder = t("fieldDescPlaceholder");
    const options = li.querySelector(".field-options");
    options.setAttribute("aria-label", t("fieldOptionsN", { n }));
    options.placeholder = t("fieldOptionsPlaceholder");
    const remove = li.querySelector(".field-remove");
    remove.setAttribute("aria-label", t("fieldRemoveN", { n }));
    remove.title = t("fieldRemoveN", { n });
  });
}

/** After any edit: remember the rows, and re-check them if an error is on screen. */
function changed() {
  save();
  if (!$("fields-error").hidden) fieldsSchema();
}

export function fieldsOn() { return $("fields-on").checked; }

function choices(text) {
  const seen = [];
  for (const part of String(text).split(/[,，、]/)) {
    const v = part.trim();
    if (v && !seen.includes(v)) seen.push(v);
  }
  return seen;
}

let lastError = null; // {key, params} of the error on screen, to translate it again

function setError(error, rows = []) {
  lastError = error;
  for (const li of rowElements()) {
    for (const input of li.querySelectorAll(".field-name, .field-options")) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }
  for (const { li, part } of rows) {
    const input = li.querySelector(part);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "fields-error");
  }
  const box = $("fields-error");
  box.textContent = error ? t(error.key, error.params) : "";
  box.hidden = !error;
}

/**
 * The JSON Schema of the rows: `{schema, names}`, or `{error}` (shown inline, the first bad
 * input focused when `focus`). Every field is required; no number bounds (the server refuses
 * them on anything but integers).
 */
export function fieldsSchema(focus = false) {
  const lis = rowElements();
  const properties = {};
  const names = [];
  let error = null;
  let bad = [];
  if (!lis.length) error = { key: "fieldsErrNone", params: {} };
  for (const [i, li] of lis.entries()) {
    if (error) break;
    const row = readRow(li);
    const name = row.name.trim();
    if (!name) { error = { key: "fieldsErrEmpty", params: { n: i + 1 } }; bad = [{ li, part: ".field-name" }]; break; }
    if (names.includes(name)) {
      error = { key: "fieldsErrDuplicate", params: { name } };
      // The later one first: that is the one to rename (and the one focused).
      bad = [li, ...lis.filter((other) => other !== li && other.querySelector(".field-name").value.trim() === name)]
        .map((other) => ({ li: other, part: ".field-name" }));
      break;
    }
    let prop;
    if (row.type === "enum") {
      const list = choices(row.options);
      if (!list.length) { error = { key: "fieldsErrChoices", params: { name } }; bad = [{ li, part: ".field-options" }]; break; }
      prop = { type: "string", enum: list };
    } else if (row.type === "array") prop = { type: "array", items: { type: "string" } };
    else prop = { type: TYPES.includes(row.type) ? row.type : "string" };
    const description = row.description.trim();
    if (description) prop.description = description;
    properties[name] = prop;
    names.push(name);
  }
  setError(error, bad);
  if (error) {
    if (focus) (bad[0] ? bad[0].li.querySelector(bad[0].part) : $("fields-add")).focus();
    return { error: t(error.key, error.params) };
  }
  return { schema: { type: "object", properties, required: names }, names };
}

// ---- the answer as a table ------------------------------------------------------------------
function cellText(value) {
  if (value === true) return `✓ ${t("fieldYes")}`;
  if (value === false) return `✗ ${t("fieldNo")}`;
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Shows `response.json` as a field | value table (the asked fields first, in the editor's order)
 * and `response.json_error` as an error; `rawOpen` says whether the JSON text stays on screen.
 * `item` null hides it all.
 */
export function showFieldsResult(item) {
  const box = $("fields-result");
  const response = item && item.response;
  const json = response && response.json && typeof response.json === "object" && !Array.isArray(response.json) ? response.json : null;
  const jsonError = response && typeof response.json_error === "string" ? response.json_error : "";
  if (!item || !item.fields || (!json && !jsonError)) {
    box.hidden = true;
    $("answer").hidden = false;
    return;
  }
  box.hidden = false;
  const body = $("fields-table").tBodies[0];
  body.replaceChildren();
  $("fields-table").hidden = !json;
  $("fields-raw-toggle").hidden = !json;
  if (json) {
    const keys = [...item.fields.filter((k) => k in json), ...Object.keys(json).filter((k) => !item.fields.includes(k))];
    for (const key of keys) {
      const tr = el("tr");
      tr.dataset.field = key;
      const th = el("th", "", key);
      th.scope = "row";
      const value = json[key];
      const td = el("td", "", cellText(value));
      td.dataset.kind = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
      tr.append(th, td);
      body.append(tr);
    }
  }
  const err = $("fields-json-error");
  err.textContent = jsonError ? t("fieldsJsonError", { message: jsonError }) : "";
  err.hidden = !jsonError;
  // With a table the raw JSON is folded away behind "Show JSON"; without one it stays visible.
  setRawOpen(json ? Boolean(item.rawOpen) : true, item);
}

let shownItem = null;

function setRawOpen(open, item = shownItem) {
  shownItem = item;
  if (item) item.rawOpen = open;
  $("answer").hidden = !open;
  const toggle = $("fields-raw-toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = t(open ? "fieldsHideJson" : "fieldsShowJson");
}

export function initFields() {
  for (const row of loadRows()) addRow(row);
  const on = $("fields-on");
  on.addEventListener("change", () => {
    $("fields-editor").hidden = !on.checked;
    if (!on.checked) setError(null);
  });
  $("fields-editor").hidden = !on.checked;
  $("fields-add").addEventListener("click", () => { addRow(undefined, true); changed(); });
  $("fields-rows").addEventListener("input", changed);
  $("fields-rows").addEventListener("change", changed);
  $("fields-raw-toggle").addEventListener("click", () => setRawOpen($("answer").hidden));
  onLanguageChange(() => {
    labelRows();
    if (lastError) $("fields-error").textContent = t(lastError.key, lastError.params);
    if (shownItem && !$("fields-result").hidden) showFieldsResult(shownItem);
  });
  labelRows();
}
