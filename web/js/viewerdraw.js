// Drawing on the preview canvas, over the image: the mark, the model's boxes, the model-view
// square, and measurements. Each takes the Viewer (for its ctx and toScreen) first.

// Red, as the server draws the mark onto the image the model sees.
const MARK = "#ff3b30";
const BOX = "#35d0ff";
// Model view: the square's edge, the image's rectangle.
const SQUARE = "#9fb3c8";
const CONTENT = "#ffb020";
// Measurements: amber, as viewers commonly draw annotations.
const MEASURE = "#ffd60a";

/** A measurement: a line, a rectangle, an ellipse or a probe's cross, with its label. */
export function drawMeasure(v, m, live = false) {
  const { ctx } = v;
  const a = v.toScreen(m.x0, m.y0);
  const b = v.toScreen(m.x1 ?? m.x0, m.y1 ?? m.y0);
  ctx.save();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = MEASURE;
  ctx.shadowColor = "rgba(0,0,0,0.9)";
  ctx.shadowBlur = 2;
  if (live) ctx.setLineDash([5, 4]);
  ctx.beginPath();
  const left = Math.min(a.x, b.x);
  const top = Math.min(a.y, b.y);
  const w = Math.abs(b.x - a.x);
  const h = Math.abs(b.y - a.y);
  if (m.kind === "length") {
    ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y);
    for (const p of [a, b]) { ctx.moveTo(p.x + 4, p.y); ctx.arc(p.x, p.y, 4, 0, Math.PI * 2); }
  } else if (m.kind === "rect") {
    ctx.rect(left, top, w, h);
  } else if (m.kind === "ellipse") {
    ctx.ellipse(left + w / 2, top + h / 2, w / 2, h / 2, 0, 0, Math.PI * 2);
  } else {
    ctx.moveTo(a.x - 9, a.y); ctx.lineTo(a.x - 3, a.y); ctx.moveTo(a.x + 3, a.y); ctx.lineTo(a.x + 9, a.y);
    ctx.moveTo(a.x, a.y - 9); ctx.lineTo(a.x, a.y - 3); ctx.moveTo(a.x, a.y + 3); ctx.lineTo(a.x, a.y + 9);
  }
  ctx.stroke();
  if (m.label) {
    ctx.shadowBlur = 0;
    ctx.font = "600 12px system-ui, sans-serif";
    const tw = ctx.measureText(m.label).width + 8;
    const x = m.kind === "length" ? Math.max(a.x, b.x) + 6 : m.kind === "probe" ? a.x + 10 : left;
    const y = m.kind === "length" ? (a.y + b.y) / 2 - 9 : m.kind === "probe" ? a.y - 20 : top + h + 3;
    ctx.fillStyle = "rgba(0, 0, 0, 0.7)";
    ctx.fillRect(x, y, tw, 18);
    ctx.fillStyle = MEASURE;
    ctx.fillText(m.label, x + 4, y + 13);
  }
  ctx.restore();
}

/** Model view: the square's edge (just outside it) and the image's rectangle (dashed). */
export function drawSquare(v, s) {
  const { ctx } = v;
  const a = v.toScreen(0, 0);
  const b = v.toScreen(s.side, s.side);
  const c = v.toScreen(s.x, s.y);
  const d = v.toScreen(s.x + s.w, s.y + s.h);
  ctx.save();
  ctx.lineWidth = 1;
  ctx.strokeStyle = SQUARE;
  ctx.strokeRect(a.x - 1.5, a.y - 1.5, b.x - a.x + 3, b.y - a.y + 3);
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = CONTENT;
  ctx.setLineDash([6, 4]);
  ctx.strokeRect(c.x, c.y, d.x - c.x, d.y - c.y);
  ctx.restore();
}

export function drawRegion(v, r, live = false) {
  const { ctx } = v;
  ctx.save();
  ctx.lineWidth = 2.5;
  ctx.shadowColor = "rgba(0,0,0,0.8)";
  ctx.shadowBlur = 3;
  ctx.strokeStyle = MARK;
  if (live) ctx.setLineDash([6, 4]);
  if (r.type === "rect") {
    const a = v.toScreen(r.x0, r.y0);
    const b = v.toScreen(r.x1, r.y1);
    ctx.strokeRect(Math.min(a.x, b.x), Math.min(a.y, b.y), Math.abs(b.x - a.x), Math.abs(b.y - a.y));
  } else {
    const p = v.toScreen(r.x, r.y);
    ctx.beginPath();
    ctx.arc(p.x, p.y, 14, 0, Math.PI * 2);
    ctx.moveTo(p.x - 22, p.y); ctx.lineTo(p.x - 8, p.y);
    ctx.moveTo(p.x + 8, p.y); ctx.lineTo(p.x + 22, p.y);
    ctx.moveTo(p.x, p.y - 22); ctx.lineTo(p.x, p.y - 8);
    ctx.moveTo(p.x, p.y + 8); ctx.lineTo(p.x, p.y + 22);
    ctx.stroke();
  }
  ctx.restore();
}

export function drawBox(v, box, index) {
  const { ctx } = v;
  const a = v.toScreen(box.x0, box.y0);
  const b = v.toScreen(box.x1, box.y1);
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  const w = Math.abs(b.x - a.x);
  const h = Math.abs(b.y - a.y);
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = BOX;
  ctx.shadowColor = "rgba(0,0,0,0.8)";
  ctx.shadowBlur = 3;
  ctx.strokeRect(x, y, w, h);
  ctx.shadowBlur = 0;
  const label = `${index + 1}. ${box.label || ""}`.trim();
  ctx.font = "600 14px system-ui, sans-serif";
  const tw = ctx.measureText(label).width + 10;
  const ly = y - 22 >= 0 ? y - 22 : y + h + 2;
  ctx.fillStyle = "rgba(8, 40, 80, 0.85)";
  ctx.fillRect(x, ly, tw, 20);
  ctx.fillStyle = "#ffffff";
  ctx.fillText(label, x + 5, ly + 15);
  ctx.restore();
}
