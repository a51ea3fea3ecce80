#!/usr/bin/env python3
"""What keeping the lab record costs a request: two `medlab serve` processes on the same model
files, one with `--record` and one with `--no-record`, sent the same requests in alternation
(same image, question and token count), in one run. Prints medians, p95 and the difference.

    MEDLAB_BIN=.build/debug/medlab .venv/bin/python bench/record/overhead.py [--requests 60] [--tokens 4]

The model is the demo pair from scripts/setup.sh (or --model/--mmproj); the record's write is
off the request path, so the difference is the cost of building the entry and hashing the image.
"""
import argparse
import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from PIL import Image


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, extra, log):
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--port", str(port), *extra], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(url + "/api/health", timeout=1).json().get("ready"):
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit(f"{' '.join(extra)}: the server did not become ready")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per server (after 5 warm-ups)")
    parser.add_argument("--tokens", type=int, default=4, help="new tokens per answer (forced)")
    parser.add_argument("--size", type=int, default=512, help="side of the test image in pixels")
    parser.add_argument("--model-args", default="--demo", help="model flags for both servers")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args()
    binary = os.environ.get("MEDLAB_BIN", ".build/debug/medlab")
    folder = tempfile.mkdtemp(prefix="medlab-record-bench-")
    picture = Image.effect_noise((args.size, args.size), 64).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    body = {"question": "Describe the lung fields, heart size and mediastinum.", "image": base64.b64encode(buffer.getvalue()).decode(),
            "max_new_tokens": args.tokens, "ignore_eos": True}
    model = args.model_args.split()
    with open(os.path.join(folder, "serve.log"), "wb") as log:
        servers = {
            "record": start(binary, [*model, "--record", os.path.join(folder, "lab.sqlite")], log),
            "no_record": start(binary, [*model, "--no-record"], log),
        }
        times = {name: [] for name in servers}
        server_ms = {name: [] for name in servers}
        try:
            names = list(servers)
            for round_ in range(args.requests + 5):
                # Alternate which server goes first, so neither always follows the other's background work.
                for name in (names if round_ % 2 == 0 else names[::-1]):
                    url = servers[name][1]
                    started = time.perf_counter()
                    response = requests.post(url + "/api/predict", json=body, timeout=300)
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    if round_ >= 5:
                        times[name].append(elapsed)
                        server_ms[name].append(response.json()["timings"]["total_ms"])
            kept = requests.get(servers["record"][1] + "/api/analyses", params={"limit": 1000}).json()["analyses"]
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=60)

    def p95(values):
        return sorted(values)[max(0, int(len(values) * 0.95) - 1)]
    report = {name: {"median_ms": statistics.median(values), "p95_ms": p95(values), "server_total_median_ms": statistics.median(server_ms[name])}
              for name, values in times.items()}
    report["record_cost_median_ms"] = report["record"]["median_ms"] - report["no_record"]["median_ms"]
    # Rounds pair one request to each server: the median of their differences is the steadier figure.
    report["record_cost_paired_median_ms"] = statistics.median(a - b for a, b in zip(times["record"], times["no_record"]))
    report["record_cost_ratio"] = report["record"]["median_ms"] / report["no_record"]["median_ms"]
    report["requests"] = args.requests
    report["entries_kept"] = len(kept)
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report | {"binary": binary, "model_args": args.model_args, "size": args.size, "tokens": args.tokens}, f, indent=2)
    print(f"recording adds {report['record_cost_paired_median_ms']:+.2f} ms to a request (paired median; "
          f"difference of medians {report['record_cost_median_ms']:+.2f} ms: "
          f"{report['record']['median_ms']:.1f} vs {report['no_record']['median_ms']:.1f} ms, ×{report['record_cost_ratio']:.3f})")


if __name__ == "__main__":
    main()
