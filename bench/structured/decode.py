#!/usr/bin/env python3
"""Decode speed with and without a JSON Schema, one server, one run, the same prompts.

    MEDLAB_BIN=.build/debug/medlab .venv/bin/python bench/structured/decode.py [--requests 10] [--url URL]

Starts `medlab serve --demo --no-record` unless --url names a running lab (e.g. the GPU harness's
MedGemma-shaped one). Each round sends the same question twice: free text, then under a schema;
decode tokens/s is the server's own (`usage.completion_tokens` / `timings.decode_ms`). Prints
medians and the ratio constrained / unconstrained.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import requests

SCHEMA = {"type": "object", "properties": {
    "effusion": {"type": "boolean"}, "side": {"type": "string", "enum": ["left", "right", "both", "none"]},
    "findings": {"type": "array", "items": {"type": "string", "maxLength": 60}, "minItems": 1, "maxItems": 4},
    "confidence": {"type": "integer", "minimum": 0, "maximum": 100}},
    "required": ["effusion", "side", "findings", "confidence"]}
QUESTION = "Is there a pleural effusion? On which side? List the main findings and your confidence."


def start(binary):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "serve", "--demo", "--no-record", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(url + "/api/health", timeout=1).json().get("ready"):
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    sys.exit("the server did not become ready")


def speed(answer):
    return answer["usage"]["completion_tokens"] / (answer["timings"]["decode_ms"] / 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--url")
    parser.add_argument("--out")
    args = parser.parse_args()
    process, url = (None, args.url) if args.url else start(os.environ.get("MEDLAB_BIN", ".build/debug/medlab"))
    free, constrained, tokens = [], [], []
    try:
        for round_ in range(args.requests + 1):
            body = {"question": QUESTION, "max_new_tokens": args.max_new_tokens}
            a = requests.post(url + "/api/predict", json=body, timeout=600).json()
            b = requests.post(url + "/api/predict", json=body | {"schema": SCHEMA}, timeout=600).json()
            if round_ == 0:
                continue  # warm-up
            free.append(speed(a))
            constrained.append(speed(b))
            tokens.append((a["usage"]["completion_tokens"], b["usage"]["completion_tokens"]))
    finally:
        if process:
            process.terminate()
            process.wait(timeout=60)
    report = {"unconstrained_tokens_per_s": statistics.median(free), "constrained_tokens_per_s": statistics.median(constrained),
              "ratio": statistics.median(constrained) / statistics.median(free), "requests": args.requests,
              "median_tokens": {"unconstrained": statistics.median(t[0] for t in tokens), "constrained": statistics.median(t[1] for t in tokens)}}
    print(json.dumps(report, indent=2))
    print(f"constrained decode: {report['constrained_tokens_per_s']:.1f} tok/s vs {report['unconstrained_tokens_per_s']:.1f} free "
          f"(x{report['ratio']:.2f})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
