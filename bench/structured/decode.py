#!/usr/bin/env python3
"""Decode speed with and without a JSON Schema, one server, one run, the same prompts.

    MEDLAB_BIN=.build/debug/medlab .venv/bin/python bench/structured/decode.py [--rounds 10] [--streams 1,16] [--url URL]

Starts `medlab serve --demo --no-record` unless --url names a running lab (the GPU harness's
MedGemma-shaped one: `bash bench/gpu/run.sh OUT build model structured`). At each concurrency
level, each round sends N questions at once (the same question numbered apart: "Case 16-3-7."),
free text, then the same N under a schema; no question is asked twice under a schema, so no
answer finds its grammar states cached by an identical earlier one. Per-stream decode tokens/s is the server's own (`usage.completion_tokens` /
`timings.decode_ms`); the aggregate is all completion tokens of a round over its wall time.
Prints medians and the ratios constrained / unconstrained. Standard library only, so it runs on
a bare GPU machine too.
"""
import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

SCHEMA = {"type": "object", "properties": {
    "effusion": {"type": "boolean"}, "side": {"type": "string", "enum": ["left", "right", "both", "none"]},
    "findings": {"type": "array", "items": {"type": "string", "maxLength": 60}, "minItems": 1, "maxItems": 4},
    "confidence": {"type": "integer", "minimum": 0, "maximum": 100}},
    "required": ["effusion", "side", "findings", "confidence"]}
QUESTION = "Is there a pleural effusion? On which side? List the main findings and your confidence."


def post(url, body, timeout=900):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def ready(url):
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=2) as response:
            return json.load(response).get("ready")
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return False


def start(binary):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "serve", "--demo", "--no-record", "--port", str(port), "--parallel", "4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if ready(url):
            return process, url
        time.sleep(0.1)
    sys.exit("the server did not become ready")


def speed(answer):
    return answer["usage"]["completion_tokens"] / max(answer["timings"]["decode_ms"], 1e-3) * 1000


def burst(pool, url, bodies):
    """Requests at once: their answers and the wall time of the burst."""
    started = time.perf_counter()
    answers = list(pool.map(lambda body: post(url + "/api/predict", body), bodies))
    return answers, time.perf_counter() - started


def question(case):
    """The question of one request: each is asked once per kind, so no answer repeats another (a
    repeat would find every grammar state cached, which a batch of different studies does not)."""
    return f"{QUESTION} Case {case}."


def level(url, streams, rounds, max_new_tokens):
    body = {"max_new_tokens": max_new_tokens, "temperature": 0}
    per_stream = {"free": [], "constrained": []}
    aggregate = {"free": [], "constrained": []}
    tokens = {"free": [], "constrained": []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=streams) as pool:
        for round_ in range(rounds + 1):
            cases = [f"{streams}-{round_}-{n}" for n in range(streams)]
            for kind, extra in (("free", {}), ("constrained", {"schema": SCHEMA})):
                answers, wall = burst(pool, url, [body | extra | {"question": question(case)} for case in cases])
                if round_ == 0:
                    continue  # warm-up
                per_stream[kind] += [speed(a) for a in answers]
                aggregate[kind].append(sum(a["usage"]["completion_tokens"] for a in answers) / wall)
                tokens[kind] += [a["usage"]["completion_tokens"] for a in answers]
    med = {k: statistics.median(v) for k, v in per_stream.items()}
    agg = {k: statistics.median(v) for k, v in aggregate.items()}
    return {"streams": streams, "rounds": rounds,
            "per_stream_tokens_per_s": med, "per_stream_ratio": med["constrained"] / med["free"],
            "aggregate_tokens_per_s": agg, "aggregate_ratio": agg["constrained"] / agg["free"],
            "median_tokens": {k: statistics.median(v) for k, v in tokens.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", "--requests", type=int, default=10, dest="rounds")
    parser.add_argument("--streams", default="1", help="comma-separated concurrency levels, e.g. 1,16")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--url")
    parser.add_argument("--out")
    parser.add_argument("--wait-ready", type=float, default=0, help="with --url: seconds to wait for the lab to be ready")
    args = parser.parse_args()
    process, url = (None, args.url) if args.url else start(os.environ.get("MEDLAB_BIN", ".build/debug/medlab"))
    deadline = time.time() + args.wait_ready
    while args.url and not ready(url):
        if time.time() > deadline:
            sys.exit(f"{url} is not ready")
        time.sleep(0.5)
    report = {"levels": []}
    try:
        for streams in [int(s) for s in args.streams.split(",")]:
            result = level(url, streams, args.rounds, args.max_new_tokens)
            report["levels"].append(result)
            print(f"{streams:>3} stream(s): constrained {result['per_stream_tokens_per_s']['constrained']:.1f} vs free "
                  f"{result['per_stream_tokens_per_s']['free']:.1f} tok/s per stream (x{result['per_stream_ratio']:.2f}); "
                  f"aggregate {result['aggregate_tokens_per_s']['constrained']:.1f} vs {result['aggregate_tokens_per_s']['free']:.1f} "
                  f"tok/s (x{result['aggregate_ratio']:.2f})", flush=True)
    finally:
        if process:
            process.terminate()
            process.wait(timeout=60)
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
