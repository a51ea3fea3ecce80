#!/usr/bin/env python3
"""Writes the MedGemma-shaped random-weight GGUFs used by the benchmarks.

    gen_model.py --tokenizer tokenizer-only.gguf --out DIR [--tiny]

DIR receives `medgemma-shaped-f16.gguf` (text, F16) and `mmproj-medgemma-shaped-f16.gguf`
(projector, F16). The shapes and the GGUF writer come from the project's
`scripts/gguf_models.py` (standard library only, so it runs on a bare GPU machine); the
values come from one shared pool of random numbers, so gigabytes are written at disk speed.
`--tiny` writes the tiny test shapes instead (for a dry run of the harness on a laptop).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import gguf_models as gm  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True, help="a GGUF holding the Gemma 3 tokenizer.* keys")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true", help="tiny shapes (harness dry run)")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    meta = gm.read_meta(args.tokenizer)
    tok = gm.tokenizer_kvs(meta)
    if args.tiny:
        text_cfg = gm.TINY_TEXT
        vision_cfg = gm.VisionConfig(name="tiny SigLIP (random weights)", n_embd_text=text_cfg.n_embd, **gm.TINY_VISION)
    else:
        text_cfg, vision_cfg = gm.MEDGEMMA_TEXT, gm.MEDGEMMA_VISION
    pool = gm.Pool(args.seed, mb=64)
    text = gm.write_gemma3_text(out / "medgemma-shaped-f16.gguf", text_cfg, tok, seed=args.seed, source=pool.source)
    print(f"[gen_model] text {text.path}: {text.size / 1e9:.2f} GB in {time.time() - t0:.1f} s", flush=True)
    t1 = time.time()
    proj = gm.write_gemma3_mmproj(out / "mmproj-medgemma-shaped-f16.gguf", vision_cfg, seed=args.seed, source=pool.source)
    print(f"[gen_model] projector {proj.path}: {proj.size / 1e9:.2f} GB in {time.time() - t1:.1f} s", flush=True)
    info = {"text_f16": {"path": text.path, "bytes": text.size},
            "mmproj_f16": {"path": proj.path, "bytes": proj.size},
            "text_config": {k: getattr(text_cfg, k) for k in ("n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "n_ff")},
            "vision_config": {k: getattr(vision_cfg, k) for k in ("image_size", "patch_size", "n_embd", "n_ff", "n_layer", "n_head")},
            "n_vocab": gm.vocab_size(tok), "tiny": args.tiny, "seconds": round(time.time() - t0, 1)}
    (out / "gen_model.json").write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
