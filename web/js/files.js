// Loaded images: recognising the format, decoding photos in the browser, thumbnails.

let nextId = 1;

/** The format from the first bytes (as the server sniffs it), else from the file name. */
export async function sniffFormat(file) {
  const head = new Uint8Array(await file.slice(0, 352).arrayBuffer());
  const starts = (...bytes) => bytes.every((b, i) => head[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "png";
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (head.length >= 132 && String.fromCharCode(...head.slice(128, 132)) === "DICM") return "dicom";
  if (starts(0x1f, 0x8b)) return "nifti";
  if (head.length >= 348) {
    const size = head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24);
    const sizeBE = head[3] | (head[2] << 8) | (head[1] << 16) | (head[0] << 24);
    if (size === 348 || size === 540 || sizeBE === 348 || sizeBE === 540) return "nifti";
  }
  const name = file.name.toLowerCase();
  // DICOM without the 128-byte preamble, or a name that says what it is: let the server decide.
  if (name.endsWith(".dcm") || name.endsWith(".dicom")) return "dicom";
  if (name.endsWith(".nii") || name.endsWith(".nii.gz")) return "nifti";
  return null;
}

/** A loaded file and everything the page knows about it. */
export function makeEntry(file, format) {
  return {
    id: nextId++,
    file,
    name: file.name || `image-${nextId}`,
    format,
    rendered: format === "dicom" || format === "nifti",
    image: null, // ImageBitmap / HTMLImageElement shown in the viewer
    width: 0, // original pixels
    height: 0,
    thumb: "", // small data URL
    metadata: {},
    window: { preset: "default", center: NaN, width: NaN },
    defaultWindow: null,
    frames: 1,
    frame: 0,
    frameOrder: null,
    slices: 1,
    slice: 0,
    error: "",
  };
}

/** Decodes a Blob to something drawable (ImageBitmap where available). */
export async function decodeBlob(blob) {
  if (typeof createImageBitmap === "function") {
    try { return await createImageBitmap(blob); } catch { /* fall back to <img> */ }
  }
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.decoding = "async";
    img.src = url;
    await img.decode();
    return img;
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

/** A JPEG data URL of at most `size` px, for thumbnails and the history. */
export function thumbnail(image, size = 96) {
  const w = image.naturalWidth || image.width;
  const h = image.naturalHeight || image.height;
  const k = Math.min(1, size / Math.max(w, h));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(w * k));
  canvas.height = Math.max(1, Math.round(h * k));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.8);
}

/** Number from a metadata value that may be a number, a string or an array. */
export function num(v) {
  if (Array.isArray(v)) v = v[0];
  const n = typeof v === "number" ? v : parseFloat(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Reads the facts the viewer needs out of the (loosely shaped) render metadata. */
export function applyMetadata(entry, meta, previewImage) {
  entry.metadata = meta || {};
  const pick = (...keys) => {
    for (const k of keys) {
      if (meta && meta[k] !== undefined && meta[k] !== null && meta[k] !== "") return meta[k];
    }
    return undefined;
  };
  const w = num(pick("original_width", "width", "columns", "Columns", "cols"));
  const h = num(pick("original_height", "height", "rows", "Rows"));
  entry.width = Number.isFinite(w) && w > 0 ? w : (previewImage.naturalWidth || previewImage.width);
  entry.height = Number.isFinite(h) && h > 0 ? h : (previewImage.naturalHeight || previewImage.height);
  const frames = num(pick("frames", "number_of_frames", "frame_count", "NumberOfFrames"));
  if (Number.isFinite(frames) && frames >= 1) entry.frames = Math.round(frames);
  entry.frameOrder = frameOrderOf(meta && meta.sliceOrder, entry.frames, 1) || entry.frameOrder;
  let slices = num(pick("slices", "slice_count", "depth", "nz"));
  if (!Number.isFinite(slices)) {
    // A volume's shape: an array or a string such as "[512, 512, 85]" or "512x512x85".
    const dims = pick("volumeShape", "volume_shape", "dimensions", "dims", "shape");
    const list = Array.isArray(dims) ? dims : typeof dims === "string" ? (dims.match(/\d+/g) || []) : [];
    if (list.length >= 3) slices = num(list[2]);
  }
  if (Number.isFinite(slices) && slices >= 1) entry.slices = Math.round(slices);
  // The window actually used, so W/L dragging starts from what is on screen.
  const win = pick("window", "window_used", "voi");
  let c = NaN;
  let wd = NaN;
  if (win && typeof win === "object") { c = num(win.center ?? win.c ?? win.level); wd = num(win.width ?? win.w); }
  if (!Number.isFinite(c)) c = num(pick("window_center", "windowCenter", "center", "WindowCenter"));
  if (!Number.isFinite(wd)) wd = num(pick("window_width", "windowWidth", "WindowWidth"));
  if (typeof win === "string" && !(Number.isFinite(c) && Number.isFinite(wd))) {
    // "40/400", "40,400", "C 40 W 400", "center=40 width=400 (tag)"...
    const m = win.match(/-?\d+(?:\.\d+)?/g);
    if (m && m.length >= 2) { c = num(m[0]); wd = num(m[1]); }
  }
  if (Number.isFinite(c) && Number.isFinite(wd) && wd > 0) {
    entry.window.center = c;
    entry.window.width = wd;
    if (entry.window.preset === "default") entry.defaultWindow = { center: c, width: wd };
  }
}

/**
 * A multi-frame file's stored frame numbers in slice order (0-based), from a list numbered from
 * `base`, or null when the list is missing, malformed or already in stored order.
 */
export function frameOrderOf(list, frames, base = 0) {
  if (!Array.isArray(list) || list.length !== frames || frames < 2) return null;
  const order = list.map((n) => Number(n) - base);
  const valid = order.every((n) => Number.isInteger(n) && n >= 0 && n < frames) && new Set(order).size === frames;
  return valid && order.some((n, k) => n !== k) ? order : null;
}

/**
 * The stored frame number (what the server's `frame` means) of the viewer's frame `position`:
 * the viewer steps through an enhanced file's frames along the slice normal, as radiology
 * viewers stack them, while DICOM numbers them as stored.
 */
export function storedFrame(entry, position = entry.frame) {
  return entry.frameOrder ? entry.frameOrder[position] : position;
}

/** Metadata rows to show: flat key/value pairs, nested objects flattened one level. */
export function metadataRows(meta) {
  const rows = [];
  const hidden = new Set(["png", "image", "preview", "data"]);
  for (const [k, v] of Object.entries(meta || {})) {
    if (hidden.has(k) || v === null || v === undefined || v === "") continue;
    if (typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        if (v2 === null || v2 === undefined || typeof v2 === "object") continue;
        rows.push([`${k}.${k2}`, String(v2)]);
      }
    } else {
      rows.push([k, Array.isArray(v) ? v.join(" × ") : String(v)]);
    }
  }
  return rows;
}
