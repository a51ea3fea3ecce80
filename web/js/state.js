// State shared by the page's modules, and two DOM helpers.

export const $ = (id) => document.getElementById(id);

export const state = {
  entries: [], // loaded images (see files.js makeEntry), in upload order
  activeId: null,
  viewer: null,
  busy: false, // a question is being answered
};

export function activeEntry() {
  return state.entries.find((e) => e.id === state.activeId) || null;
}

/** Shows an error in an alert box (readable text, never a silent failure); "" hides it. */
export function showErrorIn(boxId, message) {
  const box = $(boxId);
  box.textContent = message || "";
  box.hidden = !message;
}

/** Shows an error in the page's main alert region. */
export function showError(message) { showErrorIn("error", message); }

/** A new element with an optional class and text. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

let toastTimer = 0;
export function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 2200);
}

/** The window presets of SPEC M3, centre/width in HU. */
export const PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  abdomen: { center: 50, width: 400 },
};
