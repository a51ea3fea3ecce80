// The preview canvas: zoom and pan, window/level by dragging, marking a region, measuring, and
// drawing the model's boxes; rotation, flips and inversion are display-only. Everything the rest
// of the page sees is in original pixel coordinates.

import { drawBox, drawMeasure, drawRegion, drawSquare } from "./viewerdraw.js";

// Model view: the backdrop, lighter than the black padding.
const BACKDROP = "#2b3846";
const MEASURE_TOOLS = new Set(["length", "rect", "ellipse", "probe"]);
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 40;

export class Viewer {
  constructor(canvas, { onRegion, onWindowDrag, onSliceStep, onWheelSlice, onTool, onZoom, onView, onMeasure } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.image = null; // ImageBitmap or HTMLImageElement of the preview
    this.origWidth = 0;
    this.origHeight = 0;
    this.scale = 1; // CSS px per preview px
    this.tx = 0;
    this.ty = 0;
    this.tool = "pan";
    this.region = null; // {type: "point", x, y} | {type: "rect", x0, y0, x1, y1}, original px
    this.boxes = [];
    this.showBoxes = true;
    this.windowEnabled = false;
    this.drag = null;
    this.fitted = true;
    this.square = null; // model view: {side, x, y, w, h} in square pixels; the mark and boxes are in the pixels
    this.rotation = 0; // quarter turns clockwise
    this.flipH = false;
    this.flipV = false;
    this.invert = false; // drawn inverted (a study's series is inverted by the server instead)
    this.measureEnabled = false;
    this.measures = []; // {kind, x0, y0, x1, y1, label} in original px, for the slice on screen
    this.wheelRest = 0;
    this.cb = { onRegion, onWindowDrag, onSliceStep, onWheelSlice, onTool, onZoom, onView, onMeasure };
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas.parentElement);
    this.bindEvents();
    this.resize();
  }

  // ---- coordinates ------------------------------------------------------------------------
  get previewWidth() { return this.image ? (this.image.naturalWidth || this.image.width) : 0; }
  get previewHeight() { return this.image ? (this.image.naturalHeight || this.image.height) : 0; }
  /** Original pixels per preview pixel (a render may be smaller than the file). */
  get ratioX() { return this.previewWidth ? this.origWidth / this.previewWidth : 1; }
  get ratioY() { return this.previewHeight ? this.origHeight / this.previewHeight : 1; }

  /** The preview's size as displayed (a quarter turn swaps width and height). */
  get displayWidth() { return this.rotation % 2 ? this.previewHeight : this.previewWidth; }
  get displayHeight() { return this.rotation % 2 ? this.previewWidth : this.previewHeight; }

  /** Preview px → displayed px (flips first, then quarter turns clockwise), before zoom and pan. */
  orient(u, v) {
    let w = this.previewWidth;
    let h = this.previewHeight;
    if (this.flipH) u = w - u;
    if (this.flipV) v = h - v;
    for (let k = 0; k < this.rotation; k += 1) { [u, v] = [h - v, u]; [w, h] = [h, w]; }
    return { u, v };
  }

  /** The inverse of `orient`. */
  unorient(u, v) {
    let w = this.displayWidth;
    let h = this.displayHeight;
    for (let k = 0; k < this.rotation; k += 1) { [u, v] = [v, w - u]; [w, h] = [h, w]; }
    if (this.flipV) v = this.previewHeight - v;
    if (this.flipH) u = this.previewWidth - u;
    return { u, v };
  }

  toImage(px, py) {
    const p = this.unorient((px - this.tx) / this.scale, (py - this.ty) / this.scale);
    return { x: p.u * this.ratioX, y: p.v * this.ratioY };
  }

  toScreen(x, y) {
    const p = this.orient(x / this.ratioX, y / this.ratioY);
    return { x: p.u * this.scale + this.tx, y: p.v * this.scale + this.ty };
  }

  clampToImage(p) {
    return {
      x: Math.round(Math.min(this.origWidth, Math.max(0, p.x))),
      y: Math.round(Math.min(this.origHeight, Math.max(0, p.y))),
    };
  }

  /** Screen pixels per original pixel, for the zoom read-out. */
  get zoomPercent() { return Math.round((this.scale / this.ratioX) * 100); }

  // ---- state ------------------------------------------------------------------------------
  /** Shows a new preview. `keepView` keeps zoom/pan (a new window or slice of the same file). */
  setImage(image, { width, height } = {}, keepView = false) {
    const sameSize = this.image && width === this.origWidth && height === this.origHeight;
    this.image = image;
    this.origWidth = width || this.previewWidth;
    this.origHeight = height || this.previewHeight;
    if (!(keepView && sameSize)) this.fit();
    else this.draw();
  }

  clear() {
    this.image = null;
    this.region = null;
    this.boxes = [];
    this.draw();
    this.cb.onZoom?.(null);
  }

  setTool(tool) {
    if (tool === "window" && !this.windowEnabled) return;
    if (tool === "mark" && this.square) return;
    if (MEASURE_TOOLS.has(tool) && (!this.measureEnabled || this.square)) return;
    this.tool = tool;
    this.canvas.dataset.tool = tool;
    this.cb.onTool?.(tool);
  }

  setWindowEnabled(enabled) {
    this.windowEnabled = enabled;
    if (!enabled && this.tool === "window") this.setTool("pan");
  }

  /** Measuring needs a study's series (its values come from the server's cache). */
  setMeasureEnabled(enabled) {
    this.measureEnabled = enabled;
    if (!enabled && MEASURE_TOOLS.has(this.tool)) this.setTool("pan");
  }

  /** The measurements drawn on the slice on screen. */
  setMeasures(measures) {
    this.measures = Array.isArray(measures) ? measures : [];
    this.draw();
  }

  /** Rotation by quarter turns (1 = 90° clockwise, -1 = counter-clockwise), kept about the view's centre. */
  rotate(quarterTurns) {
    this.rotation = (((this.rotation + quarterTurns) % 4) + 4) % 4;
    this.fit();
    this.cb.onView?.();
  }

  flip(horizontal) {
    if (horizontal) this.flipH = !this.flipH; else this.flipV = !this.flipV;
    this.draw();
    this.cb.onView?.();
  }

  setInvert(invert) {
    this.invert = Boolean(invert);
    this.draw();
  }

  /** Space: no rotation, flip or inversion, fitted. */
  resetView() {
    this.rotation = 0;
    this.flipH = false;
    this.flipV = false;
    this.invert = false;
    this.fit();
    this.cb.onView?.();
  }

  /** Model view on (the letterbox of the square about to be shown) or off (null). */
  setModelView(square) {
    this.square = square;
    if (square && this.tool === "mark") this.setTool("pan");
    this.draw();
  }

  setRegion(region, notify = true) {
    this.region = region;
    this.draw();
    if (notify) this.cb.onRegion?.(region);
  }

  setBoxes(boxes) {
    this.boxes = Array.isArray(boxes) ? boxes : [];
    this.showBoxes = true;
    this.draw();
  }

  fit() {
    const { width, height } = this.cssSize();
    if (!this.image || !width || !height) { this.draw(); return; }
    const s = Math.min(width / this.displayWidth, height / this.displayHeight) * 0.96;
    this.scale = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, s));
    this.tx = (width - this.displayWidth * this.scale) / 2;
    this.ty = (height - this.displayHeight * this.scale) / 2;
    this.fitted = true;
    this.draw();
    this.cb.onZoom?.(this.zoomPercent);
  }

  zoomBy(factor, cx, cy) {
    if (!this.image) return;
    const { width, height } = this.cssSize();
    const px = cx ?? width / 2;
    const py = cy ?? height / 2;
    const next = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, this.scale * factor));
    const k = next / this.scale;
    this.tx = px - (px - this.tx) * k;
    this.ty = py - (py - this.ty) * k;
    this.scale = next;
    this.fitted = false;
    this.draw();
    this.cb.onZoom?.(this.zoomPercent);
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.fitted = false;
    this.draw();
  }

  // ---- drawing ----------------------------------------------------------------------------
  cssSize() {
    const r = this.canvas.parentElement.getBoundingClientRect();
    return { width: Math.floor(r.width), height: Math.floor(r.height) };
  }

  resize() {
    const { width, height } = this.cssSize();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.max(1, Math.round(width * dpr));
    this.canvas.height = Math.max(1, Math.round(height * dpr));
    if (this.image && this.fitted) this.fit();
    else this.draw();
  }

  draw() {
    const { ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    if (this.square) {
      ctx.fillStyle = BACKDROP;
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.save();
    ctx.translate(this.tx, this.ty);
    ctx.scale(this.scale, this.scale);
    // `orient` is affine: its images of (0,0), (1,0) and (0,1) give the matrix.
    const o = this.orient(0, 0);
    const ox = this.orient(1, 0);
    const oy = this.orient(0, 1);
    ctx.transform(ox.u - o.u, ox.v - o.v, oy.u - o.u, oy.v - o.v, o.u, o.v);
    ctx.imageSmoothingEnabled = this.scale < 3;
    ctx.imageSmoothingQuality = "high";
    if (this.invert && !this.square) ctx.filter = "invert(1)";
    ctx.drawImage(this.image, 0, 0, this.previewWidth, this.previewHeight);
    ctx.restore();
    if (this.square) { drawSquare(this, this.square); return; }
    if (this.showBoxes) this.boxes.forEach((b, i) => drawBox(this, b, i));
    if (this.region) drawRegion(this, this.region);
    if (this.drag && this.drag.kind === "mark" && this.drag.moved) {
      drawRegion(this, this.rectFromDrag(this.drag), true);
    }
    for (const m of this.measures) drawMeasure(this, m);
    const d = this.drag;
    if (d && MEASURE_TOOLS.has(d.kind) && d.kind !== "probe" && d.moved) {
      const a = this.toImage(d.x0, d.y0);
      const b = this.toImage(d.x1, d.y1);
      drawMeasure(this, { kind: d.kind, x0: a.x, y0: a.y, x1: b.x, y1: b.y, label: "" }, true);
    }
  }

  rectFromDrag(d) {
    const a = this.clampToImage(this.toImage(d.x0, d.y0));
    const b = this.clampToImage(this.toImage(d.x1, d.y1));
    return { type: "rect", x0: Math.min(a.x, b.x), y0: Math.min(a.y, b.y), x1: Math.max(a.x, b.x), y1: Math.max(a.y, b.y) };
  }

  // ---- input ------------------------------------------------------------------------------
  localPoint(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  bindEvents() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => {
      // OHIF's buttons: left the tool, middle pan, right zoom.
      if (!this.image || e.button > 2) return;
      c.focus({ preventScroll: true });
      const p = this.localPoint(e);
      const kind = e.button === 1 ? "pan" : e.button === 2 ? "zoom" : e.shiftKey ? "pan" : this.tool;
      this.drag = { kind, x0: p.x, y0: p.y, x1: p.x, y1: p.y, lastX: p.x, lastY: p.y, moved: false };
      c.setPointerCapture(e.pointerId);
      if (kind === "window") this.cb.onWindowDrag?.(0, 0, "start");
      e.preventDefault();
    });
    c.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      const p = this.localPoint(e);
      const d = this.drag;
      const dx = p.x - d.lastX;
      const dy = p.y - d.lastY;
      d.lastX = p.x; d.lastY = p.y; d.x1 = p.x; d.y1 = p.y;
      if (Math.hypot(p.x - d.x0, p.y - d.y0) > 4) d.moved = true;
      if (d.kind === "pan") this.panBy(dx, dy);
      else if (d.kind === "zoom") this.zoomBy(Math.exp(-dy * 0.01), d.x0, d.y0);
      else if (d.kind === "window") this.cb.onWindowDrag?.(dx, dy, "move");
      else if (d.kind === "mark" || MEASURE_TOOLS.has(d.kind)) this.draw();
    });
    const end = (e) => {
      if (!this.drag) return;
      const d = this.drag;
      this.drag = null;
      try { c.releasePointerCapture(e.pointerId); } catch { /* not captured */ }
      if (d.kind === "window") this.cb.onWindowDrag?.(0, 0, "end");
      if (d.kind === "mark" && e.type === "pointerup") {
        if (d.moved) {
          const r = this.rectFromDrag(d);
          if (r.x1 - r.x0 >= 2 && r.y1 - r.y0 >= 2) this.setRegion(r);
          else this.draw();
        } else {
          const p = this.clampToImage(this.toImage(d.x0, d.y0));
          this.setRegion({ type: "point", x: p.x, y: p.y });
        }
      }
      if (MEASURE_TOOLS.has(d.kind) && e.type === "pointerup") {
        const a = this.toImage(d.x0, d.y0);
        const b = this.toImage(d.x1, d.y1);
        const inside = (p) => p.x >= 0 && p.y >= 0 && p.x <= this.origWidth && p.y <= this.origHeight;
        if (d.kind === "probe" ? inside(a) : d.moved) this.cb.onMeasure?.(d.kind, a, b);
        this.draw();
      }
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("contextmenu", (e) => { if (this.image) e.preventDefault(); });
    c.addEventListener("wheel", (e) => {
      if (!this.image) return;
      e.preventDefault();
      // Through a volume's slices the wheel scrolls slices (one per notch; a touchpad's small
      // steps add up); Ctrl+wheel, and any single image, zoom.
      if (!e.ctrlKey && this.cb.onWheelSlice && !this.square) {
        this.wheelRest += e.deltaMode === 1 ? e.deltaY * 40 : e.deltaY;
        const steps = Math.trunc(this.wheelRest / 50);
        if (steps && this.cb.onWheelSlice(Math.sign(steps))) { this.wheelRest = 0; return; }
        if (!steps && this.cb.onWheelSlice(0)) return;
        this.wheelRest = 0;
      }
      const p = this.localPoint(e);
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
    }, { passive: false });
    c.addEventListener("dblclick", () => this.fit());
    c.addEventListener("keydown", (e) => this.onKey(e));
  }

  onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const step = e.shiftKey ? 120 : 40;
    // Through a volume ↑/↓ step slices (OHIF); on a single image they pan.
    const upDown = (delta) => { if (!this.cb.onSliceStep?.(delta)) this.panBy(0, -delta * step); };
    const keys = {
      "+": () => this.zoomBy(1.25), "=": () => this.fit(), "-": () => this.zoomBy(0.8),
      0: () => this.fit(),
      ArrowLeft: () => this.panBy(step, 0), ArrowRight: () => this.panBy(-step, 0),
      ArrowUp: () => upDown(-1), ArrowDown: () => upDown(1),
      PageUp: () => this.cb.onSliceStep?.(-1), PageDown: () => this.cb.onSliceStep?.(1),
      p: () => this.setTool("pan"), w: () => this.setTool("window"), m: () => this.setTool("mark"),
      Escape: () => { if (this.region) this.setRegion(null); },
      Enter: () => this.markCentre(), " ": () => this.markCentre(),
    };
    const fn = keys[e.key] ?? keys[e.key.toLowerCase?.()];
    if (!fn) return;
    if ((e.key === "Enter" || e.key === " ") && this.tool !== "mark") return;
    e.preventDefault();
    fn();
  }

  /** Keyboard marking: the point of the image at the centre of the view. */
  markCentre() {
    if (!this.image) return;
    const { width, height } = this.cssSize();
    const p = this.clampToImage(this.toImage(width / 2, height / 2));
    this.setRegion({ type: "point", x: p.x, y: p.y });
  }
}
