// "Model view": in place of the preview, the square the model receives for the image on screen
// (`POST /api/render` with `model_input`: the same window, frame or slice and mark), with the
// padding visible and the image's rectangle outlined.

import { render } from "./api.js";
import { decodeBlob, storedFrame } from "./files.js";
import { t, onLanguageChange } from "./i18n.js";
import { $, state } from "./state.js";

let on = false;
let latest = 0; // the newest request; older answers are dropped
let shown = null; // the letterbox of the square on screen

export function modelViewOn() { return on; }

/** Shows `entry` as the model receives it (a later call wins over one still in flight). */
export async function showModelInput(entry, keepView = false) {
  const ticket = ++latest;
  const { blob, letterbox } = await render(entry.file, {
    window: entry.window,
    frame: entry.frames > 1 ? storedFrame(entry) : undefined,
    slice: entry.slices > 1 ? entry.slice : undefined,
    region: entry.region,
    modelInput: true,
  });
  const image = await decodeBlob(blob);
  if (ticket !== latest || !on || state.activeId !== entry.id) return;
  const side = (letterbox && letterbox.side) || image.width;
  const box = letterbox
    ? { side, x: letterbox.offset_x, y: letterbox.offset_y, w: letterbox.content_width, h: letterbox.content_height }
    : { side, x: 0, y: 0, w: side, h: side };
  state.viewer.setModelView(box);
  state.viewer.setImage(image, { width: side, height: side }, keepView);
  shown = box;
  describe();
}

function describe() {
  const info = $("model-view-info");
  info.hidden = !(on && shown);
  info.textContent = on && shown ? t("modelViewInfo", shown) : "";
  $("viewer").dataset.view = on ? "model" : "preview";
  $("viewer").dataset.side = on && shown ? String(shown.side) : "";
}

/** Wires the toggle; `redisplay` shows the active image again in whichever view is on. */
export function initModelView(redisplay) {
  const button = $("model-view");
  button.addEventListener("click", () => {
    on = !on;
    button.setAttribute("aria-pressed", String(on));
    document.querySelector('[data-tool="mark"]').disabled = on;
    latest += 1;
    shown = null;
    if (!on) state.viewer.setModelView(null);
    describe();
    redisplay();
  });
  onLanguageChange(describe);
  describe();
}
