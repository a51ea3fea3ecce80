#!/usr/bin/env python3
"""W3 in small on this machine: does riding along (a new request's prompt fed in the running
streams' decode steps) change throughput, time between tokens and time to first token? (#21 item 4)

Two `medlab serve --demo --parallel C --kv-cache shared` servers, as built and with
`MEDLAB_RIDE_ALONG=0` (each new request prefilled alone while the streams wait), driven in
alternation by bench/gpu/loadgen.py: C closed-loop clients, streamed OpenAI requests, every
request its own image (bench/gpu/make_images.py), the same images and order on both.

    MEDLAB_BIN=.build/release/medlab python3 bench/cpu/ride_load.py [--clients 8] [--requests 32] [--tokens 48] [--rounds 2]

`--baseline-bin OTHER`: the baseline is another build of medlab, riding along too (before and
after a change to admission, like for like); `--requests` equal to `--clients` makes the run one
burst into an idle server.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gpu"))
import make_images  # noqa: E402
from bench import start_medlab  # noqa: E402

KEYS = ("tps", "inter_token_p95_s", "inter_token_max_s", "ttft_p50_s", "e2e_p95_s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline-bin", help="another medlab binary as the baseline, instead of MEDLAB_RIDE_ALONG=0")
    a = ap.parse_args()
    binary = os.environ.get("MEDLAB_BIN", os.path.join(HERE, "..", "..", ".build", "release", "medlab"))
    work = pathlib.Path(tempfile.mkdtemp())
    images = work / "images"
    images.mkdir()
    for i in range(a.requests + 1):
        (images / f"{i:03d}.png").write_bytes(make_images.image(9000 + i, 256))
    servers = {}
    try:
        baseline = ("baseline_build", a.baseline_bin, "1") if a.baseline_bin else ("prefilled_alone", binary, "0")
        for name, build, ride in (("riding_along", binary, "1"), baseline):
            servers[name] = start_medlab(build, name, ["--demo", "--parallel", str(a.clients), "--kv-cache", "shared",
                                                       "--queue", "256", "--no-record"],
                                         dict(os.environ, MEDLAB_RIDE_ALONG=ride), work / f"{name}.log")
        results = {name: [] for name in servers}
        for r in range(a.rounds):
            for name, (_, port) in servers.items():
                out = work / f"{name}-{r}.json"
                subprocess.run([sys.executable, os.path.join(HERE, "..", "gpu", "loadgen.py"), "--api", "openai",
                                "--url", f"http://127.0.0.1:{port}", "--images", str(images), "--question", "Describe.",
                                "--max-tokens", str(a.tokens), "--levels", str(a.clients), "--requests", str(a.requests),
                                "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
                level = json.loads(out.read_text())["levels"][str(a.clients)]
                results[name].append({k: level.get(k) for k in KEYS})
                print(f"round {r + 1} {name}: " + " ".join(f"{k}={results[name][-1][k]:.3f}" for k in KEYS), flush=True)
    finally:
        for server, _ in servers.values():
            server.stop()
    summary = {name: {k: statistics.median(row[k] for row in rows) for k in KEYS} for name, rows in results.items()}
    print(json.dumps(summary, indent=2))
    ride, alone = summary["riding_along"], summary[baseline[0]]
    print(f"as built vs {baseline[0]}:")
    print(f"{a.clients} clients: {ride['tps']:.1f} vs {alone['tps']:.1f} tokens/s "
          f"(x{ride['tps'] / alone['tps']:.2f}); time between tokens p95 {ride['inter_token_p95_s'] * 1000:.0f} vs "
          f"{alone['inter_token_p95_s'] * 1000:.0f} ms, max {ride['inter_token_max_s'] * 1000:.0f} vs "
          f"{alone['inter_token_max_s'] * 1000:.0f} ms; first token p50 {ride['ttft_p50_s']:.2f} vs {alone['ttft_p50_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
