// The page's views as tabs under the header: Ask (images, question, answer, History), Compare
// and Regression. The view is kept in location.hash (#compare, #regression; none for Ask), so a
// reload, a bookmark or the Back button brings it back. Arrow keys, Home and End move between tabs.

import { t, onLanguageChange } from "./i18n.js";
import { routeDroppedFiles } from "./images.js";
import { $ } from "./state.js";

const VIEWS = ["ask", "compare", "regression"];
/** Per view: onShow() when it appears, onDrop(files) for files dropped or pasted on the page. */
const hooks = {};
let current = "ask";

export function registerView(name, { onShow, onDrop, overlayKey } = {}) {
  hooks[name] = { onShow, onDrop, overlayKey };
}

export function currentView() { return current; }

/** The view a hash names; `null` for other anchors (the skip link's #question), which change nothing. */
function fromHash() {
  const name = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (!name) return "ask";
  return VIEWS.includes(name) ? name : null;
}

function tabs() { return [...document.querySelectorAll('[role="tab"][data-view]')]; }

function overlayText() {
  const p = document.querySelector("#drop-overlay p");
  const key = (hooks[current] && hooks[current].overlayKey) || "dropOverlay";
  p.dataset.i18n = key;
  p.textContent = t(key);
}

function show(name) {
  const changed = name !== current || !document.body.dataset.view;
  current = name;
  document.body.dataset.view = name;
  for (const tab of tabs()) {
    const on = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  $("skip").hidden = name !== "ask";
  const hook = hooks[name] || {};
  routeDroppedFiles(hook.onDrop || null);
  overlayText();
  if (changed) hook.onShow?.();
}

/** Switches to `name` and remembers it in the address (a history entry, so Back returns). */
export function selectView(name) {
  if (!VIEWS.includes(name)) return;
  const hash = name === "ask" ? "" : `#${name}`;
  if ((location.hash || "") !== hash) history.pushState(null, "", hash || `${location.pathname}${location.search}`);
  show(name);
}

function onKey(e) {
  const list = tabs();
  const i = list.indexOf(document.activeElement);
  if (i < 0) return;
  let j = null;
  if (e.key === "ArrowRight" || e.key === "ArrowDown") j = (i + 1) % list.length;
  else if (e.key === "ArrowLeft" || e.key === "ArrowUp") j = (i - 1 + list.length) % list.length;
  else if (e.key === "Home") j = 0;
  else if (e.key === "End") j = list.length - 1;
  if (j === null) return;
  e.preventDefault();
  list[j].focus();
  selectView(list[j].dataset.view);
}

export function initViews() {
  for (const tab of tabs()) tab.addEventListener("click", () => selectView(tab.dataset.view));
  $("view-tabs").addEventListener("keydown", onKey);
  const follow = () => { const name = fromHash(); if (name) show(name); };
  window.addEventListener("popstate", follow);
  window.addEventListener("hashchange", follow);
  onLanguageChange(overlayText);
  document.body.dataset.view = "";
  show(fromHash() || "ask");
}
