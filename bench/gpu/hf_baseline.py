#!/usr/bin/env python3
"""The article's stack as a baseline: HF transformers, bf16, `Gemma3ForConditionalGeneration`
with MedGemma 1.5 4B's configuration, random initialisation, SDPA attention. No hub access:
the configuration is written out below and the prompt token ids are fixed (Gemma 3 vocabulary,
taken with llama-tokenize from the Gemma 3 270M GGUF, which shares it).

W1: one request (a 512x512 PNG + the article's ~20-token question, 384 new tokens forced,
greedy): end to end from the PNG bytes (decode, resize to 896, normalise, generate) to the last
token; time to first token (a streamer sees the first generated token); image encode (the
vision tower + projector alone, timed separately); decode tokens/s.
W3: the same request as a batched `generate` of C different images (C = 4, 16, 32): tokens/s
is C x 384 / wall time; every sequence finishes with the batch, so p50 = p95 = that time.

    hf_baseline.py --images DIR --out hf.json [--tiny] [--deadline EPOCH] [--reps 3]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpumem import GpuMem, gpu_info  # noqa: E402

# Gemma 3 token ids (vocabulary shared by Gemma 3 270M / 4B / MedGemma).
BOS, START_OF_IMAGE, END_OF_IMAGE, IMAGE_SOFT, EOS, END_OF_TURN = 2, 255999, 256000, 262144, 1, 106
# "<start_of_turn>user\nYou are an expert radiologist.\n\n\n\n" (the processor puts "\n\n" before
# the image and after it)
PREFIX_IDS = [105, 2364, 107, 3048, 659, 614, 7710, 4574, 16097, 236761, 110]
# "\n\n请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常<end_of_turn>\n<start_of_turn>model\n"
SUFFIX_IDS = [108, 238350, 47710, 219461, 240550, 238044, 237103, 241134, 238595, 239109, 229315, 236951,
              179369, 44893, 237663, 241651, 239676, 20311, 21440, 37149, 106, 107, 105, 4368, 107]

MEDGEMMA_TEXT = dict(vocab_size=262208, hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
                     num_attention_heads=8, num_key_value_heads=4, head_dim=256, sliding_window=1024,
                     max_position_embeddings=131072, rms_norm_eps=1e-6, query_pre_attn_scalar=256,
                     rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
                     final_logit_softcapping=None, attn_logit_softcapping=None,
                     hidden_activation="gelu_pytorch_tanh")
MEDGEMMA_VISION = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                       patch_size=14, image_size=896, num_channels=3, layer_norm_eps=1e-6, vision_use_head=False,
                       hidden_act="gelu_pytorch_tanh")
MEDGEMMA_MM = dict(mm_tokens_per_image=256, boi_token_index=START_OF_IMAGE, eoi_token_index=END_OF_IMAGE,
                   image_token_index=IMAGE_SOFT, initializer_range=0.02)

TINY_TEXT = dict(MEDGEMMA_TEXT, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, sliding_window=512, query_pre_attn_scalar=16)
TINY_VISION = dict(MEDGEMMA_VISION, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, image_size=112)
TINY_MM = dict(MEDGEMMA_MM, mm_tokens_per_image=4)


def log(msg: str) -> None:
    print(f"[hf {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_model(torch, tiny: bool, device: str):
    import transformers
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration
    text, vision, mm = (TINY_TEXT, TINY_VISION, TINY_MM) if tiny else (MEDGEMMA_TEXT, MEDGEMMA_VISION, MEDGEMMA_MM)
    text = dict(text)
    # Gemma 3 4B: linear RoPE scaling x8 on the global layers (spelled differently across versions;
    # RoPE settings change no arithmetic cost, so fall back to fewer of them if this version objects).
    rope_keys = ("rope_theta", "rope_local_base_freq")
    attempts = [dict(text, rope_scaling={"rope_type": "linear", "factor": 8.0}), dict(text),
                {k: v for k, v in text.items() if k not in rope_keys}]
    cfg = None
    for i, tc in enumerate(attempts):
        try:
            cfg = Gemma3Config(text_config=tc, vision_config=vision, **mm)
            break
        except Exception as e:  # noqa: BLE001
            log(f"config attempt {i + 1} refused ({type(e).__name__}: {e})")
    if cfg is None:
        raise RuntimeError("no Gemma3Config accepted")
    dtype = torch.bfloat16
    t0 = time.time()
    torch.manual_seed(0)
    model = None
    errors = []
    with torch.device(device):
        for kw in ({"attn_implementation": "sdpa", "dtype": dtype},
                   {"attn_implementation": "sdpa", "torch_dtype": dtype},
                   {"attn_implementation": "sdpa"}):
            try:
                model = Gemma3ForConditionalGeneration._from_config(cfg, **kw)
                break
            except Exception as e:  # noqa: BLE001
                errors.append(f"{kw}: {type(e).__name__}: {e}")
        if model is None:
            cfg._attn_implementation = "sdpa"
            model = Gemma3ForConditionalGeneration(cfg)
    model = model.to(device=device, dtype=dtype).eval()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()  # the fp32 blocks of an init-then-cast must not count as the model's memory
    attn = getattr(model.config, "_attn_implementation", None)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model built in {time.time() - t0:.1f} s: {n_params / 1e9:.2f} B parameters, attention {attn}, "
        f"transformers {transformers.__version__}" + (f" (fallbacks: {errors})" if errors else ""))
    gc = model.generation_config
    gc.pad_token_id, gc.eos_token_id, gc.bos_token_id = 0, [EOS, END_OF_TURN], BOS
    gc.do_sample, gc.temperature, gc.top_p, gc.top_k = False, None, None, None
    return model, {"transformers": transformers.__version__, "torch": torch.__version__, "attn_implementation": attn,
                   "parameters": n_params, "dtype": "bfloat16", "build_s": round(time.time() - t0, 2),
                   "config_image_size": vision["image_size"], "mm_tokens_per_image": mm["mm_tokens_per_image"]}


def preprocess(torch, np, png: bytes, size: int, device: str):
    """Gemma 3's image processor without its class: RGB, resize to size x size (bilinear),
    scale to [0, 1], normalise with mean = std = 0.5, CHW."""
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB").resize((size, size), Image.BILINEAR)
    a = (np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(a.transpose(2, 0, 1).copy()).unsqueeze(0).to(device=device, dtype=torch.bfloat16)


def prompt_ids(torch, n_image_tokens: int, batch: int, device: str):
    ids = [BOS] + PREFIX_IDS + [START_OF_IMAGE] + [IMAGE_SOFT] * n_image_tokens + [END_OF_IMAGE] + SUFFIX_IDS
    t = torch.tensor([ids] * batch, dtype=torch.long, device=device)
    tt = (t == IMAGE_SOFT).long()
    return t, torch.ones_like(t), tt


try:
    from transformers.generation.streamers import BaseStreamer as _Base
except Exception:  # noqa: BLE001
    _Base = object


class FirstTokenTimer(_Base):
    """A generate() streamer: put() is called once with the prompt, then once per new token."""

    def __init__(self, t0: float):
        self.t0, self.calls, self.first = t0, 0, None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter() - self.t0

    def end(self) -> None:
        pass


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def result(self):
        return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--max-new-tokens", type=int, default=384)
    ap.add_argument("--reps", type=int, default=3, help="W1 repetitions after the warm-up")
    ap.add_argument("--batch-reps", type=int, default=2, help="W3 repetitions per batch size after a warm-up")
    ap.add_argument("--batches", default="4,16,32")
    ap.add_argument("--deadline", type=float, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--resume", action="store_true", help="keep W1 / batch sizes already in --out; run the rest")
    a = ap.parse_args()

    report: dict = {"system": "transformers", "W1": None, "W3": {}, "memory": {}, "errors": [], "notes": []}
    if a.resume and os.path.exists(a.out):
        try:
            old = json.load(open(a.out))
            if old.get("W1"):
                report.update({k: old[k] for k in ("W1", "memory", "notes") if k in old})
                report["W3"] = {c: v for c, v in (old.get("W3") or {}).items() if v.get("tps") is not None}
                report["errors"] = [f"earlier run: {e}" for e in old.get("errors") or []]
                log(f"resuming: W1 and batch sizes {sorted(report['W3'])} already measured")
        except (OSError, json.JSONDecodeError, AttributeError):
            pass

    def save() -> None:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, a.out)

    def time_left() -> float:
        return float("inf") if a.deadline is None else a.deadline - time.time()

    try:
        import numpy as np
        import torch
    except Exception as e:  # noqa: BLE001
        report["errors"].append(f"import failed: {e}")
        save()
        return 1
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    report["device"] = device
    report["gpu"] = gpu_info() if device == "cuda" else None
    names = sorted(n for n in os.listdir(a.images) if n.lower().endswith(".png"))
    pngs = [open(os.path.join(a.images, n), "rb").read() for n in names]
    N = a.max_new_tokens

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    mem_all = GpuMem("transformers (whole process)")
    mem_all.start()
    try:
        model, info = build_model(torch, a.tiny, device)
        report["model"] = info
        size, n_img = info["config_image_size"], info["mm_tokens_per_image"]

        def generate(batch_pngs, max_new, timer=None):
            pv = torch.cat([preprocess(torch, np, p, size, device) for p in batch_pngs])
            ids, mask, tt = prompt_ids(torch, n_img, len(batch_pngs), device)
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, pixel_values=pv, token_type_ids=tt,
                                     max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False,
                                     streamer=timer)
            sync()
            return out.shape[1] - ids.shape[1], ids.shape[1]

        # ---- W1 ----------------------------------------------------------------------------
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        runs = []
        mem = None
        with (GpuMem("transformers W1 (batch 1)") if not report["W1"] else _Null()) as mem:
            if report["W1"]:
                log("W1: kept from the earlier run")
            else:
                log("W1 warm-up")
                generate([pngs[-1]], N)
            for r in range(0 if report["W1"] else a.reps):
                if time_left() < 30:
                    report["notes"].append(f"W1 stopped after {r} repetitions: deadline")
                    break
                png = pngs[r % len(pngs)]
                t0 = time.perf_counter()
                timer = FirstTokenTimer(t0)
                n_out, n_in = generate([png], N, timer)
                e2e = time.perf_counter() - t0
                # image encode alone (vision tower + projector), same image, after the request
                pv = preprocess(torch, np, png, size, device)
                sync()
                t1 = time.perf_counter()
                enc_ms = None
                try:
                    with torch.inference_mode():
                        try:
                            model.get_image_features(pixel_values=pv)
                        except TypeError:
                            model.get_image_features(pv)
                    sync()
                    enc_ms = (time.perf_counter() - t1) * 1000
                except Exception as e:  # noqa: BLE001
                    report["notes"].append(f"image encode not timed: {type(e).__name__}: {e}")
                t2 = time.perf_counter()
                preprocess(torch, np, png, size, device)
                sync()
                pre_ms = (time.perf_counter() - t2) * 1000
                ttft = timer.first
                decode_tps = (n_out - 1) / (e2e - ttft) if ttft and n_out > 1 else None
                runs.append({"e2e_s": e2e, "ttft_s": ttft, "image_encode_ms": enc_ms, "preprocess_ms": pre_ms,
                             "prefill_ms": (ttft * 1000 - pre_ms - enc_ms) if ttft and enc_ms is not None else None,
                             "decode_tps": decode_tps, "tokens_out": n_out, "tokens_in": n_in})
                log(f"W1 rep {r + 1}: e2e {e2e:.2f} s, ttft {ttft}, encode {enc_ms} ms, "
                    f"decode {decode_tps and round(decode_tps, 1)} tok/s, {n_out} tokens")
        if runs:
            med = {}
            for k in runs[0]:
                if k not in ("tokens_out", "tokens_in"):
                    vals = [x[k] for x in runs if x[k] is not None]
                    med[k] = statistics.median(vals) if vals else None
            report["W1"] = med | {"reps": len(runs), "tokens_out": runs[0]["tokens_out"],
                                  "tokens_in": runs[0]["tokens_in"], "runs": runs,
                                  "prefill_note": "prefill_ms = ttft - preprocess - image encode (derived)"}
            report["W3"]["1"] = {"tps": runs[0]["tokens_out"] / med["e2e_s"], "p50_s": med["e2e_s"],
                                 "p95_s": max(x["e2e_s"] for x in runs), "batch": 1, "reps": len(runs),
                                 "source": "W1 runs"}
        if runs:
            report["memory"]["W1"] = mem.result() | {
                "torch_max_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None}
        save()

        # ---- W3: batched generate ----------------------------------------------------------
        for c in [int(x) for x in a.batches.split(",") if x.strip()]:
            if (report["W3"].get(str(c)) or {}).get("tps") is not None:
                continue
            est = (report["W1"] or {}).get("e2e_s", 15.0) * (1 + c / 16) * (a.batch_reps + 0.3)
            if time_left() < min(est, 120):
                report["W3"][str(c)] = {"skipped": f"deadline (needs ~{est:.0f} s, {time_left():.0f} s left)"}
                log(f"W3 batch {c}: skipped, deadline")
                continue
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            with GpuMem(f"transformers batch {c}") as mem:
                batch = [pngs[i % len(pngs)] for i in range(c)]
                generate(batch, 8)  # warm-up at this batch size
                times = []
                for r in range(a.batch_reps):
                    if r and time_left() < times[-1] + 10:
                        break
                    t0 = time.perf_counter()
                    n_out, _ = generate(batch, N)
                    times.append(time.perf_counter() - t0)
                    log(f"W3 batch {c} rep {r + 1}: {times[-1]:.2f} s, {c * n_out / times[-1]:.0f} tok/s")
            wall = statistics.median(times)
            report["W3"][str(c)] = {"tps": c * n_out / wall, "p50_s": wall, "p95_s": max(times), "batch": c,
                                    "reps": len(times), "times_s": times}
            report["memory"][f"batch{c}"] = mem.result() | {
                "torch_max_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None}
            save()
    except Exception as e:  # noqa: BLE001
        report["errors"].append(f"{type(e).__name__}: {e}")
        report["traceback"] = traceback.format_exc()[-4000:]
        log(report["traceback"])
    finally:
        mem_all.stop()
        report["memory"]["process"] = mem_all.result()
        save()
    return 0 if report["W1"] else 1


if __name__ == "__main__":
    sys.exit(main())
