#!/usr/bin/env python3
"""W2's baseline: the article's own batch script (its section 4.3, `batch_analyze`), pointed at a
server. The loop is the article's: every image of a folder in `os.listdir` order, the three
questions one after another, one blocking POST each, a JSONL row per answer with
`inference_time_sec`. Two changes only, both needed to run it here and to compare like for like:

  * `--api openai` sends each request to an OpenAI-compatible server (llama-server), as one user
    message holding the image as a data URL and the question; `--api article` sends the article's
    own `/api/predict` body. The image bytes are sent as they are (the harness's images are
    already the 512x512 PNGs the article's `resize((512, 512))` makes), so no PIL is needed.
  * `max_tokens` and `ignore_eos` are set as for `medlab batch` in the same run (random weights
    never say "end"), so both systems generate the same number of tokens.

    article_batch.py --url http://127.0.0.1:8080 --api openai --images DIR --out rows.jsonl \
        --summary summary.json [--max-tokens 384] [--ignore-eos] [-q Q ...]

Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime

ARTICLE_QUESTIONS = ["请判断是否存在肺实变", "请描述支气管充气征是否明显", "请评估胸腔积液量(少量/中量/大量)"]


def post(url: str, body: dict, timeout: float) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def ask(args, data_url: str, question: str) -> tuple[str, int | None]:
    """One blocking request, as the article's `requests.post`; the answer and its token count."""
    if args.api == "article":
        body = {"image": data_url, "question": question, "max_new_tokens": args.max_tokens}
        if args.ignore_eos:
            body["ignore_eos"] = True
        reply = post(args.url.rstrip("/") + "/api/predict", body, args.timeout)
        return reply.get("answer", ""), (reply.get("usage") or {}).get("completion_tokens")
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url}},
                                                      {"type": "text", "text": question}]}],
            "max_tokens": args.max_tokens, "temperature": 0, "stream": False}
    if args.ignore_eos:
        body["ignore_eos"] = True
    reply = post(args.url.rstrip("/") + "/v1/chat/completions", body, args.timeout)
    return reply["choices"][0]["message"].get("content") or "", (reply.get("usage") or {}).get("completion_tokens")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--api", choices=["openai", "article"], default="openai")
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True, help="the article's JSONL rows")
    ap.add_argument("--summary", required=True, help="wall time, rows, errors, tokens (JSON)")
    ap.add_argument("-q", "--question", action="append", default=None)
    ap.add_argument("--max-tokens", type=int, default=384)
    ap.add_argument("--ignore-eos", action="store_true")
    ap.add_argument("--timeout", type=float, default=120, help="the article's requests timeout")
    args = ap.parse_args(argv)
    questions = args.question or ARTICLE_QUESTIONS

    results, errors, tokens = [], [], []
    names = os.listdir(args.images)
    t0 = time.perf_counter()
    for idx, name in enumerate(names):
        if not name.lower().endswith((".png", ".jpg", ".jpeg")):
            continue
        try:
            with open(os.path.join(args.images, name), "rb") as f:
                kind = "jpeg" if name.lower().endswith((".jpg", ".jpeg")) else "png"
                data_url = f"data:image/{kind};base64,{base64.b64encode(f.read()).decode()}"
            for q in questions:
                start = time.time()
                answer, n = ask(args, data_url, q)
                end = time.time()
                tokens.append(n)
                results.append({"filename": name, "question": q, "answer": answer,
                                "inference_time_sec": round(end - start, 2), "timestamp": datetime.now().isoformat()})
            print(f"[article_batch] {idx + 1}/{len(names)}: {name}", file=sys.stderr, flush=True)
        except (OSError, urllib.error.URLError, KeyError, ValueError) as e:
            errors.append(f"{name}: {e}")
            print(f"[article_batch] failed {name}: {e}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    with open(args.out, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counted = [n for n in tokens if n is not None]
    summary = {"api": args.api, "url": args.url, "wall_s": wall, "rows": len(results), "error_images": len(errors),
               "first_errors": errors[:3], "questions": questions, "max_tokens": args.max_tokens,
               "ignore_eos": args.ignore_eos, "tokens_total": sum(counted) if counted else None,
               "inference_time_sec_p50": statistics.median([r["inference_time_sec"] for r in results]) if results else None,
               "requests_per_s": len(results) / wall if wall > 0 and results else None}
    with open(args.summary, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    print(f"[article_batch] {len(results)} rows in {wall:.1f} s, {len(errors)} failed images", file=sys.stderr)
    return 0 if results and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
