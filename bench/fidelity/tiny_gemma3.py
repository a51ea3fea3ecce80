"""A tiny random Gemma3ForConditionalGeneration, written for transformers and for us (#17 item 4).

The text model and the SigLIP vision tower are tiny in width and depth, but the image side has
MedGemma's shape: 896x896 pixels, patch 14 (64x64 patches), average-pooled 4x4 to 256 tokens per
image; the text side has Gemma 3 4B's structure: sliding-window layers in a pattern of 6
(5 local, 1 global), local RoPE base 10,000, global RoPE base 1,000,000 with linear scaling x8,
q/k norms, head_dim != hidden/heads, GQA, tied output, the full 262,144-token Gemma 3 vocabulary.

Weights come from a fixed seed through Python's Mersenne Twister (`random.Random(seed)
.getrandbits`, stable across Python versions) and exactly rounded numpy arithmetic, so every
machine makes the same bytes. One set of float32 tensors, named and shaped as transformers
holds them, is written two ways:

  * `model.safetensors` + `config.json` for `Gemma3ForConditionalGeneration.from_pretrained`
    (written by hand: an 8-byte header length, a JSON header, raw little-endian data);
  * a GGUF text model + mmproj pair, all F32, laid out as llama.cpp 0c1e57098's converter
    (conversion/gemma.py) writes them: Gemma RMSNorm weights (every text `*norm.weight` and the
    projector's `mm.soft_emb_norm`) stored +1, because transformers multiplies by (1 + w);
    SigLIP LayerNorms as they are; `[out, in]` matrices, the conv kernel `[V, 3, 14, 14]`, the
    position table `[4096, V]` and `mm_input_projection_weight` `[V_vision, n_embd]` byte for
    byte (ggml's ne is the reverse of torch's shape); no `output.weight` (tied).

    python bench/fidelity/tiny_gemma3.py gguf --tokenizer TOKENIZER.gguf --out DIR
    python bench/fidelity/tiny_gemma3.py safetensors --out DIR
    python bench/fidelity/tiny_gemma3.py images --out DIR
    python bench/fidelity/tiny_gemma3.py engine --medlab BIN --models DIR --out DIR

numpy is the only dependency (no torch): the CI test imports this module to build the GGUF pair
and the case images, and transformers_reference.py imports it on a machine with torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gguf_models as gm  # noqa: E402

SEED = 1
N_VOCAB = 262_144  # Gemma 3's tokenizer (tokenizer-only.gguf); the image token 262,144 lies outside it
IMAGE_TOKEN_ID = 262_144
BOI_TOKEN_ID = 255_999
EOI_TOKEN_ID = 256_000
TEXT_GGUF = "tiny-fidelity.gguf"
MMPROJ_GGUF = "tiny-fidelity-mmproj.gguf"


@dataclass(frozen=True)
class Shape:
    hidden: int = 64
    layers: int = 6
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 32          # != hidden / heads, as in Gemma 3 4B (2560 / 8 != 256)
    ffn: int = 128
    sliding_window: int = 512   # the two-image prompt (~580 tokens) outgrows it
    context: int = 131_072
    rope_global: float = 1_000_000.0
    rope_local: float = 10_000.0
    rope_linear: float = 8.0
    eps: float = 1e-6
    v_hidden: int = 32
    v_layers: int = 2
    v_heads: int = 2
    v_ffn: int = 64
    image_size: int = 896
    patch: int = 14
    tokens_per_image: int = 256

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch) ** 2


SHAPE = Shape()

# How each tensor is drawn: uniform in [-s, s); "ln" is 1 + uniform (a LayerNorm's gain).
# Gemma RMSNorm weights are drawn around 0 as transformers stores them (the effective gain is 1 + w).
_TEXT = "model.language_model."
_VISION = "model.vision_tower.vision_model."
_PROJ = "model.multi_modal_projector."


def tensor_specs(s: Shape = SHAPE) -> list[tuple[str, tuple[int, ...], str, float]]:
    H, D, F = s.hidden, s.head_dim, s.ffn
    specs = [(_TEXT + "embed_tokens.weight", (N_VOCAB, H), "u", 0.25)]
    for i in range(s.layers):
        b = f"{_TEXT}layers.{i}."
        specs += [(b + "input_layernorm.weight", (H,), "u", 0.5),
                  (b + "self_attn.q_proj.weight", (s.heads * D, H), "u", 0.25),
                  (b + "self_attn.k_proj.weight", (s.kv_heads * D, H), "u", 0.25),
                  (b + "self_attn.v_proj.weight", (s.kv_heads * D, H), "u", 0.25),
                  (b + "self_attn.o_proj.weight", (H, s.heads * D), "u", 0.25),
                  (b + "self_attn.q_norm.weight", (D,), "ln", 1.0),
                  (b + "self_attn.k_norm.weight", (D,), "ln", 1.0),
                  (b + "post_attention_layernorm.weight", (H,), "u", 0.5),
                  (b + "pre_feedforward_layernorm.weight", (H,), "u", 0.5),
                  (b + "mlp.gate_proj.weight", (F, H), "u", 0.5),
                  (b + "mlp.up_proj.weight", (F, H), "u", 0.5),
                  (b + "mlp.down_proj.weight", (H, F), "u", 0.25),
                  (b + "post_feedforward_layernorm.weight", (H,), "u", 0.5)]
    specs.append((_TEXT + "norm.weight", (H,), "u", 0.5))
    V, P, Fv = s.v_hidden, s.patch, s.v_ffn
    specs += [(_VISION + "embeddings.patch_embedding.weight", (V, 3, P, P), "u", 0.0625),
              (_VISION + "embeddings.patch_embedding.bias", (V,), "u", 0.125),
              (_VISION + "embeddings.position_embedding.weight", (s.patches, V), "u", 0.5)]
    for i in range(s.v_layers):
        b = f"{_VISION}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            specs += [(b + f"self_attn.{proj}.weight", (V, V), "u", 0.25), (b + f"self_attn.{proj}.bias", (V,), "u", 0.125)]
        specs += [(b + "layer_norm1.weight", (V,), "ln", 0.25), (b + "layer_norm1.bias", (V,), "u", 0.125),
                  (b + "mlp.fc1.weight", (Fv, V), "u", 0.25), (b + "mlp.fc1.bias", (Fv,), "u", 0.125),
                  (b + "mlp.fc2.weight", (V, Fv), "u", 0.125), (b + "mlp.fc2.bias", (V,), "u", 0.125),
                  (b + "layer_norm2.weight", (V,), "ln", 0.25), (b + "layer_norm2.bias", (V,), "u", 0.125)]
    specs += [(_VISION + "post_layernorm.weight", (V,), "ln", 0.25), (_VISION + "post_layernorm.bias", (V,), "u", 0.125),
              (_PROJ + "mm_soft_emb_norm.weight", (V,), "u", 0.5),
              (_PROJ + "mm_input_projection_weight", (V, H), "u", 0.25)]
    return specs


def draw(seed: int, name: str, shape: tuple[int, ...], kind: str, scale: float) -> np.ndarray:
    """float32 values, identical on every machine: 32 random bits per value (Mersenne Twister),
    mapped exactly (powers of two) to [-scale, scale) in float64, then rounded once to float32."""
    n = 1
    for d in shape:
        n *= d
    out = np.empty(n, dtype=np.float32)
    chunk = 1 << 22
    for i, start in enumerate(range(0, n, chunk)):
        cnt = min(chunk, n - start)
        raw = random.Random(gm.seed_for("tiny-gemma3-fidelity", seed, name, i)).getrandbits(cnt * 32).to_bytes(cnt * 4, "little")
        x = (np.frombuffer(raw, dtype="<u4").astype(np.float64) * 2.0 ** -31 - 1.0) * scale
        if kind == "ln":
            x += 1.0
        out[start:start + cnt] = x
    return out.reshape(shape)


def hf_weights(seed: int = SEED, s: Shape = SHAPE) -> dict[str, np.ndarray]:
    """Every tensor, named and shaped as transformers' Gemma3ForConditionalGeneration holds it."""
    return {name: draw(seed, name, shape, kind, scale) for name, shape, kind, scale in tensor_specs(s)}


def weights_sha256(weights: dict[str, np.ndarray]) -> str:
    """One hash over names, shapes and little-endian bytes (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(weights):
        a = weights[name]
        h.update(f"{name}:{list(a.shape)}\n".encode())
        h.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return h.hexdigest()


# ---- transformers side --------------------------------------------------------------------------
def hf_config(s: Shape = SHAPE) -> dict:
    return {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "boi_token_index": BOI_TOKEN_ID,
        "eoi_token_index": EOI_TOKEN_ID,
        "image_token_index": IMAGE_TOKEN_ID,
        "mm_tokens_per_image": s.tokens_per_image,
        "tie_word_embeddings": True,
        "dtype": "float32",
        "text_config": {
            "model_type": "gemma3_text",
            "vocab_size": N_VOCAB,
            "hidden_size": s.hidden,
            "intermediate_size": s.ffn,
            "num_hidden_layers": s.layers,
            "num_attention_heads": s.heads,
            "num_key_value_heads": s.kv_heads,
            "head_dim": s.head_dim,
            "query_pre_attn_scalar": s.head_dim,  # llama.cpp scales by 1/sqrt(head_dim) (all but 27B)
            "hidden_activation": "gelu_pytorch_tanh",
            "max_position_embeddings": s.context,
            "rms_norm_eps": s.eps,
            "sliding_window": s.sliding_window,
            "layer_types": ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(s.layers)],
            "rope_parameters": {
                "full_attention": {"rope_type": "linear", "factor": s.rope_linear, "rope_theta": s.rope_global},
                "sliding_attention": {"rope_type": "default", "rope_theta": s.rope_local},
            },
            "final_logit_softcapping": None,
            "attn_logit_softcapping": None,
            "tie_word_embeddings": True,
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
        },
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": s.v_hidden,
            "intermediate_size": s.v_ffn,
            "num_hidden_layers": s.v_layers,
            "num_attention_heads": s.v_heads,
            "image_size": s.image_size,
            "patch_size": s.patch,
            "layer_norm_eps": s.eps,
            "hidden_act": "gelu_pytorch_tanh",
            "vision_use_head": False,
        },
    }


def write_safetensors(path: str, weights: dict[str, np.ndarray]) -> None:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(weights):
        nbytes = weights[name].size * 4
        header[name] = {"dtype": "F32", "shape": list(weights[name].shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((-len(blob)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name in sorted(weights):
            f.write(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())


def write_hf(out: str, seed: int = SEED) -> dict[str, np.ndarray]:
    os.makedirs(out, exist_ok=True)
    weights = hf_weights(seed)
    write_safetensors(os.path.join(out, "model.safetensors"), weights)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2)
    return weights


# ---- our side: GGUF -----------------------------------------------------------------------------
def _f32(name: str, array: np.ndarray) -> gm.Tensor:
    data = np.ascontiguousarray(array, dtype="<f4")
    ne = tuple(reversed(data.shape))  # ggml's ne is torch's shape reversed; the bytes are the same

    def produce(write, nbytes: int, data=data) -> None:
        write(memoryview(data.reshape(-1)).cast("B"))
    return gm.Tensor(name, ne, gm.GGML_F32, source=produce)


def _all_f32(kvs: list[gm.KV]) -> list[gm.KV]:
    return [gm.kv_u32("general.file_type", 0) if kv.key == "general.file_type" else kv for kv in kvs]


def gguf_tensors(w: dict[str, np.ndarray], s: Shape = SHAPE) -> tuple[list[gm.Tensor], list[gm.Tensor]]:
    one = np.float32(1.0)
    text = [_f32("token_embd.weight", w[_TEXT + "embed_tokens.weight"])]
    for i in range(s.layers):
        b, g = f"{_TEXT}layers.{i}.", f"blk.{i}."
        text += [_f32(g + "attn_norm.weight", w[b + "input_layernorm.weight"] + one),
                 _f32(g + "attn_q.weight", w[b + "self_attn.q_proj.weight"]),
                 _f32(g + "attn_k.weight", w[b + "self_attn.k_proj.weight"]),
                 _f32(g + "attn_v.weight", w[b + "self_attn.v_proj.weight"]),
                 _f32(g + "attn_q_norm.weight", w[b + "self_attn.q_norm.weight"] + one),
                 _f32(g + "attn_k_norm.weight", w[b + "self_attn.k_norm.weight"] + one),
                 _f32(g + "attn_output.weight", w[b + "self_attn.o_proj.weight"]),
                 _f32(g + "post_attention_norm.weight", w[b + "post_attention_layernorm.weight"] + one),
                 _f32(g + "ffn_norm.weight", w[b + "pre_feedforward_layernorm.weight"] + one),
                 _f32(g + "ffn_gate.weight", w[b + "mlp.gate_proj.weight"]),
                 _f32(g + "ffn_up.weight", w[b + "mlp.up_proj.weight"]),
                 _f32(g + "ffn_down.weight", w[b + "mlp.down_proj.weight"]),
                 _f32(g + "post_ffw_norm.weight", w[b + "post_feedforward_layernorm.weight"] + one)]
    text.append(_f32("output_norm.weight", w[_TEXT + "norm.weight"] + one))
    vision = [_f32("v.patch_embd.weight", w[_VISION + "embeddings.patch_embedding.weight"]),
              _f32("v.patch_embd.bias", w[_VISION + "embeddings.patch_embedding.bias"]),
              _f32("v.position_embd.weight", w[_VISION + "embeddings.position_embedding.weight"])]
    for i in range(s.v_layers):
        b, g = f"{_VISION}encoder.layers.{i}.", f"v.blk.{i}."
        for hf, ours in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v"), ("out_proj", "attn_out")):
            vision += [_f32(g + ours + ".weight", w[b + f"self_attn.{hf}.weight"]), _f32(g + ours + ".bias", w[b + f"self_attn.{hf}.bias"])]
        vision += [_f32(g + "ln1.weight", w[b + "layer_norm1.weight"]), _f32(g + "ln1.bias", w[b + "layer_norm1.bias"]),
                   _f32(g + "ffn_up.weight", w[b + "mlp.fc1.weight"]), _f32(g + "ffn_up.bias", w[b + "mlp.fc1.bias"]),
                   _f32(g + "ffn_down.weight", w[b + "mlp.fc2.weight"]), _f32(g + "ffn_down.bias", w[b + "mlp.fc2.bias"]),
                   _f32(g + "ln2.weight", w[b + "layer_norm2.weight"]), _f32(g + "ln2.bias", w[b + "layer_norm2.bias"])]
    vision += [_f32("v.post_ln.weight", w[_VISION + "post_layernorm.weight"]),
               _f32("v.post_ln.bias", w[_VISION + "post_layernorm.bias"]),
               _f32("mm.soft_emb_norm.weight", w[_PROJ + "mm_soft_emb_norm.weight"] + one),
               _f32("mm.input_projection.weight", w[_PROJ + "mm_input_projection_weight"])]
    return text, vision


def write_gguf_pair(out: str, tokenizer_gguf: str, seed: int = SEED, s: Shape = SHAPE) -> dict:
    """Writes TEXT_GGUF and MMPROJ_GGUF into `out`; returns what was written."""
    os.makedirs(out, exist_ok=True)
    tok = gm.tokenizer_kvs(gm.read_meta(tokenizer_gguf))
    if gm.vocab_size(tok) != N_VOCAB:
        raise ValueError(f"{tokenizer_gguf}: {gm.vocab_size(tok)} tokens, expected Gemma 3's {N_VOCAB}")
    weights = hf_weights(seed, s)
    text_t, vision_t = gguf_tensors(weights, s)
    tcfg = gm.TextConfig(name=f"tiny-gemma3 fidelity (seed {seed})", n_embd=s.hidden, n_layer=s.layers, n_head=s.heads,
                         n_head_kv=s.kv_heads, head_dim=s.head_dim, n_ff=s.ffn, context_length=s.context,
                         sliding_window=s.sliding_window, rms_eps=s.eps, rope_freq_base=s.rope_global,
                         rope_freq_base_swa=s.rope_local, rope_scaling_linear=s.rope_linear)
    vcfg = gm.VisionConfig(name=f"tiny-gemma3 fidelity projector (seed {seed})", n_embd_text=s.hidden,
                           image_size=s.image_size, patch_size=s.patch, n_embd=s.v_hidden, n_ff=s.v_ffn,
                           n_layer=s.v_layers, n_head=s.v_heads, n_merge=s.image_size // s.patch // int(s.tokens_per_image ** 0.5),
                           eps=s.eps)
    wt = gm.write_gguf(os.path.join(out, TEXT_GGUF), _all_f32(gm.gemma3_text_kvs(tcfg, tok)), text_t)
    wv = gm.write_gguf(os.path.join(out, MMPROJ_GGUF), _all_f32(gm.gemma3_mmproj_kvs(vcfg)), vision_t)
    return {"seed": seed, "weights_sha256": weights_sha256(weights),
            TEXT_GGUF: wt.sha256, MMPROJ_GGUF: wv.sha256}


# ---- the cases ----------------------------------------------------------------------------------
def image(index: int, size: int = 896) -> np.ndarray:
    """A deterministic synthetic RGB study, `size` x `size` (uint8): a chest-like layout (two dark
    fields, a bright spine, a round 'nodule' whose place depends on `index`), gradients that differ
    per channel, and hashed noise, so every patch and every channel carries its own signal."""
    y, x = np.mgrid[0:size, 0:size].astype(np.int64)
    base = 90 + (x * 60) // size + (y * 40) // size
    for cx in (size * 3 // 10, size * 7 // 10):
        inside = ((x - cx) * 3) ** 2 + ((y - size // 2) * 2) ** 2 < (size * 3 // 5) ** 2
        base = np.where(inside, base - 55, base)
    base = np.where(np.abs(x - size // 2) < size // 28, base + 80, base)
    nx, ny = size * (35 + 20 * index) // 100, size * (30 + 25 * index) // 100
    base = np.where((x - nx) ** 2 + (y - ny) ** 2 < (size // 18) ** 2, base + 70, base)
    noise = ((x * 73_856_093) ^ (y * 19_349_663) ^ (index * 83_492_791)) >> 7
    rgb = np.stack([base + (noise & 31) - 16,
                    base + ((noise >> 5) & 15) - 8 + (y * 20) // size,
                    base + ((noise >> 9) & 15) - 8 - (x * 20) // size], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def pixel_values(rgb: np.ndarray) -> np.ndarray:
    """[3, H, W] float32 as the projector normalises (clip.vision.image_mean/std = 0.5): (x/255 - 0.5) / 0.5."""
    x = rgb.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(((x - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1))


CASES = [
    {"name": "one_image", "images": [0], "question": "Describe the lung fields, heart size and mediastinum."},
    {"name": "two_images", "images": [0, 1], "question": "Compare the prior and current study."},
    {"name": "image_and_prior_report", "images": [1], "question": "Has the effusion changed?",
     "context": "Prior report: small left pleural effusion, no pneumothorax."},
]
NEW_TOKENS = 32


def write_images(out: str) -> list[str]:
    os.makedirs(out, exist_ok=True)
    paths = []
    for index in sorted({i for case in CASES for i in case["images"]}):
        path = os.path.join(out, f"study{index}.png")
        with open(path, "wb") as f:
            f.write(png(image(index)))
        paths.append(path)
    return paths


def engine_args(case: dict, models: str, images: str, dump: str) -> list[str]:
    """`medlab ask` arguments for one case: greedy, exactly NEW_TOKENS tokens, logits dumped."""
    args = ["ask", "--model", os.path.join(models, TEXT_GGUF), "--mmproj", os.path.join(models, MMPROJ_GGUF),
            "--max-new-tokens", str(NEW_TOKENS), "--ignore-eos", "--temperature", "0", "--no-record",
            "--dump-logits", dump]
    for index in case["images"]:
        args += ["--image", os.path.join(images, f"study{index}.png")]
    if case.get("context"):
        args += ["--context", case["context"]]
    return args + [case["question"]]


def run_engine(medlab: str, models: str, out: str, timeout: float = 600) -> dict[str, dict]:
    """Runs every case through `medlab ask --dump-logits`; returns the dumps by case name."""
    images = os.path.join(out, "images")
    write_images(images)
    dumps = {}
    for case in CASES:
        dump = os.path.join(out, f"{case['name']}.json")
        result = subprocess.run([medlab, *engine_args(case, models, images, dump)], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"medlab ask ({case['name']}) failed:\n{result.stderr}")
        with open(dump) as f:
            dumps[case["name"]] = json.load(f)
    return dumps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gguf", help="write the GGUF text model + mmproj (F32)")
    g.add_argument("--tokenizer", required=True, help="a GGUF holding Gemma 3's tokenizer (tokenizer-only.gguf)")
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=SEED)
    h = sub.add_parser("safetensors", help="write model.safetensors + config.json for transformers")
    h.add_argument("--out", required=True)
    h.add_argument("--seed", type=int, default=SEED)
    i = sub.add_parser("images", help="write the case images (896x896 PNG)")
    i.add_argument("--out", required=True)
    e = sub.add_parser("engine", help="run the cases through medlab ask --dump-logits")
    e.add_argument("--medlab", required=True)
    e.add_argument("--models", required=True, help="folder holding the GGUF pair")
    e.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "gguf":
        print(json.dumps(write_gguf_pair(args.out, args.tokenizer, args.seed), indent=2))
    elif args.cmd == "safetensors":
        print(weights_sha256(write_hf(args.out, args.seed)))
    elif args.cmd == "images":
        print("\n".join(write_images(args.out)))
    else:
        dumps = run_engine(args.medlab, args.models, args.out)
        for name, d in dumps.items():
            print(name, len(d["prompt_tokens"]), "prompt tokens;", "tokens", d["tokens"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
