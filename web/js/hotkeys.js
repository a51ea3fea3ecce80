// The viewer's keys, as OHIF binds them, anywhere on the Ask view except while typing: slices,
// invert, rotate, flip, reset, cine, window presets, zoom; `?` shows them all.

import { t, onLanguageChange } from "./i18n.js";
import { $, el } from "./state.js";

/** Presets 1–5: the server's named CT windows (soft tissue is its mediastinum window). */
export const PRESET_KEYS = ["mediastinum", "lung", "bone", "brain", "abdomen"];

/** What the help overlay lists: keys (an "@" names an i18n key: a word, not a key cap) and what they do. */
const BINDINGS = [
  ["↑ / ↓", "keySlice"], ["Home / End", "keyFirstLast"], ["PageUp / PageDown", "keySlice"],
  ["@keyWheel", "keyWheelDo"], ["i", "keyInvert"], ["r / l", "keyRotate"], ["h / v", "keyFlip"],
  ["@keySpace", "keyReset"], ["c", "keyCine"], ["1 – 5", "keyPresets"], ["+ / − / =", "keyZoom"],
  ["P / W / M", "keyTools"], ["@keyLeftDrag", "keyLeftDragDo"], ["@keyMiddleDrag", "keyPan"],
  ["@keyRightDrag", "keyZoomDrag"], ["?", "keyHelp"], ["Esc", "keyEsc"],
];

let cine = 0;
let actions = null;

/** Typing in a field (or a select, a slider, a focused tab list) keeps its keys. */
function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.closest('[role="tablist"]')) return true;
  // A checkbox or a radio button takes no typing; a slider keeps its arrows.
  if (target.tagName === "INPUT") return !["checkbox", "radio", "button", "submit", "reset", "file"].includes(target.type);
  return ["TEXTAREA", "SELECT"].includes(target.tagName);
}

export function cineRunning() { return Boolean(cine); }

/** c: plays through the slices (wrapping round), or stops. */
export function toggleCine(force) {
  const run = force === undefined ? !cine : force;
  clearInterval(cine);
  cine = 0;
  if (run && actions && actions.hasSlices()) {
    cine = setInterval(() => { if (!actions.stepSlice(1, true)) toggleCine(false); }, 125);
  }
  $("viewer").dataset.cine = cine ? "on" : "off";
  actions?.onCine?.(Boolean(cine));
}

function renderHelp() {
  const body = $("help-body");
  body.replaceChildren();
  for (const [keys, what] of BINDINGS) {
    const tr = el("tr");
    const th = el("th", "", keys.startsWith("@") ? t(keys.slice(1)) : keys);
    th.scope = "row";
    tr.append(th, el("td", "", t(what)));
    body.append(tr);
  }
}

export function toggleHelp(open) {
  const help = $("help");
  const show = open === undefined ? help.hidden : open;
  if (show) renderHelp();
  help.hidden = !show;
  if (show) $("help-close").focus({ preventScroll: true });
}

function onKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if ($("view-ask").hidden) return;
  const help = !$("help").hidden;
  if (e.key === "?") { e.preventDefault(); toggleHelp(); return; }
  if (help) {
    if (e.key === "Escape") { e.preventDefault(); toggleHelp(false); }
    return;
  }
  if (!actions || !actions.hasImage()) return;
  // A focused button keeps Space and Enter.
  if ((e.key === " " || e.key === "Enter") && e.target instanceof Element && e.target.closest("button, a, summary, label")) return;
  const preset = /^[1-5]$/.test(e.key) ? PRESET_KEYS[Number(e.key) - 1] : null;
  const keys = {
    ArrowUp: () => actions.stepSlice(-1), ArrowDown: () => actions.stepSlice(1),
    PageUp: () => actions.stepSlice(-1), PageDown: () => actions.stepSlice(1),
    Home: () => actions.toSlice(0), End: () => actions.toSlice(Infinity),
    i: () => actions.invert(), r: () => actions.rotate(1), l: () => actions.rotate(-1),
    h: () => actions.flip(true), v: () => actions.flip(false), " ": () => { toggleCine(false); actions.reset(); },
    c: () => toggleCine(), "+": () => actions.zoom(1.25), "-": () => actions.zoom(0.8), "=": () => actions.fit(),
  };
  const fn = preset ? () => actions.preset(preset) : keys[e.key] ?? keys[e.key.length === 1 ? e.key.toLowerCase() : ""];
  if (!fn) return;
  // Arrows and Home/End only when nothing else on the page wants them (a list, the page scroll).
  if (["ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"].includes(e.key) && !actions.hasSlices()) return;
  e.preventDefault();
  fn();
}

/** `api`: the viewer's actions (see images.js `viewerActions`). */
export function initHotkeys(api) {
  actions = api;
  document.addEventListener("keydown", onKey);
  $("help-toggle").addEventListener("click", () => toggleHelp());
  $("help-close").addEventListener("click", () => toggleHelp(false));
  $("help").addEventListener("click", (e) => { if (e.target === $("help")) toggleHelp(false); });
  onLanguageChange(() => { if (!$("help").hidden) renderHelp(); });
}
