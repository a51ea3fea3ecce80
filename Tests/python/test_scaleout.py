"""Scale-out (SPEC M12): `medlab serve --backend` and `medlab batch --backend` in front of two
real llama-server processes from the project's own llama.cpp build, on loopback ports.

No mocks: the servers are killed with SIGKILL and restarted for real. Each test waits by
polling (health, streams), never by fixed sleeps.
"""
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import jsonschema_rs
import pytest
import requests

from test_batch import png
from test_server_fixture import ROOT, Server, free_port, medlab_bin

MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))
LLAMA_SERVER = os.path.join(ROOT, ".llama", "bin", "llama-server")
# The tiny projector's square is 112 px and an image becomes 4 tokens (.test-models/models.json).
BACKEND_FLAGS = ["--backend-slots", "2", "--backend-image-size", "112", "--backend-tokens-per-image", "4"]


class LlamaServer:
    """One real llama-server (tiny Gemma 3, with its projector unless `vision` is false, two slots)
    on a fixed loopback port."""

    def __init__(self, vision=True, special=True):
        self.vision = vision
        # --special keeps MedGemma's reasoning markers; llama-server's JSON parsing under a schema refuses them.
        self.special = special
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.start()

    def start(self, timeout=60):
        if not os.path.exists(LLAMA_SERVER):
            pytest.fail(f"{LLAMA_SERVER} not found: run scripts/setup.sh")
        projector = ["--mmproj", os.path.join(MODELS, "tiny-mmproj.gguf")] if self.vision else []
        self.process = subprocess.Popen(
            [LLAMA_SERVER, "-m", os.path.join(MODELS, "tiny-gemma3.gguf"), *projector,
             "--host", "127.0.0.1", "--port", str(self.port), "-np", "2", "-c", "4096", "-t", "1",
             "--no-webui", *(["--special"] if self.special else []), "--metrics"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.process.poll() is None, f"llama-server exited with {self.process.returncode}"
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("llama-server did not become healthy")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def predicted_tokens(self):
        """llama-server's own count of generated tokens (from its Prometheus endpoint)."""
        text = requests.get(self.url + "/metrics", timeout=5).text
        match = re.search(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def backends():
    servers = []
    try:
        servers = [LlamaServer(), LlamaServer()]
        yield servers
    finally:
        for server in servers:
            server.kill()


def start_lab(backends, *extra, flags=BACKEND_FLAGS):
    args = []
    for backend in backends:
        args += ["--backend", backend.url]
    return Server(*args, *flags, "--queue", "32", "--log-format", "json", *extra)


def backend_status(lab, backend):
    return next(b for b in lab.health()["backends"] if b["name"] == backend.url)


def wait_state(lab, backend, state, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if backend_status(lab, backend)["state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"{backend.url} never became {state}: {lab.health()['backends']}")


def ask(lab, max_tokens=8, question="Describe the findings."):
    response = requests.post(lab.url + "/v1/chat/completions", timeout=60, json={
        "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens})
    assert response.status_code == 200, response.text
    return response.json()


def stream_events(lab, max_tokens):
    """Opens a streaming chat completion; yields each decoded `data:` object ("[DONE]" as a string)."""
    response = requests.post(lab.url + "/v1/chat/completions", stream=True, timeout=60, json={
        "messages": [{"role": "user", "content": "Write a long report."}], "max_tokens": max_tokens, "stream": True})
    assert response.status_code == 200, response.text
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            data = line[6:].decode()
            yield data if data == "[DONE]" else json.loads(data)


def test_health_and_metrics_show_each_backend(backends):
    lab = start_lab(backends)
    try:
        health = lab.health()
        assert health["ready"] is True and health["backend"] == "remote"
        assert [b["name"] for b in health["backends"]] == [b.url for b in backends]
        for status in health["backends"]:
            assert status["state"] == "up" and status["kind"] == "llama-server" and status["slots"] == 2
            assert status["latency_ms"] > 0
        assert health["queue"]["slots"] == 4  # the pool's slots, not one in-process engine's
        # The answer matches the Health schema the lab publishes (schemathesis checks it without a pool).
        schema = requests.get(lab.url + "/openapi.json", timeout=5).json()["components"]["schemas"]["Health"]
        jsonschema_rs.validator_for(schema).validate(health)
        assert not jsonschema_rs.validator_for(schema).is_valid(dict(health, backends=[{"name": "x"}]))
        ask(lab)
        metrics = requests.get(lab.url + "/metrics", timeout=5).text
        for backend in backends:
            assert f'medlab_backend_up{{backend="{backend.url}",kind="llama-server"}} 1' in metrics
            assert re.search(rf'medlab_backend_requests_total\{{backend="{re.escape(backend.url)}",kind="llama-server"\}} \d+', metrics)
        assert sum(b["requests"] for b in lab.health()["backends"]) == 1
    finally:
        lab.stop()


def test_requests_spread_across_both(backends):
    lab = start_lab(backends)
    try:
        before = [b.predicted_tokens() for b in backends]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: ask(lab, max_tokens=16), range(8)))
        assert all(a["usage"]["completion_tokens"] > 0 for a in answers)
        statuses = [backend_status(lab, b) for b in backends]
        counts = [s["requests"] for s in statuses]
        assert sum(counts) == 8 and min(counts) >= 3, statuses
        # The servers themselves say they both generated.
        assert all(b.predicted_tokens() > start for b, start in zip(backends, before))
        # One at a time, equally loaded backends take turns.
        for _ in range(4):
            ask(lab)
        assert [backend_status(lab, b)["requests"] for b in backends] == [c + 2 for c in counts]
    finally:
        lab.stop()


def until_content(stream):
    """Reads a stream up to its first generated text, failing if it ends before any."""
    for event in stream:
        assert event != "[DONE]" and "error" not in event, event
        if event["choices"] and event["choices"][0]["delta"].get("content"):
            return
    pytest.fail("the stream ended before any text")


def test_sigkill_mid_run_fails_over_and_rejoins(backends):
    victim, survivor = backends
    lab = start_lab(backends, "--health-interval", "0.5")
    try:
        # Two long streams: least-outstanding routing puts one on each server.
        streams = [stream_events(lab, 1500), stream_events(lab, 1500)]
        firsts = [next(s) for s in streams]  # role chunk: the request was admitted
        assert all("choices" in f for f in firsts)
        # A first token from each: both answers are under way (a kill before that is retried elsewhere).
        for stream in streams:
            until_content(stream)
        deadline = time.time() + 20
        while time.time() < deadline and (backend_status(lab, victim)["outstanding"] == 0
                                          or backend_status(lab, survivor)["outstanding"] == 0):
            time.sleep(0.02)
        assert backend_status(lab, victim)["outstanding"] == 1 and backend_status(lab, survivor)["outstanding"] == 1
        victim.kill()
        endings = []
        for stream in streams:
            events = list(stream)
            assert events[-1] == "[DONE]"
            endings.append(events[-2])
        # The stream on the killed server ends with an error, never as a normal (truncated) finish.
        errors = [e for e in endings if "error" in e]
        finished = [e for e in endings if "choices" in e and e["choices"] and e["choices"][0]["finish_reason"]]
        assert len(errors) == 1 and len(finished) == 1, endings
        assert "incomplete" in errors[0]["error"]["message"]
        wait_state(lab, victim, "down")
        assert lab.health()["ready"] is True
        served = backend_status(lab, survivor)["requests"]
        for _ in range(4):
            ask(lab)
        assert backend_status(lab, survivor)["requests"] == served + 4
        assert backend_status(lab, victim)["last_error"]
        # Back from the dead: the next health check brings it in, and it takes requests again.
        victim.start()
        wait_state(lab, victim, "up")
        taken = backend_status(lab, victim)["requests"]
        for _ in range(4):
            ask(lab)
        assert backend_status(lab, victim)["requests"] >= taken + 1
    finally:
        lab.stop()
        if victim.process.poll() is not None:
            victim.start()


def test_failure_before_first_token_is_retried_on_the_other(backends):
    victim, survivor = backends
    # Health checks far apart: only the failed request itself can take the dead server out.
    lab = start_lab(backends, "--health-interval", "600")
    try:
        victim.kill()
        for _ in range(4):
            answer = ask(lab)
            assert answer["usage"]["completion_tokens"] > 0
        status = backend_status(lab, victim)
        assert status["state"] == "down" and status["failures"] == 1 and status["requests"] == 1
        assert backend_status(lab, survivor)["requests"] == 4
    finally:
        lab.stop()
        victim.start()


def test_all_backends_down_answers_503(backends):
    lab = start_lab(backends, "--health-interval", "0.5")
    try:
        for backend in backends:
            backend.kill()
        for backend in backends:
            wait_state(lab, backend, "down")
        assert lab.health()["ready"] is False
        response = requests.post(lab.url + "/v1/chat/completions", timeout=30,
                                 json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
        assert response.status_code == 503, response.text
    finally:
        lab.stop()
        for backend in backends:
            if backend.process.poll() is not None:
                backend.start()


def test_batch_across_both_backends_writes_every_row_once(backends, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(6):
        (folder / f"study{index}.png").write_bytes(png(40 + index, 30, seed=index))
    output = tmp_path / "rows.jsonl"
    before = [b.predicted_tokens() for b in backends]
    args = [medlab_bin(), "batch", str(folder), "-q", "Is there a pleural effusion?", "-q", "Any nodule?",
            "-o", str(output), "--max-new-tokens", "6"]
    for backend in backends:
        args += ["--backend", backend.url]
    result = subprocess.run(args + BACKEND_FLAGS, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    keys = [(row["filename"], row["question"]) for row in rows]
    assert len(rows) == 12 and len(set(keys)) == 12
    assert all(not row.get("error") for row in rows), [row.get("error") for row in rows]
    assert all(row["tokens_out"] > 0 for row in rows)
    assert all(b.predicted_tokens() > start for b, start in zip(backends, before))


def test_backends_file_sets_kind_slots_and_interval(backends, tmp_path):
    config = tmp_path / "backends.json"
    config.write_text(json.dumps({"health_interval": 0.5, "backends": [
        {"url": backends[0].url + "/v1", "kind": "llama-server", "slots": 3, "image_size": 112, "tokens_per_image": 4},
        {"url": backends[1].url, "slots": 1, "image_size": 112, "tokens_per_image": 4}]}))
    lab = Server("--backends", str(config), "--log-format", "json")
    try:
        health = lab.health()
        assert [(b["name"], b["slots"]) for b in health["backends"]] == [(backends[0].url, 3), (backends[1].url, 1)]
        assert health["queue"]["slots"] == 4
        assert ask(lab)["usage"]["completion_tokens"] > 0
    finally:
        lab.stop()
    bad = tmp_path / "bad.json"
    bad.write_text('{"backends": [{"url": "not a url"}]}')
    result = subprocess.run([medlab_bin(), "serve", "--backends", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "not an http(s) URL" in result.stderr


class KeepAliveDropper:
    """A TCP proxy in front of a real llama-server that closes each client connection when a second
    request arrives on it, unanswered: what a server does when its keep-alive timer fires just as
    the client reuses the connection (cpp-httplib and uvicorn close idle connections after 5 s)."""

    def __init__(self, upstream_port):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.upstream_port = upstream_port
        self.dropped = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        answered = threading.Event()

        def pump_back():
            try:
                while data := upstream.recv(65536):
                    answered.set()
                    client.sendall(data)
            except OSError:  # the other direction closed both sockets
                pass
            client.close()

        threading.Thread(target=pump_back, daemon=True).start()
        try:
            while data := client.recv(65536):
                if answered.is_set():  # the first answer came back: this is the next request
                    self.dropped += 1
                    break
                upstream.sendall(data)
        except OSError:
            pass
        client.close()
        upstream.close()

    def close(self):
        self.listener.close()


def test_a_dropped_keep_alive_connection_is_not_a_failure(backends):
    proxy = KeepAliveDropper(backends[0].port)
    lab = Server("--backend", proxy.url, *BACKEND_FLAGS, "--health-interval", "0.5")
    try:
        for _ in range(6):
            ask(lab)
        assert proxy.dropped >= 1  # the lab did reuse connections, and they were dropped
        status = lab.health()["backends"][0]
        assert status["state"] == "up" and status["failures"] == 0 and status["requests"] == 6, status
    finally:
        lab.stop()
        proxy.close()
