#!/usr/bin/env python3
"""Writes random-weight GGUFs with exactly MedGemma 1.5 4B's shapes, for GPU benchmarks.

    python3 scripts/gen_medgemma_shaped.py --tokenizer tokenizer-only.gguf --out DIR \
        [--layers 34] [--vision-layers 27] [--quantize /path/to/llama-quantize]

Outputs in DIR:
  medgemma-shaped-f16.gguf          text model, arch gemma3: 34 layers, n_embd 2560, 8 heads / 4 KV heads,
                                    head dim 256, FFN 10240, vocab 262144 (from the tokenizer GGUF),
                                    context 131072, sliding window 1024, rope linear x8 (~7.8 GB)
  mmproj-medgemma-shaped-f16.gguf   Gemma 3 projector: SigLIP 27 layers, n_embd 1152, FFN 4304, 16 heads,
                                    patch 14, 896 px -> 256 tokens per image, output width 2560 (~0.85 GB)
  medgemma-shaped-q4_k_m.gguf       only with --quantize: llama-quantize ... Q4_K_M (~2.5 GB)
  medgemma-shaped.json              what was written (shapes, sizes, sha256)

Standard library only (no numpy / gguf needed on the GPU machine). Every weight streams from one
shared pool of random values (64 MiB by default) at a per-tensor offset, so the multi-GB files are
written at disk speed; output is deterministic for a given --seed. A rerun with the same arguments
finds the recorded outputs and returns at once. `tokenizer-only.gguf` is produced by
scripts/prepare_test_models.py (general.* + tokenizer.* keys of the Gemma 3 270M GGUF).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_models as gm  # noqa: E402

TEXT = "medgemma-shaped-f16.gguf"
MMPROJ = "mmproj-medgemma-shaped-f16.gguf"
QUANT = "medgemma-shaped-q4_k_m.gguf"
INFO = "medgemma-shaped.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="random-weight MedGemma-shaped GGUFs (F16 text + F16 mmproj)")
    ap.add_argument("--tokenizer", required=True, help="tokenizer-only GGUF (from prepare_test_models.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=gm.MEDGEMMA_TEXT.n_layer, help="text layers (default 34)")
    ap.add_argument("--vision-layers", type=int, default=gm.MEDGEMMA_VISION.n_layer, help="SigLIP layers (default 27)")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--pool-mb", type=int, default=64, help="size of the shared random pool")
    ap.add_argument("--quantize", metavar="LLAMA_QUANTIZE", help="also write a Q4_K_M copy with this binary")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 4, help="threads for llama-quantize")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    text_cfg = dataclasses.replace(gm.MEDGEMMA_TEXT, n_layer=args.layers)
    vis_cfg = dataclasses.replace(gm.MEDGEMMA_VISION, n_layer=args.vision_layers)
    params = {"layers": args.layers, "vision_layers": args.vision_layers, "seed": args.seed,
              "pool_mb": args.pool_mb, "tokenizer_size": os.path.getsize(args.tokenizer),
              "quantized": bool(args.quantize), "generator": _self_hash()}

    info_path = os.path.join(out, INFO)
    if not args.force and _up_to_date(out, info_path, params):
        print(f"[medgemma-shaped] up to date in {out}", file=sys.stderr)
        return 0

    t0 = time.monotonic()
    meta = gm.read_meta(args.tokenizer)
    tok = gm.tokenizer_kvs(meta)
    n_vocab = gm.vocab_size(tok)
    pool = gm.Pool(args.seed, args.pool_mb)
    print(f"[medgemma-shaped] pool ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)

    files = {}
    t = time.monotonic()
    w = gm.write_gemma3_text(os.path.join(out, TEXT), text_cfg, tok, seed=args.seed, source=pool.source)
    files[TEXT] = {"size": w.size, "sha256": w.sha256, "role": "text", "n_embd": text_cfg.n_embd,
                   "n_layer": text_cfg.n_layer, "n_vocab": n_vocab, **_text_shape(text_cfg)}
    print(f"[medgemma-shaped] {TEXT}: {w.size / 1e9:.2f} GB in {time.monotonic() - t:.1f} s", file=sys.stderr)

    t = time.monotonic()
    w = gm.write_gemma3_mmproj(os.path.join(out, MMPROJ), vis_cfg, seed=args.seed, source=pool.source)
    files[MMPROJ] = {"size": w.size, "sha256": w.sha256, "role": "mmproj", "n_embd": vis_cfg.n_embd_text,
                     "image_size": vis_cfg.image_size, "patch_size": vis_cfg.patch_size,
                     "tokens_per_image": vis_cfg.tokens_per_image, "vision_n_layer": vis_cfg.n_layer,
                     "vision_n_embd": vis_cfg.n_embd, "vision_n_ff": vis_cfg.n_ff, "vision_n_head": vis_cfg.n_head}
    print(f"[medgemma-shaped] {MMPROJ}: {w.size / 1e9:.2f} GB in {time.monotonic() - t:.1f} s, "
          f"{vis_cfg.tokens_per_image} tokens per image", file=sys.stderr)

    if args.quantize:
        t = time.monotonic()
        dst = os.path.join(out, QUANT)
        log = os.path.join(out, "quantize.log")
        with open(log, "w") as lf:
            rc = subprocess.run([args.quantize, os.path.join(out, TEXT), dst + ".tmp", "Q4_K_M", str(args.threads)],
                                stdout=lf, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            with open(log) as lf:
                sys.stderr.write(lf.read()[-4000:])
            raise SystemExit(f"llama-quantize failed (rc={rc}), see {log}")
        os.replace(dst + ".tmp", dst)
        files[QUANT] = {"size": os.path.getsize(dst), "role": "text-q4_k_m", "n_embd": text_cfg.n_embd,
                        "n_layer": text_cfg.n_layer}
        print(f"[medgemma-shaped] {QUANT}: {files[QUANT]['size'] / 1e9:.2f} GB in {time.monotonic() - t:.1f} s",
              file=sys.stderr)

    for name, f in files.items():
        f["mtime_ns"] = os.stat(os.path.join(out, name)).st_mtime_ns
    with open(info_path + ".tmp", "w") as fh:
        json.dump({"params": params, "files": files}, fh, indent=2, sort_keys=True)
    os.replace(info_path + ".tmp", info_path)
    print(f"[medgemma-shaped] done in {time.monotonic() - t0:.1f} s -> {out}", file=sys.stderr)
    return 0


def _text_shape(c: gm.TextConfig) -> dict:
    return {"n_head": c.n_head, "n_head_kv": c.n_head_kv, "head_dim": c.head_dim, "n_ff": c.n_ff,
            "context_length": c.context_length, "sliding_window": c.sliding_window}


def _self_hash() -> str:
    import hashlib
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for n in ("gen_medgemma_shaped.py", "gguf_models.py"):
        with open(os.path.join(here, n), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def _up_to_date(out: str, info_path: str, params: dict) -> bool:
    try:
        with open(info_path) as f:
            info = json.load(f)
        if info["params"] != params:
            return False
        for name, f in info["files"].items():
            st = os.stat(os.path.join(out, name))
            if st.st_size != f["size"] or st.st_mtime_ns != f["mtime_ns"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


if __name__ == "__main__":
    sys.exit(main())
