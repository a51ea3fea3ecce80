#!/usr/bin/env python3
"""Do running streams keep flowing while new requests are admitted? (#21 item 4)

Two `medlab serve --demo --parallel 8` servers on this machine: one as built and one baseline.
`--baseline all` (the default): `MEDLAB_ADMIT=all`, every waiting request prefilled before the
next step, against the build's one admission per decode step. `--baseline alone`: both servers
share one KV cache (`--kv-cache shared`, as on a GPU), and the baseline has `MEDLAB_RIDE_ALONG=0`,
each new request prefilled alone while the streams wait, against the build, where its prompt
rides along in the streams' decode steps (text in runs, the image whole). Each round, on each server
in alternation: RUNNING streamed image questions start and each receives its first token; then a
burst of ARRIVALS new image questions comes at once. Reported per server: the longest and the
p95 time between two tokens of the running streams while the burst is admitted, and the
arrivals' time to first token. Every request carries its own image (no cache, no shared prefix).

    MEDLAB_BIN=.build/release/medlab python3 bench/cpu/admission.py [--rounds 3] [--running 3] [--arrivals 4] [--baseline all|alone]

Standard library only (images from bench/gpu/make_images.py).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gpu"))
import make_images  # noqa: E402
from bench import Server, start_medlab  # noqa: E402


def start(binary: str, env: dict, name: str, logs: str, extra: list[str]) -> tuple[Server, int]:
    return start_medlab(binary, name, ["--demo", "--parallel", "8", "--queue", "32", "--no-record", *extra], env,
                        pathlib.Path(logs) / f"{name}.log")


def stream(port: int, png: bytes, max_tokens: int, first: threading.Event, times: list[float]) -> None:
    """One streamed OpenAI request; appends the arrival time of every text chunk to `times`."""
    body = {"max_tokens": max_tokens, "ignore_eos": True, "temperature": 0, "stream": True, "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(png).decode()}}, {"type": "text", "text": "Describe."}]}]}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:") or line.endswith("[DONE]"):
            continue
        event = json.loads(line[5:])
        if any((c.get("delta") or {}).get("content") for c in event.get("choices") or []):
            times.append(time.perf_counter())
            first.set()


def round_once(port: int, images: list[bytes], running: int, arrivals: int) -> dict:
    runs = [([], threading.Event()) for _ in range(running)]
    threads = [threading.Thread(target=stream, args=(port, images[i], 400, ev, t)) for i, (t, ev) in enumerate(runs)]
    for t in threads:
        t.start()
    for _, ev in runs:
        ev.wait(300)
    time.sleep(0.3)  # the running streams settle into steady decoding
    burst = [([], threading.Event()) for _ in range(arrivals)]
    sent = time.perf_counter()
    more = [threading.Thread(target=stream, args=(port, images[running + i], 4, ev, t)) for i, (t, ev) in enumerate(burst)]
    for t in more:
        t.start()
    for t in more:
        t.join()
    done = time.perf_counter()
    for t in threads:
        t.join()
    gaps = []
    for times, _ in runs:  # gaps of the running streams while the burst was being admitted
        window = [x for x in times if sent <= x <= done]
        before = [x for x in times if x < sent]
        if before:
            window = [before[-1]] + window
        gaps += [b - a for a, b in zip(window, window[1:])]
    ttft = [t[0] - sent for t, _ in burst if t]
    return {"max_gap_s": max(gaps) if gaps else None, "p95_gap_s": sorted(gaps)[int(0.95 * (len(gaps) - 1))] if gaps else None,
            "ttft_median_s": statistics.median(ttft) if ttft else None, "ttft_max_s": max(ttft) if ttft else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--running", type=int, default=3)
    ap.add_argument("--arrivals", type=int, default=4)
    ap.add_argument("--baseline", choices=["all", "alone"], default="all")
    a = ap.parse_args()
    binary = os.environ.get("MEDLAB_BIN", os.path.join(HERE, "..", "..", ".build", "release", "medlab"))
    folder = tempfile.mkdtemp()
    n = a.rounds * 2 * (a.running + a.arrivals)
    for i in range(n):
        with open(os.path.join(folder, f"{i:03d}.png"), "wb") as f:
            f.write(make_images.image(7000 + i, 256))
    pngs = [open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))]
    if a.baseline == "all":
        names, extra, baseline_env = ("interleaved", "all_at_once"), [], {"MEDLAB_ADMIT": "all"}
    else:
        names, extra, baseline_env = ("riding_along", "prefilled_alone"), ["--kv-cache", "shared"], {"MEDLAB_RIDE_ALONG": "0"}
    servers = {names[0]: start(binary, dict(os.environ), names[0], folder, extra),
               names[1]: start(binary, dict(os.environ, **baseline_env), names[1], folder, extra)}
    results = {name: [] for name in servers}
    try:
        k = 0
        for r in range(a.rounds):
            for name, (_, port) in servers.items():
                batch = pngs[k:k + a.running + a.arrivals]
                k += a.running + a.arrivals
                results[name].append(round_once(port, batch, a.running, a.arrivals))
                print(f"round {r + 1} {name}: {results[name][-1]}", flush=True)
    finally:
        for server, _ in servers.values():
            server.stop()
    summary = {name: {k: statistics.median([x[k] for x in rows if x[k] is not None]) for k in rows[0]} for name, rows in results.items()}
    print(json.dumps(summary, indent=2))
    i, o = summary[names[0]], summary[names[1]]
    print(f"longest stall of a running stream: {i['max_gap_s']:.3f} s {names[0]} vs {o['max_gap_s']:.3f} s {names[1]} "
          f"(x{o['max_gap_s'] / i['max_gap_s']:.2f}); p95 gap {i['p95_gap_s']:.3f} vs {o['p95_gap_s']:.3f} s; "
          f"arrivals' median first token {i['ttft_median_s']:.2f} vs {o['ttft_median_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
