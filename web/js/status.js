// The model status badge, from `GET /api/health`, with what to do when it is not ready.

import { health, LabError } from "./api.js";
import { t, onLanguageChange } from "./i18n.js";
import { $ } from "./state.js";

let last = null;
let timer = 0;

function backendName(b) {
  const s = String(b || "").toLowerCase();
  if (!s) return "";
  if (s === "cpu") return "CPU";
  if (s.includes("cuda") || s.includes("gpu")) return `GPU (${s.toUpperCase()})`;
  return s.toUpperCase();
}

function show() {
  const badge = $("status");
  const detail = $("status-detail");
  if (!last) return;
  let state = last.status;
  let text;
  let help = "";
  const model = last.model || "MedGemma";
  const backend = backendName(last.backend) || "CPU";
  if (last.offline) { state = "offline"; text = t("statusOffline"); help = t("detailOffline"); }
  else if (state === "ok" || state === "ready") {
    state = last.demo ? "demo" : "ok";
    text = last.demo ? t("statusDemo", { backend }) : t("statusOk", { model, backend });
    help = last.demo ? t("detailDemo") : t("detailOk", { model, backend });
  } else if (state === "loading") { text = t("statusLoading"); help = t("detailLoading"); }
  else if (state === "no_model") { text = t("statusNoModel"); help = t("detailNoModel"); }
  else { state = "error"; text = t("statusError"); help = t("detailError"); }
  // The server's own words help when something is wrong (which file is missing, why loading failed).
  if (last.message && !["ok", "demo", "loading"].includes(state)) help += `\n${last.message}`;
  badge.dataset.state = state;
  $("status-text").textContent = text;
  detail.textContent = help;
  detail.dataset.state = state;
  // Anything but "ready" explains itself without a click; the demo notice stays visible.
  if (state !== "ok") detail.hidden = false;
  else if (!badge.dataset.userOpened) detail.hidden = true;
  badge.setAttribute("aria-expanded", String(!detail.hidden));
}

async function poll() {
  clearTimeout(timer);
  try {
    last = await health();
  } catch (e) {
    last = e instanceof LabError && e.status === 401
      ? { status: "error", message: e.message } : { status: "error", offline: true };
  }
  show();
  // The History panel reads the record's status (ok, degraded, off) from the same answer.
  if (last.raw) document.dispatchEvent(new CustomEvent("medlab:health", { detail: last.raw }));
  const quick = last.offline || last.status === "loading";
  timer = setTimeout(poll, quick ? 3000 : 30000);
}

export function initStatus() {
  $("status").addEventListener("click", () => {
    const detail = $("status-detail");
    detail.hidden = !detail.hidden;
    $("status").dataset.userOpened = detail.hidden ? "" : "1";
    $("status").setAttribute("aria-expanded", String(!detail.hidden));
  });
  onLanguageChange(show);
  document.addEventListener("medlab:network-error", () => poll());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  poll();
}

export function refreshStatus() { poll(); }
