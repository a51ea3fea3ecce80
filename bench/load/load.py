#!/usr/bin/env python3
"""A bounded loopback load test of `medlab serve` (issue #19, "Load").

Starts `medlab serve --demo` on a free loopback port with a queue smaller than the number of
clients, drives N closed-loop clients (threads, one keep-alive connection each) that mix
`/api/predict`, streamed `/v1/chat/completions`, `/api/render` (a DICOM and a PNG),
`/api/health` and `/metrics`, while a separate prober process times `/api/health` on a fresh
connection every 50 ms and this process samples the server's resident memory. Then it judges:

  1. every answer is 200, 429 or 503;
  2. every 429/503 carries a `Retry-After` of whole seconds;
  3. no connection is reset, refused, cut short or timed out;
  4. every 200 is complete (a predict's JSON answer, a stream's final chunk and `[DONE]`,
     a render's PNG, health `ok`, metrics text), and after the clients stop the server's queue
     empties (nothing accepted is left hanging) and the server is still running;
  5. `/api/health` p99 <= 100 ms over the run and in every 60 s window of it (probe failures: none);
  6. with --soak-seconds: resident memory grows <= 5 % after warm-up (rule below);
and, as cross-checks, that some predicts and streams were answered 200, that the server's own
`/metrics` counted only 200, 429 and 503, and that it exits 0 on SIGTERM.

Warm-up rule: the first --warmup-seconds (60) of load. The "after warm-up" figure is the median
of the RSS samples (every 2 s) in the 10 s (--rss-window) starting at that mark, the "end" figure
the median of the samples in the last 10 s of load; growth = end / after-warm-up - 1. Medians of
a few samples, so one sample taken while a burst of request bodies is in memory does not decide
the verdict. Without --soak-seconds the figure is only reported, and a run shorter than twice the
warm-up takes its middle as the mark.

Clients back off after a 429/503 for min(Retry-After, --max-backoff) x U(0.5, 1) seconds: the
server's estimate is honoured in spirit, while the line stays full all the time.

Prints a table of figures and exits 1 when any criterion fails (2 when the server cannot start).
"""
import argparse
import base64
import http.client
import io
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ("predict", "stream", "render", "health", "metrics")
# Share of each kind in a client's choices; generation is a little over half.
WEIGHTS = {"predict": 3, "stream": 3, "render": 2, "health": 1, "metrics": 1}
QUESTIONS = ["Describe this image.", "Is the heart enlarged?", "Any focal opacity?", "What is shown here?"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60, help="load duration (default 60)")
    p.add_argument("--soak-seconds", type=float, default=0,
                   help="run this long (if longer than --seconds) and judge memory growth after warm-up")
    p.add_argument("--warmup-seconds", type=float, default=60, help="warm-up for the memory rule (default 60)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--queue", type=int, default=8, help="the server's --queue; must be below --clients")
    p.add_argument("--parallel", type=int, default=1, help="the server's --parallel")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in WEIGHTS.items()),
                   help="relative weights of the kinds, e.g. render=1 for renders only (default %(default)s)")
    p.add_argument("--probe-interval", type=float, default=0.05, help="seconds between health probes")
    p.add_argument("--rss-interval", type=float, default=2.0, help="seconds between memory samples")
    p.add_argument("--rss-window", type=float, default=10.0,
                   help="seconds of samples whose median is the after-warm-up and the end figure (default 10)")
    p.add_argument("--max-backoff", type=float, default=1.0, help="longest pause after a 429/503")
    p.add_argument("--client-timeout", type=float, default=330,
                   help="socket timeout of one request (default 330: past the server's own --timeout of 300 s, "
                        "which answers 504 first, so a client timeout means a hang)")
    p.add_argument("--health-p99-ms", type=float, default=100)
    p.add_argument("--rss-growth-pct", type=float, default=5)
    p.add_argument("--seed", type=int, default=19)
    p.add_argument("--medlab", default=os.environ.get("MEDLAB_BIN") or os.path.join(ROOT, ".build", "debug", "medlab"))
    p.add_argument("--serve-arg", action="append", default=[], help="one more argument for `medlab serve`")
    p.add_argument("--json", help="write every figure and verdict here")
    p.add_argument("--log", help="keep the server's log here (default: a temporary file)")
    args = p.parse_args(argv)
    if args.queue >= args.clients:
        p.error("--queue must be smaller than --clients: the test is about a full line")
    args.duration = max(args.seconds, args.soak_seconds)
    try:
        args.weights = {kind: float(weight) for kind, weight in (item.split("=") for item in args.mix.split(","))}
    except ValueError:
        p.error(f"--mix: KIND=WEIGHT,... with kinds among {', '.join(KINDS)}")
    if not set(args.weights) <= set(KINDS) or sum(args.weights.values()) <= 0:
        p.error(f"--mix: KIND=WEIGHT,... with kinds among {', '.join(KINDS)}")
    if args.soak_seconds and args.soak_seconds < args.warmup_seconds + 2 * args.rss_window:
        p.error("--soak-seconds must exceed --warmup-seconds by two --rss-window at least")
    return args


# ---- inputs ---------------------------------------------------------------------------------

def png_images(count=12, side=128, seed=19):
    """Different small RGB PNGs (gradients and noise): more than the engine's 8 cached image
    embeddings, so the vision encoder and the cache's evictions are exercised too."""
    from PIL import Image

    rng = random.Random(seed)
    out = []
    for i in range(count):
        pixels = bytes(
            min(255, (x * 2 + y * (i + 1)) % 256 + rng.randrange(16)) if c == 0 else (y * 2 + c * 40 + i * 30) % 256
            for y in range(side) for x in range(side) for c in range(3))
        buf = io.BytesIO()
        Image.frombytes("RGB", (side, side), pixels).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def dicom_file():
    from pydicom.data import get_testdata_file

    with open(get_testdata_file("CT_small.dcm"), "rb") as f:
        return f.read()


class Payloads:
    """Request bodies for each kind, built once (encoding them per request would load the client)."""

    def __init__(self, max_new_tokens):
        pngs = png_images()
        self.png_urls = ["data:image/png;base64," + base64.b64encode(p).decode() for p in pngs]
        dcm = base64.b64encode(dicom_file()).decode()
        self.max_new_tokens = max_new_tokens
        self.renders = [
            json.dumps({"image": dcm, "window": "lung"}).encode(),
            json.dumps({"image": dcm, "window": "mediastinum", "model_input": True}).encode(),
            json.dumps({"image": self.png_urls[0], "region": {"rect": [10, 10, 60, 50]}}).encode(),
        ]

    def request(self, kind, rng):
        """(method, path, body) for one request of `kind`."""
        if kind == "predict":
            body = {"image": rng.choice(self.png_urls), "question": rng.choice(QUESTIONS),
                    "max_new_tokens": self.max_new_tokens}
            return "POST", "/api/predict", json.dumps(body).encode()
        if kind == "stream":
            body = {"stream": True, "max_tokens": self.max_new_tokens, "messages": [{"role": "user", "content": [
                {"type": "text", "text": rng.choice(QUESTIONS)},
                {"type": "image_url", "image_url": {"url": rng.choice(self.png_urls)}}]}]}
            return "POST", "/v1/chat/completions", json.dumps(body).encode()
        if kind == "render":
            return "POST", "/api/render", rng.choice(self.renders)
        if kind == "health":
            return "GET", "/api/health", None
        return "GET", "/metrics", None


# ---- checking one answer --------------------------------------------------------------------

def read_stream(response):
    """Reads an OpenAI SSE stream to its end; returns None when complete, else what is wrong."""
    finish = None
    done = False
    for raw in iter(response.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if done:
            return "data after [DONE]"
        if data == "[DONE]":
            done = True
            continue
        event = json.loads(data)
        if "error" in event:
            return f"error event: {json.dumps(event['error'])[:200]}"
        for choice in event.get("choices", []):
            finish = choice.get("finish_reason") or finish
    if not done:
        return "stream ended without [DONE]"
    if finish not in ("stop", "length"):
        return f"no final chunk with finish_reason (got {finish!r})"
    return None


def check_body(kind, body):
    """None when a 200 body of `kind` is complete, else what is wrong."""
    try:
        if kind == "metrics":
            text = body.decode()
            return None if "medlab_http_requests_total" in text else "metrics without request counters"
        obj = json.loads(body)
        if kind == "predict":
            ok = isinstance(obj.get("answer"), str) and obj.get("finish_reason") in ("stop", "length")
            return None if ok else f"incomplete answer {body[:200]!r}"
        if kind == "render":
            ok = str(obj.get("image", "")).startswith("data:image/png;base64,") and obj.get("width", 0) > 0
            return None if ok else f"render without a PNG {body[:200]!r}"
        if kind == "health":
            return None if obj.get("status") == "ok" else f"health status {obj.get('status')!r}"
    except (ValueError, UnicodeDecodeError) as error:
        return f"unparsable body: {error}"
    return None


def transport_error(error):
    """The failure class of an exception raised while talking to the server."""
    if isinstance(error, http.client.RemoteDisconnected):
        return "disconnected"
    if isinstance(error, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(error, http.client.IncompleteRead):
        return "truncated"
    return type(error).__name__


class Record:
    __slots__ = ("start", "kind", "status", "ms", "error", "invalid", "retry_after", "timings")

    def __init__(self, start, kind):
        self.start, self.kind = start, kind
        self.status = self.ms = self.error = self.invalid = self.retry_after = self.timings = None


def one_request(conn, method, path, body, kind, clock0):
    """Sends one request on `conn`, reads the whole answer, and says how it went."""
    record = Record(time.monotonic() - clock0, kind)
    t0 = time.perf_counter()
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        record.status = response.status
        record.retry_after = response.getheader("Retry-After")
        if kind == "stream" and response.status == 200:
            record.invalid = read_stream(response)
            response.read()
        else:
            data = response.read()
            if response.status == 200:
                record.invalid = check_body(kind, data)
                if kind == "predict" and not record.invalid:
                    record.timings = json.loads(data).get("timings")
    except (OSError, http.client.HTTPException, ValueError) as error:
        record.error = transport_error(error)
    record.ms = (time.perf_counter() - t0) * 1000
    return record


class Client(threading.Thread):
    def __init__(self, index, port, payloads, args, stop, clock0):
        super().__init__(name=f"client-{index}", daemon=True)
        self.port, self.payloads, self.args, self.stop, self.clock0 = port, payloads, args, stop, clock0
        self.rng = random.Random(args.seed * 1000 + index)
        self.records = []

    def run(self):
        kinds, weights = list(self.args.weights), list(self.args.weights.values())
        conn = None
        while not self.stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.args.client_timeout)
            kind = self.rng.choices(kinds, weights)[0]
            method, path, body = self.payloads.request(kind, self.rng)
            record = one_request(conn, method, path, body, kind, self.clock0)
            self.records.append(record)
            if record.error:
                conn.close()
                conn = None
            if record.status in (429, 503):
                wait = self.args.max_backoff
                if record.retry_after and record.retry_after.isdigit():
                    wait = min(wait, int(record.retry_after))
                self.stop.wait(wait * self.rng.uniform(0.5, 1.0))
        if conn is not None:
            conn.close()


# ---- the health prober (own process: the clients' threads must not delay its clock) ------------

def probe_loop(port, interval, stop, out, clock0):
    samples = []  # (seconds since clock0, ms, status or None, error or None)
    next_at = time.monotonic()
    while not stop.is_set():
        start = time.monotonic()
        t0 = time.perf_counter()
        status = error = None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            body = response.read()
            status = response.status
            if status == 200 and check_body("health", body):
                error = "not ok"
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            error = transport_error(exc)
        samples.append((start - clock0, (time.perf_counter() - t0) * 1000, status, error))
        next_at += interval
        now = time.monotonic()
        if next_at < now:  # a slow probe: keep the schedule, do not catch up in a burst
            next_at = now
        stop.wait(next_at - now)
    out.send(samples)
    out.close()


# ---- the server ---------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(port, path, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def get_text(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def start_server(args, port, log):
    if not os.path.exists(args.medlab):
        sys.exit(f"medlab binary not found at {args.medlab}: build it (swift build) or set MEDLAB_BIN")
    # The lab record (every analysis, refusals included) goes to a fresh folder, removed at the end.
    args.data_dir = tempfile.mkdtemp(prefix="medlab-load-data-")
    env = dict(os.environ, XDG_DATA_HOME=args.data_dir)
    command = [args.medlab, "serve", "--demo", "--port", str(port), "--queue", str(args.queue),
               "--parallel", str(args.parallel), "--log-format", "json", *args.serve_arg]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return process, f"medlab serve exited with {process.returncode}"
        try:
            if get_json(port, "/api/health", timeout=2).get("status") == "ok":
                return process, None
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.1)
    return process, "the model was not ready within 120 s"


def rss_kib(pid):
    """VmRSS of `pid` in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_idle(port, timeout):
    """Seconds until the server's queue is empty, or None when it stays busy past `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        queue = get_json(port, "/api/health")["queue"]
        if queue["running"] == 0 and queue["waiting"] == 0:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def server_status_counts(metrics_text):
    """{status: count} summed over routes from medlab_http_requests_total."""
    counts = {}
    for match in re.finditer(r'^medlab_http_requests_total\{[^}]*status="(\d+)"[^}]*\} (\S+)$', metrics_text, re.M):
        counts[match.group(1)] = counts.get(match.group(1), 0) + int(float(match.group(2)))
    return counts


# ---- figures and verdicts -----------------------------------------------------------------------

def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def windows(samples, length, duration):
    """Splits (t, …) samples into consecutive `length`-second windows; a last one shorter than
    half a window joins the one before it."""
    count = max(1, int(duration // length))
    if duration - count * length >= length / 2:
        count += 1
    out = [[] for _ in range(count)]
    for sample in samples:
        out[min(count - 1, int(max(0.0, sample[0]) // length))].append(sample)
    return out


def median_between(samples, t0, t1):
    values = [kib for t, kib in samples if t0 <= t < t1]
    return statistics.median(values) if values else None


def rss_figures(rss, warmup, window, load_seconds):
    """The memory rule (module docstring) over (seconds, KiB) samples. A run shorter than twice
    the warm-up takes its middle as the warm-up mark, so short runs still report a figure."""
    warm_at = min(warmup, max(0.0, load_seconds - 2 * window), load_seconds / 2)
    rss_warm = median_between(rss, warm_at, warm_at + window)
    rss_end = median_between(rss, load_seconds - window, load_seconds + 0.001)
    peak = max((kib for t, kib in rss if t >= warm_at), default=None)
    growth = (rss_end / rss_warm - 1) * 100 if rss_warm and rss_end else float("nan")
    return {"start": rss[0][1] if rss else None, "after_warmup": rss_warm, "end": rss_end, "peak_after_warmup": peak,
            "growth_pct": growth, "warmup_at_s": warm_at, "samples": len(rss),
            "series": [[round(t, 1), kib] for t, kib in rss]}


def summarize(args, records, probes, rss, loads, idle_after, server_alive, server_exit, counts, load_seconds):
    figures = {"config": {"clients": args.clients, "seconds": round(load_seconds, 1), "queue": args.queue,
                          "mix": args.mix,
                          "parallel": args.parallel, "max_new_tokens": args.max_new_tokens,
                          "soak": bool(args.soak_seconds), "warmup_seconds": args.warmup_seconds,
                          "cpus": os.cpu_count()}}
    kinds = {}
    for kind in KINDS:
        mine = [r for r in records if r.kind == kind]
        ok = [r.ms for r in mine if r.status == 200 and not r.error]
        statuses = {}
        for r in mine:
            key = str(r.status) if r.status is not None else "none"
            statuses[key] = statuses.get(key, 0) + 1
        kinds[kind] = {
            "sent": len(mine), "statuses": statuses,
            "errors": sum(1 for r in mine if r.error), "invalid": sum(1 for r in mine if r.invalid),
            "ms_200": {"p50": percentile(ok, 50), "p99": percentile(ok, 99), "max": max(ok, default=float("nan"))},
            "ms_refused": {"p50": percentile([r.ms for r in mine if r.status in (429, 503)], 50)},
        }
    figures["kinds"] = kinds
    # Where a predict's time went, from the server's own `timings` (median over the 200s).
    timed = [r.timings for r in records if r.timings]
    figures["predict_timings_ms"] = {
        key: statistics.median(t.get(key) or 0 for t in timed) if timed else None
        for key in ("total_ms", "queue_ms", "image_ms", "prefill_ms", "decode_ms", "tokens_per_s")}
    probe_ms = [ms for _, ms, _, _ in probes]
    per_window = [percentile([s[1] for s in w], 99) for w in windows(probes, 60, load_seconds)]
    figures["health_probe"] = {
        "count": len(probes), "interval_s": args.probe_interval, "p50": percentile(probe_ms, 50),
        "p99": percentile(probe_ms, 99), "max": max(probe_ms, default=float("nan")), "window_p99": per_window,
        "failures": sum(1 for _, _, status, error in probes if error or status != 200)}
    figures["rss_kib"] = rss_figures(rss, args.warmup_seconds, args.rss_window, load_seconds)
    growth = figures["rss_kib"]["growth_pct"]
    figures["loadavg"] = {"start": loads[0][1] if loads else None, "end": loads[-1][1] if loads else None,
                          "max_1min": max((l[1][0] for l in loads), default=None)}
    figures["server"] = {"idle_after_s": idle_after, "alive_during_run": server_alive, "exit_code": server_exit,
                         "status_counts": counts}

    verdicts = []

    def judge(name, passed, detail):
        verdicts.append({"criterion": name, "pass": bool(passed), "detail": detail})

    other = {k: v for kind in kinds.values() for k, v in kind["statuses"].items() if k not in ("200", "429", "503", "none")}
    judge("only 200, 429 and 503", not other, f"other statuses: {other}" if other else "none other")
    missing = [r for r in records if r.status in (429, 503) and not (r.retry_after or "").isdigit()]
    judge("429/503 carry Retry-After", not missing,
          f"{len(missing)} without (e.g. {missing[0].kind} {missing[0].status})" if missing
          else f"{sum(1 for r in records if r.status in (429, 503))} refusals, all with it")
    errors = {}
    for r in records:
        if r.error:
            errors[r.error] = errors.get(r.error, 0) + 1
    judge("no reset, refused, cut or timed-out connection", not errors, errors or "none")
    invalid = [r for r in records if r.invalid]
    judge("every accepted request completes", not invalid and idle_after is not None and server_alive,
          (f"{len(invalid)} incomplete, e.g. {invalid[0].kind}: {invalid[0].invalid}" if invalid else "all complete")
          + ("" if idle_after is not None else "; the queue did not empty after the clients stopped")
          + ("" if server_alive else "; the server died"))
    accepted = {k: kinds[k]["statuses"].get("200", 0) for k in ("predict", "stream") if args.weights.get(k)}
    if accepted:
        judge("generation was exercised", all(accepted.values()), f"200s: {accepted}")
    hp = figures["health_probe"]
    worst = max(per_window, default=float("nan"))
    judge(f"/api/health p99 <= {args.health_p99_ms:g} ms throughout",
          hp["failures"] == 0 and hp["p99"] <= args.health_p99_ms and worst <= args.health_p99_ms,
          f"p99 {hp['p99']:.1f} ms, worst 60 s window {worst:.1f} ms, probe failures {hp['failures']}")
    server_bad = {k: v for k, v in counts.items() if k not in ("200", "429", "503")}
    judge("the server counted only 200, 429 and 503", not server_bad, server_bad or "yes")
    judge("the server exits 0 on SIGTERM", server_exit == 0, f"exit code {server_exit}")
    if args.soak_seconds:
        judge(f"RSS growth after warm-up <= {args.rss_growth_pct:g} %", growth <= args.rss_growth_pct,
              f"{growth:+.2f} %")
    figures["verdicts"] = verdicts
    return figures


def print_table(figures):
    c = figures["config"]
    la = figures["loadavg"]
    print(f"\nmedlab load test: {c['clients']} clients, {c['seconds']:g} s, --queue {c['queue']} --parallel {c['parallel']}, "
          f"demo model, max_new_tokens {c['max_new_tokens']}, mix {c['mix']}")
    fmt = lambda v: "-" if v is None else f"{v[0]:.2f} {v[1]:.2f} {v[2]:.2f}"  # noqa: E731
    print(f"machine: {c['cpus']} CPUs; load average (1/5/15 min) at start {fmt(la['start'])}, "
          f"at end {fmt(la['end'])}, highest 1-min during the run {la['max_1min']:.2f}")
    print(f"\n{'kind':<8} {'sent':>7} {'200':>7} {'429':>7} {'503':>6} {'other':>6} {'errors':>6} {'invalid':>7} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'429 p50':>8}")
    total = {"sent": 0, "200": 0, "429": 0, "503": 0, "other": 0, "errors": 0, "invalid": 0}
    for kind, k in figures["kinds"].items():
        if not k["sent"]:
            continue
        s = k["statuses"]
        other = sum(v for key, v in s.items() if key not in ("200", "429", "503", "none"))
        row = {"sent": k["sent"], "200": s.get("200", 0), "429": s.get("429", 0), "503": s.get("503", 0),
               "other": other, "errors": k["errors"], "invalid": k["invalid"]}
        for key in total:
            total[key] += row[key]
        m = k["ms_200"]
        print(f"{kind:<8} {row['sent']:>7} {row['200']:>7} {row['429']:>7} {row['503']:>6} {other:>6} {row['errors']:>6} "
              f"{row['invalid']:>7} {m['p50']:>8.1f} {m['p99']:>8.1f} {m['max']:>8.1f} {k['ms_refused']['p50']:>8.1f}")
    print(f"{'total':<8} {total['sent']:>7} {total['200']:>7} {total['429']:>7} {total['503']:>6} {total['other']:>6} "
          f"{total['errors']:>6} {total['invalid']:>7}   (latencies: 200s; '429 p50': refusals)")
    pt = figures["predict_timings_ms"]
    if pt["total_ms"] is not None:
        print("predict 200s, server timings (medians): " + ", ".join(f"{k} {v:.1f}" for k, v in pt.items()))
    hp = figures["health_probe"]
    print(f"\n/api/health prober (own process, new connection every {hp['interval_s'] * 1000:g} ms): {hp['count']} probes, "
          f"p50 {hp['p50']:.1f} ms, p99 {hp['p99']:.1f} ms, max {hp['max']:.1f} ms, failures {hp['failures']}")
    print("  p99 per 60 s window (ms): " + ", ".join(f"{v:.1f}" for v in hp["window_p99"]))
    r = figures["rss_kib"]
    mib = lambda v: "-" if v is None else f"{v / 1024:.1f} MiB"  # noqa: E731
    print(f"server RSS: start {mib(r['start'])}, after warm-up ({r['warmup_at_s']:.0f} s) {mib(r['after_warmup'])}, "
          f"end {mib(r['end'])}, peak after warm-up {mib(r['peak_after_warmup'])}; growth after warm-up "
          f"{r['growth_pct']:+.2f} % ({r['samples']} samples)")
    srv = figures["server"]
    idle = "never" if srv["idle_after_s"] is None else f"{srv['idle_after_s']:.1f} s"
    print(f"server: queue empty {idle} after the clients stopped; status counts from /metrics {srv['status_counts']}; "
          f"exit code after SIGTERM {srv['exit_code']}")
    print()
    for v in figures["verdicts"]:
        print(f"  {'PASS' if v['pass'] else 'FAIL'}  {v['criterion']}: {v['detail']}")


def main(argv=None):
    args = parse_args(argv)
    payloads = Payloads(args.max_new_tokens)
    port = free_port()
    log = open(args.log, "wb") if args.log else tempfile.NamedTemporaryFile(prefix="medlab-load-", suffix=".log", delete=False)
    server, problem = start_server(args, port, log)
    if problem:
        server.kill()
        shutil.rmtree(args.data_dir, ignore_errors=True)
        print(f"FAIL: {problem}; log {log.name}:\n" + open(log.name, errors="replace").read()[-3000:], file=sys.stderr)
        return 2
    print(f"medlab serve pid {server.pid} on 127.0.0.1:{port}, log {log.name}", flush=True)
    # SIGTERM (or Ctrl-C) ends the run through `finally`, so the server does not outlive it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return drive(args, payloads, server, port, log)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(args.data_dir, ignore_errors=True)


def drive(args, payloads, server, port, log):
    """Runs the clients, the prober and the memory sampler; stops the server; judges."""
    clock0 = time.monotonic()
    rss = [(0.0, rss_kib(server.pid))]
    loads = [(0.0, os.getloadavg())]
    ctx = multiprocessing.get_context("spawn")
    probe_stop = ctx.Event()
    probe_out, probe_in = ctx.Pipe(duplex=False)
    prober = ctx.Process(target=probe_loop, args=(port, args.probe_interval, probe_stop, probe_in, clock0), daemon=True)
    prober.start()
    stop = threading.Event()
    clients = [Client(i, port, payloads, args, stop, clock0) for i in range(args.clients)]
    for client in clients:
        client.start()

    alive = True
    next_report = 60
    while (elapsed := time.monotonic() - clock0) < args.duration:
        stop.wait(min(args.rss_interval, args.duration - elapsed))
        t = time.monotonic() - clock0
        kib = rss_kib(server.pid)
        if kib is None or server.poll() is not None:
            alive = False
            break
        rss.append((t, kib))
        loads.append((t, os.getloadavg()))
        if t >= next_report:
            done = sum(len(c.records) for c in clients)
            print(f"  {t:5.0f} s: {done} requests, RSS {kib / 1024:.1f} MiB, load {os.getloadavg()[0]:.2f}", flush=True)
            next_report += 60
    load_seconds = time.monotonic() - clock0
    stop.set()
    for client in clients:  # in-flight requests finish: a client leaves after its answer
        client.join(args.client_timeout + 10)
    probe_stop.set()
    probes = probe_out.recv() if probe_out.poll(30) else []
    prober.join(10)
    probes = [p for p in probes if p[0] <= load_seconds]
    idle_after = wait_idle(port, 60) if alive and server.poll() is None else None
    try:
        counts = server_status_counts(get_text(port, "/metrics")) if server.poll() is None else {}
    except (OSError, http.client.HTTPException):
        counts = {}
    server.send_signal(signal.SIGTERM)
    try:
        exit_code = server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        exit_code = "killed after 30 s"
    records = [r for c in clients for r in c.records]
    figures = summarize(args, records, probes, rss, loads, idle_after, alive, exit_code, counts, load_seconds)
    figures["server"]["log"] = log.name
    print_table(figures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, default=str)
    failed = [v for v in figures["verdicts"] if not v["pass"]]
    print(f"\n{'FAIL' if failed else 'PASS'}: {len(figures['verdicts']) - len(failed)}/{len(figures['verdicts'])} criteria")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
