#!/usr/bin/env python3
"""How much slower is a new request's prefill while other streams decode? (#21, "Where the time goes")

For each KV-cache kind (`--kv-cache separate` and `shared`) one `medlab serve` with MEDLAB_TRACE=1
runs; for each load level N: N streamed image questions start and each receives its first token
(so their images are encoded and they are decoding), then PROBES new image questions are sent one
after another, each with an image of its own (no embedding cache, no shared prefix). Each probe's
prefill is read from the server's `TRACE ... prefill` line (with MEDLAB_TRACE=1 every piece is
synchronised: text before the image, the image's embeddings, the text after), so the figures are
the engine's own, not HTTP round trips. Level 0 is the probe alone.

`--burst N` adds bursts of N requests arriving together (as W3's clients do), on every kind's
server in alternation (`--rounds`): their prefills then meet the vision thread encoding the next
image (`encoding=1` in the trace), which the probes never do. `--kinds shared,shared+exclusive`
compares `MEDLAB_PREFILL_EXCLUSIVE=1` (prefills and encodes take turns) with the default. On a
shared cache a probe under load rides along in the streams' decode steps (`ride=1` in the trace;
its times are then those steps'); `shared+alone` (`MEDLAB_RIDE_ALONG=0`) prefills it alone.

    MEDLAB_BIN=.build/debug/medlab python3 bench/cpu/prefill_load.py [--levels 0,4,8,16] [--kinds separate,shared]
    # another model (the H200): --serve-arg=--model --serve-arg=M.gguf --serve-arg=--mmproj --serve-arg=P.gguf

Standard library only (images from bench/gpu/make_images.py).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import pathlib
import re
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gpu"))
import make_images  # noqa: E402
from bench import Server, http_get, start_medlab  # noqa: E402

PREFILL = re.compile(r"prefill enc=([\d.]+) prefill=([\d.]+) cached=(\d+)(?: text_before=([\d.]+) image=([\d.]+) "
                     r"text_after=([\d.]+) tokens=(\d+) active=(\d+) kv_cells=(\d+) encoding=(\d))?")
FIELDS = ("enc", "prefill", "cached", "text_before", "image", "text_after", "tokens", "active", "kv_cells", "encoding")


def prefills(text: str) -> list[dict]:
    """Every `prefill` trace line of a server log, as numbers (the piece fields need this engine's trace)."""
    rows = []
    for m in PREFILL.finditer(text):
        if m[4] is None:
            raise SystemExit("this medlab's trace has no per-piece prefill fields (text_before=...): build a newer one")
        rows.append({k: float(v) for k, v in zip(FIELDS, m.groups())})
    return rows


def body(png: bytes, question: str, max_tokens: int, stream: bool) -> str:
    return json.dumps({"max_tokens": max_tokens, "ignore_eos": True, "temperature": 0, "stream": stream, "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(png).decode()}}, {"type": "text", "text": question}]}]})


def stream(port: int, png: bytes, question: str, max_tokens: int, first: threading.Event, stop: threading.Event,
           times: list | None = None) -> None:
    """One streamed request; sets `first` at its first text chunk (appending the time to `times`)
    and hangs up once `stop` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    try:
        conn.request("POST", "/v1/chat/completions", body(png, question, max_tokens, True), {"Content-Type": "application/json"})
        for raw in conn.getresponse():
            if raw.startswith(b"data:") and b'"content"' in raw and not first.is_set():
                if times is not None:
                    times.append(time.perf_counter())
                first.set()
            if stop.is_set():
                break
    except OSError:
        pass
    finally:
        first.set()
        conn.close()  # the server cancels the stream when its client goes


def ask(port: int, png: bytes, question: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.request("POST", "/v1/chat/completions", body(png, question, 1, False), {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"probe answered {response.status}")


def wait_idle(port: int, timeout: float = 600) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        code, text = http_get(f"http://127.0.0.1:{port}/api/health")
        queue = json.loads(text).get("queue", {}) if code == 200 else {}
        if queue.get("running") == 0 and queue.get("waiting") == 0:
            return
        time.sleep(0.2)
    raise SystemExit("the server did not become idle")


class Images:
    """Fresh PNGs on demand: no request carries an image the server has seen."""

    def __init__(self, size: int):
        self.size, self.next = size, 0

    def take(self) -> bytes:
        self.next += 1
        return make_images.image(20000 + self.next, self.size)


def summary(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0}
    out = {"n": len(rows)}
    for k in ("prefill", "text_before", "image", "text_after", "tokens", "active", "kv_cells", "encoding"):
        out[k] = round(statistics.median(r[k] for r in rows), 2)
    return out


def start(kind: str, a, binary: str, logs: pathlib.Path, slots: int) -> tuple[Server, int, pathlib.Path]:
    """One server: `separate` or `shared`, `+exclusive` for MEDLAB_PREFILL_EXCLUSIVE=1, `+alone` for
    MEDLAB_RIDE_ALONG=0; warmed up."""
    base, _, extra = kind.partition("+")
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_PREFILL_EXCLUSIVE="1" if extra == "exclusive" else "0",
               MEDLAB_RIDE_ALONG="0" if extra == "alone" else "1")
    args = ["--parallel", str(slots), "--ctx", str(a.ctx), "--kv-cache", base, "--queue", "64", "--no-record",
            "--log-format", "text"] + (a.serve_arg or ["--demo"])
    log_path = logs / f"serve-{kind}.log"
    server, port = start_medlab(binary, f"medlab {kind}", args, env, log_path, timeout=600)
    return server, port, log_path


def run_kind(kind: str, a, binary: str, images: Images, logs: pathlib.Path) -> dict:
    """The probes at each load level, on a server of its own."""
    levels = [int(x) for x in a.levels.split(",")]
    server, port, log_path = start(kind, a, binary, logs, max(levels) + 1)
    result = {}
    try:
        ask(port, images.take(), a.question)  # warm-up: the first prefill also sets up the graphs
        for n in levels:
            stop = threading.Event()
            firsts = [threading.Event() for _ in range(n)]
            threads = [threading.Thread(target=stream, args=(port, images.take(), a.question, a.stream_tokens, f, stop))
                       for f in firsts]
            for t in threads:
                t.start()
            for f in firsts:
                f.wait(900)
            mark = len(prefills(log_path.read_text(errors="replace")))
            for _ in range(a.probes):
                ask(port, images.take(), a.question)
            rows = [r for r in prefills(log_path.read_text(errors="replace"))[mark:] if r["active"] == n]
            stop.set()
            for t in threads:
                t.join()
            wait_idle(port)
            result[f"probe_under_{n}"] = summary(rows)
            print(f"{kind:8s} N={n:2d} probes: {result[f'probe_under_{n}']}", flush=True)
    finally:
        server.stop()
    return result


def burst(port: int, log_path: pathlib.Path, n: int, a, images: Images) -> tuple[list[dict], float, list[float]]:
    """N requests at once: their prefills, the wall time until all answered, each one's first token."""
    mark = len(prefills(log_path.read_text(errors="replace")))
    stop = threading.Event()
    ttft: list[float] = []
    threads = [threading.Thread(target=stream, args=(port, images.take(), a.question, 8, threading.Event(), stop, ttft))
               for _ in range(n)]
    sent = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - sent
    wait_idle(port)
    return prefills(log_path.read_text(errors="replace"))[mark:], wall, [t - sent for t in ttft]


def run_bursts(kinds: list[str], a, binary: str, images: Images, logs: pathlib.Path) -> dict:
    """Bursts on every kind's server in alternation, round after round: the machine's other load
    (this one is shared) then weighs on each alike."""
    servers = {kind: start(kind, a, binary, logs, a.burst) for kind in kinds}
    rows = {kind: [] for kind in kinds}
    walls = {kind: [] for kind in kinds}
    ttfts = {kind: [] for kind in kinds}
    try:
        for _, port, _ in servers.values():
            ask(port, images.take(), a.question)
        for r in range(a.rounds):
            for kind, (_, port, log_path) in servers.items():
                got, wall, ttft = burst(port, log_path, a.burst, a, images)
                rows[kind] += got
                walls[kind].append(wall)
                ttfts[kind] += ttft
                print(f"round {r + 1} {kind}: burst of {a.burst} in {wall:.2f} s, prefill p50 "
                      f"{statistics.median(x['prefill'] for x in got):.1f} ms, {sum(x['encoding'] for x in got):.0f} met an encode",
                      flush=True)
    finally:
        for server, _, _ in servers.values():
            server.stop()
    result = {}
    for kind in kinds:
        result[kind] = {f"burst_{a.burst}": dict(summary(rows[kind]), wall_s=round(statistics.median(walls[kind]), 3),
                                                 ttft_median_s=round(statistics.median(ttfts[kind]), 3),
                                                 ttft_max_s=round(max(ttfts[kind]), 3))}
        for flag in (0, 1):
            result[kind][f"burst_{a.burst}_encoding_{flag}"] = summary([x for x in rows[kind] if x["encoding"] == flag])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="0,4,8,16", help="running streams while the probes are prefilled")
    ap.add_argument("--kinds", default="separate,shared",
                    help="cache kinds (--kv-cache); KIND+exclusive runs it with MEDLAB_PREFILL_EXCLUSIVE=1, "
                         "KIND+alone with MEDLAB_RIDE_ALONG=0")
    ap.add_argument("--probes", type=int, default=3, help="probe requests per level")
    ap.add_argument("--burst", type=int, default=0, help="also N requests arriving together (0: no)")
    ap.add_argument("--rounds", type=int, default=3, help="bursts per kind, the kinds in alternation")
    ap.add_argument("--no-probes", action="store_true", help="only the bursts")
    ap.add_argument("--ctx", type=int, default=1024, help="tokens per sequence (--ctx)")
    ap.add_argument("--stream-tokens", type=int, default=600, help="max_tokens of the running streams (they are cut)")
    ap.add_argument("--question-words", type=int, default=60,
                    help="words of the question after the image (a long one stands in for MedGemma's 256 image tokens)")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--serve-arg", action="append", help="model flags for medlab serve (default --demo)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    a.question = "Describe this image. " + " ".join(["Consider the lung fields and the mediastinum."] * (a.question_words // 8))
    binary = os.environ.get("MEDLAB_BIN", os.path.join(HERE, "..", "..", ".build", "release", "medlab"))
    logs = pathlib.Path(tempfile.mkdtemp(prefix="prefill_load-"))
    print(f"logs: {logs}", flush=True)
    images = Images(a.image_size)
    kinds = a.kinds.split(",")
    results = {kind: {} if a.no_probes else run_kind(kind, a, binary, images, logs) for kind in kinds}
    if a.burst:
        for kind, more in run_bursts(kinds, a, binary, images, logs).items():
            results[kind].update(more)
    print("\nmedian prefill ms of a new request (text before image / image / text after), by running streams:")
    for kind, r in results.items():
        alone = (r.get("probe_under_0") or {}).get("prefill")
        for key, s in r.items():
            if not s.get("n"):
                continue
            ratio = f" x{s['prefill'] / alone:.2f} of alone" if alone and key.startswith("probe") else ""
            if "wall_s" in s:
                ratio += f"; burst wall p50 {s['wall_s']:.2f} s, first token p50 {s['ttft_median_s']} s, max {s['ttft_max_s']} s"
            print(f"  {kind:8s} {key:22s} {s['prefill']:8.1f} ms ({s['text_before']:.1f} / {s['image']:.1f} / "
                  f"{s['text_after']:.1f}), {s['tokens']:.0f} tokens, kv_cells {s['kv_cells']:.0f}{ratio}")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"args": vars(a), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
