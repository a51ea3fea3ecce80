// Each regression set's pass rates over its runs, as a small inline SVG chart: x = run order
// (oldest first), y = pass rate 0–100 %, one series per model checksum (its first 8 characters
// in the legend). Every point is a button (Tab, Enter) that opens its run's report.

import { t } from "./i18n.js";
import { percent, shortSum, when } from "./experiments.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1d5fa6", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#495057"];
const W = 360;
const H = 150;
const M = { left: 38, right: 12, top: 10, bottom: 24 };

function node(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Runs grouped by set name: the most recently run set first, each set's runs oldest first. */
export function groupRuns(runs) {
  const sets = new Map();
  for (const run of runs) {
    const name = run.name || "—";
    if (!sets.has(name)) sets.set(name, []);
    sets.get(name).push(run);
  }
  const stamp = (r) => String(r.created_at || "").replace(" ", "T");
  for (const list of sets.values()) list.sort((a, b) => (stamp(a) < stamp(b) ? -1 : stamp(a) > stamp(b) ? 1 : 0));
  return sets;
}

function chart(name, list, { onOpen, activeId }) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  fig.dataset.set = name;
  const caption = document.createElement("figcaption");
  const title = document.createElement("strong");
  title.textContent = name;
  const last = list[list.length - 1];
  caption.append(title, ` · ${t("regRuns", { n: list.length })} · ${t("regLatest", { rate: percent(last.pass_rate) })}`);
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, role: "group", "aria-label": t("regChartLabel", { set: name }) });
  const x0 = M.left;
  const x1 = W - M.right;
  const y = (rate) => M.top + (1 - Math.max(0, Math.min(1, Number(rate) || 0))) * (H - M.top - M.bottom);
  const x = (i) => (list.length === 1 ? (x0 + x1) / 2 : x0 + (i * (x1 - x0)) / (list.length - 1));
  for (const rate of [0, 0.5, 1]) {
    svg.append(node("line", { x1: x0, x2: x1, y1: y(rate), y2: y(rate), class: rate ? "grid-line" : "axis-line" }),
      node("text", { x: x0 - 6, y: y(rate) + 4, class: "tick", "text-anchor": "end" }, `${rate * 100}%`));
  }
  const step = Math.max(1, Math.ceil(list.length / 8));
  list.forEach((_, i) => {
    if (i % step && i !== list.length - 1) return;
    svg.append(node("text", { x: x(i), y: H - 6, class: "tick", "text-anchor": "middle" }, String(i + 1)));
  });
  // One series per model checksum, in the order the models first appear.
  const series = new Map();
  list.forEach((run, i) => {
    const key = run.model_sha256 || "";
    if (!series.has(key)) series.set(key, { color: COLORS[series.size % COLORS.length], file: run.model_file, points: [] });
    series.get(key).points.push({ run, i });
  });
  for (const s of series.values()) {
    if (s.points.length > 1) {
      svg.append(node("polyline", { class: "series", stroke: s.color,
        points: s.points.map((p) => `${x(p.i).toFixed(1)},${y(p.run.pass_rate).toFixed(1)}`).join(" ") }));
    }
  }
  for (const [key, s] of series) {
    for (const { run, i } of s.points) {
      const label = t("regPointLabel", { n: i + 1, rate: percent(run.pass_rate), model: shortSum(key) || t("regUnknownModel"),
        when: when(run.created_at) });
      const point = node("circle", { cx: x(i), cy: y(run.pass_rate), r: 5, fill: s.color, class: "point", tabindex: 0,
        role: "button", "aria-label": label, "data-run-id": run.id, "data-model": shortSum(key) });
      point.append(node("title", {}, label));
      if (run.id === activeId) point.classList.add("active");
      point.addEventListener("click", () => onOpen(run.id));
      point.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onOpen(run.id); }
      });
      svg.append(point);
    }
  }
  const legend = document.createElement("ul");
  legend.className = "chart-legend";
  for (const [key, s] of series) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = s.color;
    const code = document.createElement("code");
    code.textContent = shortSum(key) || t("regUnknownModel");
    li.title = [s.file, key].filter(Boolean).join("\n");
    li.append(swatch, code, s.file ? ` ${s.file}` : "");
    legend.append(li);
  }
  fig.append(caption, svg, legend);
  return fig;
}

/** Draws one chart per set into `box`; `onOpen(runId)` opens a run, `activeId` is the one shown. */
export function renderCharts(box, runs, options) {
  const sets = groupRuns(runs);
  box.replaceChildren(...[...sets].map(([name, list]) => chart(name, list, options)));
}
