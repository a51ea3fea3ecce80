// This browser session's questions and answers: thumbnail, question, answer, time; one click
// restores an item. Kept in sessionStorage (without the images) so a reload keeps the list.

import { t, language, onLanguageChange } from "./i18n.js";
import { splitReasoning } from "./markdown.js";
import { $ } from "./state.js";

const KEY = "medlab.history";
const LIMIT = 50;
let items = [];
let restore = () => {};

function save() {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(items));
  } catch {
    // Over the quota: keep the newest half.
    items = items.slice(0, Math.ceil(items.length / 2));
    try { sessionStorage.setItem(KEY, JSON.stringify(items)); } catch { /* give up persisting */ }
  }
}

export function addHistory(item) {
  items.unshift({ ...item, id: `${Date.now()}-${Math.random().toString(16).slice(2, 8)}` });
  items = items.slice(0, LIMIT);
  save();
  renderHistory();
}

function time(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString(language() === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function renderHistory() {
  const list = $("history-list");
  list.replaceChildren();
  $("history-empty").hidden = items.length > 0;
  for (const item of items) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "history-item";
    b.title = t("restore");
    if (item.thumb) {
      const img = document.createElement("img");
      img.src = item.thumb;
      img.alt = "";
      b.append(img);
    }
    const body = document.createElement("span");
    body.className = "history-body";
    const q = document.createElement("span");
    q.className = "history-q";
    q.textContent = item.question;
    const a = document.createElement("span");
    a.className = "history-a";
    const answer = splitReasoning((item.response && item.response.answer) || "").answer.replace(/\s+/g, " ").trim();
    a.textContent = answer.length > 140 ? `${answer.slice(0, 140)}…` : answer;
    const meta = document.createElement("span");
    meta.className = "history-time";
    meta.textContent = `${time(item.time)} · ${item.images.join(", ")}${item.stopped ? ` · ${t("stateStopped")}` : ""}`;
    body.append(q, a, meta);
    b.append(body);
    b.addEventListener("click", () => restore(item));
    li.append(b);
    list.append(li);
  }
}

export function initHistory(onRestore) {
  restore = onRestore;
  try { items = JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch { items = []; }
  if (!Array.isArray(items)) items = [];
  $("clear-history").addEventListener("click", () => { items = []; save(); renderHistory(); });
  onLanguageChange(renderHistory);
  renderHistory();
}
