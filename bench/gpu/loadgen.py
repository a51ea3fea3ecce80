#!/usr/bin/env python3
"""HTTP load generator for the W1 / W3 benchmarks (standard library only).

Two wire formats:
  * `openai`  — POST /v1/chat/completions, one user message with an `image_url` data URI and
    the question, `stream: true` (time to first token is the first content delta), greedy,
    `max_tokens`, `ignore_eos` (llama-server's extension, which medlab accepts too),
    `cache_prompt: false` (so llama-server cannot reuse an earlier request's prompt).
  * `article` — POST /api/predict with the article's JSON `{image: data URL, question,
    max_new_tokens}` plus `ignore_eos` / `temperature`; not streamed, so no TTFT unless the
    server reports one in `timings`.

A level of concurrency C runs N requests through C closed-loop clients (each sends its next
request when the previous one is answered). Every request carries a different image from the
folder (round robin), so no server can answer from a cache of an identical image. The timer of
a request starts before the PNG bytes are base64-encoded and stops at the last byte of the
answer. Reported per level: aggregate generated tokens/s (all tokens / wall time of the level),
p50/p95/mean end-to-end latency, p50/p95 TTFT, per-request decode tokens/s.

    loadgen.py --api openai --url http://127.0.0.1:8080 --images DIR --question Q \
               --max-tokens 384 --levels 1,4,16,32 --requests 6,8,32,32 --out w3.json
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

W1_QUESTION = "请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常"


@dataclass
class Result:
    ok: bool
    e2e_s: float
    ttft_s: float | None = None
    tokens: int | None = None
    tokens_source: str = ""
    decode_tps: float | None = None
    server_timings: dict | None = None
    usage: dict | None = None
    backend: str | None = None
    error: str | None = None
    image: str = ""
    answer_head: str = ""
    # Seconds between consecutive streamed text chunks (one per token on both servers): how long a
    # running stream stalls while other requests' images are encoded and prefilled.
    gaps: list[float] | None = None


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for an empty list."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values) -> float | None:
    xs = [v for v in values if v is not None]
    return statistics.median(xs) if xs else None


class Client:
    def __init__(self, url: str, api: str, question: str, max_tokens: int, ignore_eos: bool,
                 timeout: float, stream: bool, model: str | None, extra: dict | None = None):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.api, self.question, self.max_tokens = api, question, max_tokens
        self.ignore_eos, self.timeout, self.stream, self.model = ignore_eos, timeout, stream, model
        self.extra = extra or {}
        self.deadline: float | None = None
        self.headers = {"Content-Type": "application/json"}
        if os.environ.get("MEDLAB_API_KEY"):
            self.headers["Authorization"] = "Bearer " + os.environ["MEDLAB_API_KEY"]

    def _body(self, png: bytes, max_tokens: int) -> tuple[str, bytes]:
        data_url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        if self.api == "article":
            body = {"image": data_url, "question": self.question, "max_new_tokens": max_tokens,
                    "temperature": 0, "ignore_eos": self.ignore_eos}
            path = "/api/predict"
        else:
            body = {"messages": [{"role": "user", "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": self.question}]}],
                    "max_tokens": max_tokens, "temperature": 0, "stream": self.stream,
                    "ignore_eos": self.ignore_eos, "cache_prompt": False}
            if self.stream:
                body["stream_options"] = {"include_usage": True}
            if self.model:
                body["model"] = self.model
            path = "/v1/chat/completions"
        body.update(self.extra)
        return path, json.dumps(body, ensure_ascii=False).encode("utf-8")

    def one(self, png: bytes, name: str = "", max_tokens: int | None = None) -> Result:
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        t0 = time.perf_counter()
        conn = None
        timeout = self.timeout
        if self.deadline is not None:  # never wait far past the caller's deadline
            timeout = min(timeout, max(10.0, self.deadline + 20 - time.time()))
        try:
            path, body = self._body(png, max_tokens)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            conn.request("POST", path, body=body, headers=self.headers)
            resp = conn.getresponse()
            if resp.status != 200:
                text = resp.read(2000).decode("utf-8", "replace")
                return Result(False, time.perf_counter() - t0, error=f"HTTP {resp.status}: {text}", image=name)
            if self.api == "openai" and self.stream:
                return self._read_sse(resp, t0, name)
            raw = resp.read()
            t_end = time.perf_counter()
            return self._from_json(json.loads(raw), t0, t_end, name)
        except Exception as e:  # noqa: BLE001 - every failure becomes a recorded error row
            return Result(False, time.perf_counter() - t0, error=f"{type(e).__name__}: {e}", image=name)
        finally:
            if conn is not None:
                conn.close()

    def _read_sse(self, resp, t0: float, name: str) -> Result:
        ttft = None
        n_chunks = 0
        last = None
        gaps: list[float] = []
        text = []
        usage = timings = None
        backend = None
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                ev = json.loads(payload)
            except json.JSONDecodeError:
                continue
            if "error" in ev and not ev.get("choices"):
                return Result(False, time.perf_counter() - t0, error=f"stream error: {ev['error']}", image=name)
            for ch in ev.get("choices") or []:
                delta = ch.get("delta") or {}
                piece = delta.get("content") or delta.get("reasoning_content") or ""
                if piece:
                    now = time.perf_counter()
                    if ttft is None:
                        ttft = now - t0
                    else:
                        gaps.append(now - last)
                    last = now
                    n_chunks += 1
                    if len(text) < 8:
                        text.append(piece)
            usage = ev.get("usage") or usage
            timings = ev.get("timings") or timings
            backend = ev.get("backend") or backend
        t_end = time.perf_counter()
        tokens, source = None, ""
        if usage and usage.get("completion_tokens") is not None:
            tokens, source = int(usage["completion_tokens"]), "usage"
        elif timings and timings.get("predicted_n") is not None:
            tokens, source = int(timings["predicted_n"]), "timings"
        elif n_chunks:
            tokens, source = n_chunks, "chunks"
        e2e = t_end - t0
        dtps = None
        if tokens and ttft is not None and e2e > ttft and tokens > 1:
            dtps = (tokens - 1) / (e2e - ttft)
        return Result(True, e2e, ttft, tokens, source, dtps, timings, usage, backend, image=name,
                      answer_head="".join(text)[:80], gaps=gaps)

    def _from_json(self, obj: dict, t0: float, t_end: float, name: str) -> Result:
        e2e = t_end - t0
        usage = obj.get("usage") or {}
        timings = obj.get("timings") or {}
        tokens, source = None, ""
        for k in ("completion_tokens", "tokens_out", "output_tokens"):
            if usage.get(k) is not None:
                tokens, source = int(usage[k]), "usage"
                break
        if tokens is None and timings.get("predicted_n") is not None:
            tokens, source = int(timings["predicted_n"]), "timings"
        if tokens is None and obj.get("tokens_out") is not None:
            tokens, source = int(obj["tokens_out"]), "body"
        if tokens is None and self.ignore_eos:
            tokens, source = self.max_tokens, "assumed (ignore_eos)"
        ttft = None
        for k in ("first_token_s", "ttft_s"):
            if timings.get(k) is not None:
                ttft = float(timings[k])
        answer = obj.get("answer")
        if answer is None and obj.get("choices"):
            answer = (obj["choices"][0].get("message") or {}).get("content", "")
        dtps = None
        if tokens and ttft is not None and e2e > ttft and tokens > 1:
            dtps = (tokens - 1) / (e2e - ttft)
        elif timings.get("tokens_per_s") is not None:
            dtps = float(timings["tokens_per_s"])
        return Result(True, e2e, ttft, tokens, source, dtps, timings or None, usage or None,
                      obj.get("backend"), image=name, answer_head=(answer or "")[:80])


def load_images(folder: str) -> list[tuple[str, bytes]]:
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".png", ".jpg", ".jpeg")))
    if not names:
        raise SystemExit(f"no images in {folder}")
    return [(n, open(os.path.join(folder, n), "rb").read()) for n in names]


def run_level(client: Client, images, concurrency: int, n_requests: int, deadline: float | None,
              start_index: int = 0) -> dict:
    lock = threading.Lock()
    counter = {"next": 0}
    results: list[Result] = []
    stopped = {"by_deadline": False}

    def worker() -> None:
        while True:
            with lock:
                i = counter["next"]
                if i >= n_requests:
                    return
                if deadline is not None and time.time() > deadline:
                    stopped["by_deadline"] = True
                    return
                counter["next"] += 1
            name, png = images[(start_index + i) % len(images)]
            r = client.one(png, name)
            with lock:
                results.append(r)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as ex:
        for _ in range(concurrency):
            ex.submit(worker)
    wall = time.perf_counter() - t0
    return summarize(results, concurrency, n_requests, wall, stopped["by_deadline"])


def summarize(results: list[Result], concurrency: int, planned: int, wall: float, cut: bool) -> dict:
    ok = [r for r in results if r.ok]
    tokens = sum(r.tokens or 0 for r in ok)
    e2e = [r.e2e_s for r in ok]
    ttft = [r.ttft_s for r in ok if r.ttft_s is not None]
    out = {
        "concurrency": concurrency, "requests_planned": planned, "requests": len(results), "ok": len(ok),
        "errors": len(results) - len(ok), "cut_by_deadline": cut, "wall_s": round(wall, 4),
        "tokens": tokens, "tokens_per_request_median": median([r.tokens for r in ok]),
        "tokens_source": sorted({r.tokens_source for r in ok}),
        "tps": round(tokens / wall, 2) if wall > 0 and ok else None,
        "requests_per_s": round(len(ok) / wall, 4) if wall > 0 and ok else None,
        "e2e_p50_s": percentile(e2e, 50), "e2e_p95_s": percentile(e2e, 95),
        "e2e_mean_s": statistics.fmean(e2e) if e2e else None,
        "e2e_min_s": min(e2e) if e2e else None, "e2e_max_s": max(e2e) if e2e else None,
        "ttft_p50_s": percentile(ttft, 50), "ttft_p95_s": percentile(ttft, 95),
        "decode_tps_p50": median([r.decode_tps for r in ok]),
        "inter_token_p50_s": percentile([g for r in ok for g in (r.gaps or [])], 50),
        "inter_token_p95_s": percentile([g for r in ok for g in (r.gaps or [])], 95),
        "inter_token_max_s": max((g for r in ok for g in (r.gaps or [])), default=None),
        "backend": next((r.backend for r in ok if r.backend), None),
        "first_errors": [r.error for r in results if not r.ok][:3],
        "per_request": [{k: v for k, v in asdict(r).items() if k not in ("server_timings", "usage", "gaps")}
                        | {"server_timings": r.server_timings} for r in results][:64],
    }
    return out


def parse_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", choices=["openai", "article"], default="openai")
    ap.add_argument("--url", required=True)
    ap.add_argument("--images", required=True, help="folder of PNG/JPEG images (used round robin)")
    ap.add_argument("--question", default=W1_QUESTION)
    ap.add_argument("--max-tokens", type=int, default=384)
    ap.add_argument("--no-ignore-eos", action="store_true")
    ap.add_argument("--no-stream", action="store_true", help="openai API without streaming (no TTFT)")
    ap.add_argument("--model", default=None, help="`model` field for the OpenAI API")
    ap.add_argument("--levels", default="1", help="concurrency levels, e.g. 1,4,16,32")
    ap.add_argument("--requests", default="4", help="requests per level (one number, or one per level)")
    ap.add_argument("--warmup", type=int, default=1, help="full sequential warm-up requests first")
    ap.add_argument("--level-warmup", action="store_true",
                    help="before each level > 1, C concurrent short requests (8 tokens), not counted")
    ap.add_argument("--image-offset", type=int, default=0,
                    help="index of the first image measured requests send (runs against one server use disjoint ranges,"
                         " so no request finds its image in a cache; warm-ups take images from the end)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--deadline", type=float, default=None, help="epoch seconds: start nothing new after it")
    ap.add_argument("--out", default="-")
    ap.add_argument("--extra", default=None, help="JSON merged into every request body")
    a = ap.parse_args(argv)

    images = load_images(a.images)
    client = Client(a.url, a.api, a.question, a.max_tokens, not a.no_ignore_eos, a.timeout,
                    not a.no_stream, a.model, json.loads(a.extra) if a.extra else None)
    levels = parse_list(a.levels)
    reqs = parse_list(a.requests)
    if len(reqs) == 1:
        reqs = reqs * len(levels)
    if len(reqs) != len(levels):
        raise SystemExit("--requests needs one number or one per level")

    client.deadline = a.deadline
    report = {"api": a.api, "url": a.url, "question": a.question, "max_tokens": a.max_tokens,
              "ignore_eos": not a.no_ignore_eos, "stream": not a.no_stream, "images": len(images),
              "warmup": [], "levels": {}}
    for i in range(a.warmup):
        r = client.one(images[-1 - i % len(images)][1], "warmup")
        report["warmup"].append(asdict(r) | {"per_request": None})
        print(f"[loadgen] warm-up {i + 1}: ok={r.ok} e2e={r.e2e_s:.2f}s tokens={r.tokens} "
              f"{r.error or ''}", file=sys.stderr, flush=True)
        if not r.ok:
            report["error"] = f"warm-up failed: {r.error}"
            break
    if "error" not in report:
        offset = a.image_offset
        sec_per_req = None  # from the warm-up / previous level: a conservative estimate of a level's length
        if report["warmup"] and report["warmup"][-1].get("ok"):
            sec_per_req = report["warmup"][-1]["e2e_s"]
        for c, n in zip(levels, reqs):
            left = None if a.deadline is None else a.deadline - time.time()
            if left is not None and left <= 0:
                report["levels"][str(c)] = {"skipped": "deadline reached before this level"}
                continue
            if left is not None and sec_per_req is not None and n * sec_per_req > left:
                # fewer requests (at least one round of C) if that fits; otherwise skip the level
                fit = int(left / sec_per_req)
                if fit >= c:
                    print(f"[loadgen] c={c}: {n} requests would need ~{n * sec_per_req:.0f} s, {left:.0f} s left: "
                          f"{fit} requests", file=sys.stderr, flush=True)
                    n = fit
                else:
                    report["levels"][str(c)] = {"skipped": f"deadline: ~{n * sec_per_req:.0f} s needed, {left:.0f} s left"}
                    continue
            if a.level_warmup and c > 1:
                with ThreadPoolExecutor(max_workers=c) as ex:
                    # From the end of the folder, as the warm-up: never an image a measured request sends.
                    list(ex.map(lambda k: client.one(images[-1 - k % len(images)][1], "lw", max_tokens=8), range(c)))
            lv = run_level(client, images, c, n, a.deadline, start_index=offset)
            offset += n
            report["levels"][str(c)] = lv
            if lv.get("ok") and lv.get("wall_s"):
                sec_per_req = lv["wall_s"] / lv["ok"]
            print(f"[loadgen] c={c:>2} n={lv['ok']}/{n} wall={lv['wall_s']:.1f}s tps={lv['tps']} "
                  f"p50={fmt(lv['e2e_p50_s'])} p95={fmt(lv['e2e_p95_s'])} ttft50={fmt(lv['ttft_p50_s'])} "
                  f"errors={lv['errors']} {lv['first_errors'][:1]}", file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if a.out == "-":
        print(text)
    else:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    ok_levels = [v for v in report["levels"].values() if v.get("ok")]
    return 0 if ok_levels else 1


def fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}s"


if __name__ == "__main__":
    sys.exit(main())
