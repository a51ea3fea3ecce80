"""Serves web/ from the working tree and forwards everything else to a running lab.

Only for a `medlab serve` that does not serve the page itself yet: the API under test is the
real one, but the static files come from here. conftest.py uses it automatically when the
server answers `/` with something other than the lab page, and says so in the test report.
"""
from __future__ import annotations

import http.client
import mimetypes
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def make_handler(upstream: str):
    target = urllib.parse.urlsplit(upstream)

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def static(self, path: str) -> bool:
            rel = "index.html" if path in ("", "/") else path.lstrip("/")
            file = (WEB / rel).resolve()
            if path.startswith("/api/") or not str(file).startswith(str(WEB)) or not file.is_file():
                return False
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", TYPES.get(file.suffix, mimetypes.guess_type(file.name)[0] or "application/octet-stream"))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                while True:
                    chunk = resp.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page aborted (Stop): closing upstream cancels the generation there
            finally:
                conn.close()

        def do_GET(self):
            if not self.static(self.path.split("?", 1)[0]):
                self.forward()

        def do_POST(self):
            self.forward()

    return Proxy


def serve(port: int, upstream: str) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(upstream))
    httpd.daemon_threads = True
    return httpd
