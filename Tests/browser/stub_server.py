"""A stand-in for `medlab serve`, for developing the page only (the tests use the real server
unless MEDLAB_STUB=1). Serves web/ and fakes /api/health, /api/render and /api/predict with
the shapes of issue 4. Needs numpy + pydicom for DICOM previews.

    python Tests/browser/stub_server.py --port 8765
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import mimetypes
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
sys.path.insert(0, str(Path(__file__).parent))
from sample_images import png_bytes  # noqa: E402

PRESETS = {"lung": (-600, 1500), "mediastinum": (50, 350), "bone": (400, 1800), "brain": (40, 80), "abdomen": (50, 400)}
mimetypes.add_type("text/javascript", ".js")


def decode_image(text: str) -> bytes:
    if text.startswith("data:"):
        text = text.split(",", 1)[1]
    return base64.b64decode(text)


def render_dicom(data: bytes, window, frame):
    import numpy as np
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(data))
    arr = ds.pixel_array.astype(np.float32)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[min(frame or 0, frames - 1)]
    hu = arr * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
    if isinstance(window, str) and window in PRESETS:
        c, w = PRESETS[window]
    elif isinstance(window, dict):
        c, w = float(window["center"]), float(window["width"])
    else:
        c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    img = np.clip((hu - (c - w / 2)) / w * 255, 0, 255).astype(np.uint8)
    h, wd = img.shape
    png = png_bytes(wd, h, lambda x, y: (int(img[y, x]),) * 3)
    meta = {"format": "dicom", "modality": "CT", "width": wd, "height": h, "frames": frames,
            "bits_stored": int(ds.BitsStored), "photometric": str(ds.PhotometricInterpretation),
            "window": f"{c:g}/{w:g}", "pixel_spacing": "0.7\\0.7"}
    return png, meta


class Handler(BaseHTTPRequestHandler):
    server_version = "medlab-stub/0"
    health_status = "ok"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.send_json(status, {"error": {"code": code, "message": message}})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/api/health":
            return self.send_json(200, {"status": self.health_status, "model": {"name": "medgemma-demo-tiny", "demo": True},
                                        "backend": "cpu", "gpu_layers": 0, "version": "stub"})
        rel = "index.html" if path in ("/", "") else path.lstrip("/")
        file = (WEB / rel).resolve()
        if not str(file).startswith(str(WEB)) or not file.is_file():
            return self.error(404, "not_found", f"no such path {path}")
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            return json.loads(self.rfile.read(length))
        except Exception:
            self.error(400, "invalid_json", "the body is not valid JSON")
            return None

    def render_nifti(self, data, body):
        import numpy as np
        dims = np.frombuffer(data[40:56], "<i2")
        x, y, z = int(dims[1]), int(dims[2]), int(dims[3])
        vol = np.frombuffer(data[352:352 + x * y * z * 2], "<i2").reshape(z, y, x).astype(np.float32)
        k = min(int(body.get("slice") or z // 2), z - 1)
        win = body.get("window")
        c, w = PRESETS.get(win, (40, 400)) if not isinstance(win, dict) else (win["center"], win["width"])
        img = np.clip((vol[k] - (c - w / 2)) / w * 255, 0, 255).astype(np.uint8)
        png = png_bytes(x, y, lambda i, j: (int(img[j, i]),) * 3)
        self.send_json(200, {"image": "data:image/png;base64," + base64.b64encode(png).decode(), "width": x, "height": y,
                             "format": "nifti", "metadata": {"format": "nifti", "width": str(x), "height": str(y),
                                                             "volumeShape": f"[{x}, {y}, {z}]", "window": f"{c}/{w}"}})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        body = self.read_json()
        if body is None:
            return
        if path == "/api/render":
            data = decode_image(body.get("image", ""))
            if data[128:132] == b"DICM":
                try:
                    png, meta = render_dicom(data, body.get("window"), body.get("frame"))
                except Exception as e:  # noqa: BLE001
                    return self.error(400, "undecodable_image", f"the DICOM file could not be decoded ({type(e).__name__})")
                return self.send_json(200, {"image": "data:image/png;base64," + base64.b64encode(png).decode(),
                                            "width": meta["width"], "height": meta["height"], "format": "dicom",
                                            "metadata": {k: str(v) for k, v in meta.items()}})
            if len(data) > 352 and int.from_bytes(data[:4], "little") == 348:
                return self.render_nifti(data, body)
            return self.error(415, "unsupported_media_type", "the stub renders DICOM and NIfTI only")
        if path == "/api/predict":
            question = body.get("question", "")
            if not question.strip():
                return self.error(400, "empty_question", "`question` is empty")
            if not 0 <= float(body.get("temperature", 0)) <= 2:
                return self.error(400, "invalid_request", "`temperature` must be between 0 and 2")
            words = (f"Stub answer to: {question}. Region: {json.dumps(body.get('region'))}. "
                     "The lungs are clear. " + "More text. " * (60 if "slow" in question else 6)).split(" ")
            final = {"answer": " ".join(words), "reasoning": "stub reasoning", "model": "medgemma-demo-tiny",
                     "boxes": [{"label": "finding", "x0": 20, "y0": 30, "x1": 70, "y1": 90, "box_2d": [0, 0, 0, 0], "image": 0}],
                     "usage": {"prompt_tokens": 280, "completion_tokens": len(words)},
                     "timings": {"image_ms": 12, "prefill_ms": 30, "decode_ms": 400, "tokens_per_second": 25.0, "total_ms": 450},
                     "disclaimer": "Research and teaching use only — not for diagnosis."}
            if not body.get("stream"):
                return self.send_json(200, final)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                self.wfile.write(f"data: {json.dumps({'reasoning': 'stub '})}\n\n".encode())
                for i, w in enumerate(words):
                    self.wfile.write(f"data: {json.dumps({'delta': (' ' if i else '') + w})}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.15 if "slow" in question else 0.03)
                self.wfile.write(f"data: {json.dumps({**final, 'done': True})}\n\n".encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self.error(404, "not_found", f"no such route {path}")


def serve(port: int) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    return httpd


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    print(f"stub on http://127.0.0.1:{args.port}/", flush=True)
    serve(args.port).serve_forever()
