// MedGemma Vision Lab — the web page. No build step: ES modules served as they are.

import { initLanguage } from "./i18n.js";
import { initImages, restoreView } from "./images.js";
import { initAsk, showAnalysis, normaliseBoxes } from "./ask.js";
import { initFields } from "./fields.js";
import { initHistory } from "./history.js";
import { initStatus } from "./status.js";
import { initCompare } from "./compare.js";
import { initRegression } from "./regression.js";
import { initViews } from "./views.js";
import { initMeasure } from "./measure.js";
import { initStudyUI } from "./studyui.js";
import { state } from "./state.js";

/** An analysis reopened from the History panel; the image, mark and window too when this page asked it. */
function restore(analysis, item) {
  showAnalysis(analysis, item);
  if (!item) return;
  const entry = state.entries.find((e) => e.id === item.entryId);
  const boxes = entry && item.response ? normaliseBoxes(item.response.boxes, entry) : [];
  const count = item.images ? item.images.length : 1;
  restoreView(item, boxes.filter((b) => b.image === undefined || b.image === null || b.image === count - 1));
}

initLanguage();
initImages();
initMeasure();
initStudyUI();
initFields();
initAsk();
initHistory(restore);
initCompare();
initRegression();
initViews();
initStatus();
document.body.dataset.ready = "1";
