#!/usr/bin/env python3
"""The host's share of a many-stream decode step: picking each stream's greedy token, an argmax
over its 262,144 logits (1 MB), on one thread or on several (#21 item 5).

Two `medlab serve --parallel N` servers on the tiny random Gemma 3 (the real vocabulary, a
tiny width, so the step is cheap and the argmax shows; its projector idles): one as built (every
argmax on the scheduler thread) and one with `MEDLAB_PARALLEL_ARGMAX_ROWS=8` (a thread each from
8 rows on). N text
requests decode together with `MEDLAB_TRACE=1`; reported per server: the median `sample=` of
the N-stream steps (on a CPU llama_decode has returned by then, so it is the sampling alone),
and the answers, which must be the same.

    MEDLAB_BIN=.build/release/medlab python3 bench/cpu/argmax_rows.py [--streams 16,64] [--tokens 64] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import statistics
import sys
import tempfile
import threading
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gpu"))
from bench import start_medlab  # noqa: E402


def ask(port: int, n: int, tokens: int, answers: dict) -> None:
    body = {"messages": [{"role": "user", "content": f"Write note {n}."}], "max_tokens": tokens, "ignore_eos": True,
            "temperature": 0}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        answers[n] = json.load(response)["choices"][0]["message"]["content"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="16,64")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = os.environ.get("MEDLAB_BIN", os.path.join(HERE, "..", "..", ".build", "release", "medlab"))
    models = pathlib.Path(os.environ.get("MEDLAB_TEST_MODELS", pathlib.Path.home() / ".cache" / "medlab" / "test-models"))
    work = pathlib.Path(tempfile.mkdtemp())
    for streams in map(int, a.streams.split(",")):
        servers = {}
        try:
            for name, rows in (("one_thread", ""), ("threads", "8")):
                env = dict(os.environ, MEDLAB_TRACE="1")
                if rows:
                    env["MEDLAB_PARALLEL_ARGMAX_ROWS"] = rows
                args = ["--model", str(models / "tiny-gemma3.gguf"), "--mmproj", str(models / "tiny-mmproj.gguf"), "--parallel",
                        str(streams), "--queue", str(2 * streams), "--no-record", "--no-demo", "--log-format", "text"]
                servers[name] = start_medlab(binary, f"{name}-{streams}", args, env, work / f"{name}-{streams}.log")
            samples = {name: [] for name in servers}
            answers = {name: {} for name in servers}
            for _ in range(a.rounds):
                for name, (server, port) in servers.items():
                    before = len(server.log_path.read_text(errors="replace")) if server.log_path.exists() else 0
                    threads = [threading.Thread(target=ask, args=(port, n, a.tokens, answers[name])) for n in range(streams)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    text = server.log_path.read_text(errors="replace")[before:]
                    samples[name] += [float(m[1]) for m in re.finditer(rf"step n={streams} decode=[\d.]+ sample=([\d.]+)", text)]
            one, many = statistics.median(samples["one_thread"]), statistics.median(samples["threads"])
            same = answers["one_thread"] == answers["threads"]
            print(f"{streams} streams: greedy sampling {one:.3f} ms a step on one thread vs {many:.3f} ms on several "
                  f"(x{one / many:.2f}; {len(samples['one_thread'])} and {len(samples['threads'])} steps); same answers: {same}",
                  flush=True)
        finally:
            for server, _ in servers.values():
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
