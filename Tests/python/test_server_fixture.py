"""Starts real `medlab serve` processes for the server tests (no tests in this file).

Each server gets a free loopback port, the demo model prepared by scripts/setup.sh, and a log
file; the tests talk to it over HTTP exactly as a user's client would.
"""
import base64
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import zlib

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def medlab_bin():
    path = os.environ.get("MEDLAB_BIN") or os.path.join(ROOT, ".build", "debug", "medlab")
    if not os.path.exists(path):
        pytest.fail(f"medlab binary not found at {path}: build it (make build) or set MEDLAB_BIN")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One running `medlab serve`; `url` is its base address, `log` its stderr."""

    def __init__(self, *args, env=None, wait_ready=True, preexec_fn=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = tempfile.NamedTemporaryFile(prefix="medlab-serve-", suffix=".log", delete=False)
        full_env = dict(os.environ, **(env or {}))
        self.process = subprocess.Popen(
            [medlab_bin(), "serve", "--port", str(self.port), *args],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=full_env, preexec_fn=preexec_fn)
        self.wait_listening()
        if wait_ready:
            self.wait_status("ok")

    def wait_listening(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"medlab serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(self.url + "/api/health", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("medlab serve did not start listening:\n" + self.log())

    def wait_status(self, status, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            body = requests.get(self.url + "/api/health", timeout=2).json()
            if body["status"] == status:
                return body
            time.sleep(0.1)
        raise RuntimeError(f"health never became {status}:\n{self.log()}")

    def health(self):
        return requests.get(self.url + "/api/health", timeout=5).json()

    def wait_idle(self, timeout, poll=0.05):
        """Seconds until no request is generating, or None if it stays busy past `timeout`."""
        start = time.time()
        while time.time() - start < timeout:
            if self.health()["queue"]["running"] == 0:
                return time.time() - start
            time.sleep(poll)
        return None

    def log(self):
        with open(self.log_file.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def lab():
    """The demo model (Gemma 3 270M + random projector), a small queue and token cap."""
    server = Server("--demo", "--queue", "1", "--max-new-tokens-limit", "800", "--log-format", "json")
    yield server
    server.stop()


def prompt_logged_server(folder, *args):
    """A server whose engine writes every prompt it tokenizes (text and pixel hashes) to
    `folder/prompts.jsonl` (MEDLAB_PROMPT_LOG); returns the server and the log's path."""
    log = folder / "prompts.jsonl"
    return Server(*args, "--log-format", "json", env=dict(os.environ, MEDLAB_PROMPT_LOG=str(log))), log


def png_bytes(width=512, height=512):
    """An RGB PNG made with zlib, as PIL would write it (deflate-compressed, filtered rows)."""
    rows = bytearray()
    for y in range(height):
        rows.append(1 if y % 2 else 0)  # alternate Sub and None filters
        row = bytearray()
        for x in range(width):
            row += bytes(((x * 255) // max(1, width - 1), (y * 255) // max(1, height - 1), ((x // 16 + y // 16) % 2) * 200))
        if y % 2:
            row = bytearray(row[i] if i < 3 else (row[i] - row[i - 3]) & 0xFF for i in range(len(row)))
        rows += row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b"")


def data_url(width=512, height=512):
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()
