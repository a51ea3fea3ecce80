"""`medlab pull` (issue #15) against a local imitation of the Hugging Face Hub: the tree API,
`resolve` redirecting to a second "CDN" server, Range requests, a connection dropped mid-file,
401/403/404 answers and a file served with wrong bytes. The files are the project's small real
GGUFs, so a pulled pair loads and answers."""
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from test_batch import png
from test_server_fixture import medlab_bin

MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))
TOKEN = "hf_good_token_123"


class Hub:
    """Two HTTP servers: the Hub (tree + resolve) and a CDN it redirects downloads to."""

    def __init__(self):
        text = open(os.path.join(MODELS, "tiny-gemma3.gguf"), "rb").read()
        vision = open(os.path.join(MODELS, "tiny-mmproj.gguf"), "rb").read()
        self.files = {
            "medgemma-1.5-4b-it-Q4_K_M.gguf": text,
            "medgemma-1.5-4b-it-Q8_0.gguf": text[:1000],
            "mmproj-F16.gguf": vision,
            "mmproj-BF16.gguf": vision[:1000],
            "README.md": b"# model card\n",
        }
        self.wrong = {}          # path -> bytes served instead of the real ones
        self.drop_first = set()  # paths whose first download is cut half-way
        self.ignore_range = False
        self.log = []            # (server, method, path, headers)
        self.lock = threading.Lock()
        hub, cdn = self, self
        self.cdn = self._serve(self._cdn_handler())
        self.hub = self._serve(self._hub_handler())

    @staticmethod
    def _serve(handler):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.hub.server_port}"

    def seen(self, server, path_part=""):
        return [entry for entry in self.log if entry[0] == server and path_part in entry[2]]

    def _hub_handler(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def fail(self, status, code=None):
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                outer.log.append(("hub", "GET", self.path, dict(self.headers)))
                tree = re.match(r"^/api/models/([^/]+/[^/]+)/tree/([^/?]+)\?recursive=true$", self.path)
                resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", self.path)
                match = tree or resolve
                if not match:
                    return self.fail(404)
                repo, revision = match.group(1), match.group(2)
                if repo == "google/gated-GGUF":
                    return self.fail(403, "GatedRepo")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.fail(401)
                if repo not in ("medlab/medgemma-GGUF", "medlab/empty-GGUF"):
                    return self.fail(404, "RepoNotFound")
                if revision != "main":
                    return self.fail(404, "RevisionNotFound")
                files = outer.files if repo == "medlab/medgemma-GGUF" else {"README.md": b"x"}
                if tree:
                    body = json.dumps([{"type": "file", "path": name, "size": len(data), "oid": "git",
                                        **({"lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}}
                                           if name.endswith(".gguf") else {})}
                                       for name, data in files.items()]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    return self.wfile.write(body)
                name = match.group(3)
                if name not in files:
                    return self.fail(404, "EntryNotFound")
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{outer.cdn.server_port}/files/{name}?signature=abc")
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def _cdn_handler(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.log.append(("cdn", "GET", self.path, dict(self.headers)))
                name = self.path.split("?")[0].removeprefix("/files/")
                data = outer.wrong.get(name, outer.files.get(name))
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                asked = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
                if asked and not outer.ignore_range:
                    start = int(asked.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                with outer.lock:
                    cut = name in outer.drop_first
                    outer.drop_first.discard(name)
                if cut:
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

        return Handler

    def close(self):
        self.hub.shutdown()
        self.cdn.shutdown()


@pytest.fixture()
def hub():
    server = Hub()
    yield server
    server.close()


def pull(hub, *args, token=TOKEN, env=None):
    environment = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
    environment |= {"HF_ENDPOINT": hub.endpoint, "HF_HOME": "/nonexistent-hf-home"} | ({"HF_TOKEN": token} if token else {}) | (env or {})
    return subprocess.run([medlab_bin(), "pull", *args], capture_output=True, text=True, timeout=300, env=environment)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_a_dropped_transfer_resumes_and_the_pulled_pair_answers(hub, tmp_path):
    models = tmp_path / "models"
    hub.drop_first = {"medgemma-1.5-4b-it-Q4_K_M.gguf"}
    result = pull(hub, "medlab/medgemma-GGUF", "--models-dir", str(models))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(models)) == ["medgemma-1.5-4b-it-Q4_K_M.gguf", "mmproj-F16.gguf"]
    assert sha(models / "medgemma-1.5-4b-it-Q4_K_M.gguf") == hashlib.sha256(hub.files["medgemma-1.5-4b-it-Q4_K_M.gguf"]).hexdigest()
    assert sha(models / "mmproj-F16.gguf") == hashlib.sha256(hub.files["mmproj-F16.gguf"]).hexdigest()
    model_requests = hub.seen("cdn", "Q4_K_M")
    assert len(model_requests) == 2 and "Range" not in model_requests[0][3]
    assert re.match(r"bytes=\d+-$", model_requests[1][3]["Range"])  # resumed, not restarted
    # The token reaches the Hub and never the CDN it redirects to.
    assert all(entry[3].get("Authorization") == f"Bearer {TOKEN}" for entry in hub.seen("hub"))
    assert all("Authorization" not in entry[3] for entry in hub.seen("cdn"))
    assert TOKEN not in result.stdout + result.stderr

    # Present and verified: nothing is fetched again.
    before = len(hub.seen("cdn"))
    again = pull(hub, "medlab/medgemma-GGUF", "--models-dir", str(models))
    assert again.returncode == 0 and "already here and verified" in again.stderr
    assert len(hub.seen("cdn")) == before

    # `ask` finds the pulled pair in the models folder with no model option, and answers about an image.
    (tmp_path / "x.png").write_bytes(png(32, 32))
    environment = dict(os.environ, MEDLAB_MODELS_DIR=str(models))
    ask = subprocess.run([medlab_bin(), "ask", "--no-record", "--json", "--max-new-tokens", "2", "--image", str(tmp_path / "x.png"),
                          "Describe."], capture_output=True, text=True, timeout=300, env=environment)
    assert ask.returncode == 0, ask.stderr
    report = json.loads(ask.stdout)
    assert report["model"] == "medgemma-1.5-4b-it-Q4_K_M.gguf" and report["usage"]["image_tokens"] > 0


def test_a_later_command_resumes_a_part_file_and_a_server_ignoring_range_restarts(hub, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    data = hub.files["mmproj-F16.gguf"]
    (models / "mmproj-F16.gguf.part").write_bytes(data[:len(data) // 3])
    assert pull(hub, "medlab/medgemma-GGUF", "--models-dir", str(models)).returncode == 0
    assert hub.seen("cdn", "mmproj-F16")[0][3]["Range"] == f"bytes={len(data) // 3}-"
    assert sha(models / "mmproj-F16.gguf") == hashlib.sha256(data).hexdigest()

    other = tmp_path / "other"
    other.mkdir()
    (other / "mmproj-F16.gguf.part").write_bytes(b"garbage that must not survive")
    hub.ignore_range = True
    result = pull(hub, "medlab/medgemma-GGUF", "--models-dir", str(other))
    assert result.returncode == 0, result.stderr
    assert sha(other / "mmproj-F16.gguf") == hashlib.sha256(data).hexdigest()
    assert "does not resume" in result.stderr


def test_wrong_bytes_leave_nothing_in_the_models_folder(hub, tmp_path):
    models = tmp_path / "models"
    good = hub.files["medgemma-1.5-4b-it-Q4_K_M.gguf"]
    hub.wrong["medgemma-1.5-4b-it-Q4_K_M.gguf"] = bytes(reversed(good))
    result = pull(hub, "medlab/medgemma-GGUF", "--models-dir", str(models))
    assert result.returncode == 1
    assert hashlib.sha256(good).hexdigest() in result.stderr and hashlib.sha256(bytes(reversed(good))).hexdigest() in result.stderr
    assert not [name for name in os.listdir(models) if name.startswith("medgemma")]


@pytest.mark.parametrize("repo, token, message", [
    ("medlab/medgemma-GGUF", None, "HF_TOKEN"),
    ("medlab/medgemma-GGUF", "hf_wrong", "refused"),
    ("google/gated-GGUF", TOKEN, "accept its terms"),
    ("medlab/nothing-GGUF", TOKEN, "no repository medlab/nothing-GGUF"),
    ("medlab/medgemma-GGUF@v9", TOKEN, "has no revision v9"),
    ("medlab/empty-GGUF", TOKEN, "no GGUF text model"),
])
def test_hub_errors_are_clear_and_exit_1(hub, tmp_path, repo, token, message):
    result = pull(hub, repo, "--models-dir", str(tmp_path / "models"), token=token)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    if token:
        assert token not in result.stderr
    if repo.startswith("google/gated"):
        assert f"{hub.endpoint}/google/gated-GGUF" in result.stderr


def test_list_and_quantisation_choice_and_the_token_file(hub, tmp_path):
    home = tmp_path / "hf"
    home.mkdir()
    (home / "token").write_text(TOKEN + "\n")
    listed = pull(hub, "medlab/medgemma-GGUF", "--list", token=None, env={"HF_HOME": str(home)})
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "* medgemma-1.5-4b-it-Q4_K_M.gguf" in "\n".join(lines) and "* mmproj-F16.gguf" in "\n".join(lines)
    assert any(line.startswith("  medgemma-1.5-4b-it-Q8_0.gguf") for line in lines)
    missing = pull(hub, "medlab/medgemma-GGUF", "--quant", "Q2_K", "--models-dir", str(tmp_path / "m"))
    assert missing.returncode == 1 and "medgemma-1.5-4b-it-Q4_K_M.gguf" in missing.stderr and "Q8_0" in missing.stderr
