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

/** Shows an error in the alert region (readable text, never a silent failure). */
export function showError(message) {
  const box = $("error");
  if (!message) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = message;
  box.hidden = false;
}

let toastTimer = 0;
export function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 2200);
}

/** The window presets of SPEC M3, centre/width in HU. */
export const PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  abdomen: { center: 50, width: 400 },
};
