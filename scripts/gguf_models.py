"""Deterministic GGUF writers for MedGemma Vision Lab's test and benchmark models.

Standard library only (no numpy), so the same module runs in the project venv and on a bare
GPU machine. The GGUF v3 container is written directly: header, key/value pairs, tensor
infos, then 32-byte-aligned tensor data streamed straight to disk (the PyPI `gguf` package's
reader needs ~20 s to parse a 262,144-entry vocabulary and its writer packs arrays item by
item, so both are avoided on the hot path; `gguf` is only used, optionally, to cross-check
constants in `self_check()`).

Tensor shapes are given in ggml order (`ne`, fastest dimension first), exactly as llama.cpp's
`create_tensor(..., {ne0, ne1})` and `clip.cpp` spell them: `token_embd` is
`[n_embd, n_vocab]`, `mm.input_projection` is `[n_embd_text, n_embd_vision]`.

Random values come from `random.Random(seed).randbytes()` (Mersenne Twister, stable across
Python versions) with the high byte of every float pushed through a lookup table that pins
the exponent into a small range, so every value is a finite, small, signed number; the bytes
are therefore identical on every machine and every run.

Layout facts used here (llama.cpp 0c1e57098):
  * text arch `gemma3` (src/models/gemma3.cpp): tied output (no `output.weight`), norms are
    stored already shifted by +1 (so "ones" is the neutral value), sliding-window layers
    follow a fixed pattern of 6 (layers 0-4 local, 5 global, ...).
  * projector `clip` / `clip.projector_type = gemma3` (tools/mtmd/clip.cpp): SigLIP ViT with
    separate q/k/v + biases, layer norms `ln1`/`ln2`, gelu FFN `ffn_up`/`ffn_down`, `post_ln`,
    then avg-pool by `n_merge` (4, or `clip.vision.projector.scale_factor`) per side,
    RMS norm `mm.soft_emb_norm` and `mm.input_projection` whose ne[0] is the text width
    (`clip_n_mmproj_embd`). `v.position_embd` must be F32. `ffn_down` must have
    ne[0] == n_ff (!= n_embd) or clip.cpp treats up/down as swapped legacy tensors.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import random
import struct
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, Union

# ---- GGUF constants (mirrors gguf-py's GGUFValueType / GGMLQuantizationType) -------------
GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, \
    T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)
_SCALAR_FMT = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
               T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
               T_FLOAT64: "<d"}

GGML_F32 = 0
GGML_F16 = 1
_TYPE_SIZE = {GGML_F32: 4, GGML_F16: 2}
LLAMA_FTYPE_MOSTLY_F16 = 1

# Gemma 3's chat template (google/gemma-3-4b-it tokenizer_config.json; MedGemma uses the same).
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)


# ---- key/value encoding -----------------------------------------------------------------
def _str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


@dataclass(frozen=True)
class KV:
    """One metadata record; `raw` is the encoded value including its leading type id."""
    key: str
    raw: bytes

    def encode(self) -> bytes:
        return _str(self.key) + self.raw


def kv_str(key: str, v: str) -> KV:
    return KV(key, struct.pack("<I", T_STRING) + _str(v))


def kv_u32(key: str, v: int) -> KV:
    return KV(key, struct.pack("<II", T_UINT32, v))


def kv_f32(key: str, v: float) -> KV:
    return KV(key, struct.pack("<If", T_FLOAT32, v))


def kv_bool(key: str, v: bool) -> KV:
    return KV(key, struct.pack("<I?", T_BOOL, v))


def kv_arr_f32(key: str, vs: Sequence[float]) -> KV:
    return KV(key, struct.pack("<IIQ", T_ARRAY, T_FLOAT32, len(vs)) + struct.pack(f"<{len(vs)}f", *vs))


def kv_arr_str(key: str, vs: Sequence[str]) -> KV:
    return KV(key, struct.pack("<IIQ", T_ARRAY, T_STRING, len(vs)) + b"".join(_str(v) for v in vs))


# ---- reading metadata (fast, raw) ---------------------------------------------------------
@dataclass
class GGUFMeta:
    version: int
    n_tensors: int
    kvs: list[KV]
    values: dict[str, object]  # decoded scalars / strings; arrays as ("array", subtype, count)

    def get(self, key: str, default=None):
        return self.values.get(key, default)


def read_meta(path: str | os.PathLike) -> GGUFMeta:
    """Parses the header and key/value section of a GGUF file, keeping every value's raw
    bytes so that records (e.g. the 262,144-token vocabulary) can be copied verbatim."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != GGUF_MAGIC:
            raise ValueError(f"{path}: not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
        if version != GGUF_VERSION:
            raise ValueError(f"{path}: unsupported GGUF version {version}")
        off = 24
        kvs: list[KV] = []
        values: dict[str, object] = {}

        def read_str(o: int) -> tuple[bytes, int]:
            (n,) = struct.unpack_from("<Q", m, o)
            return m[o + 8:o + 8 + n], o + 8 + n

        def skip_value(t: int, o: int) -> int:
            if t in _SCALAR_FMT:
                return o + struct.calcsize(_SCALAR_FMT[t])
            if t == T_STRING:
                (n,) = struct.unpack_from("<Q", m, o)
                return o + 8 + n
            if t == T_ARRAY:
                st, cnt = struct.unpack_from("<IQ", m, o)
                o += 12
                if st in _SCALAR_FMT:
                    return o + cnt * struct.calcsize(_SCALAR_FMT[st])
                for _ in range(cnt):
                    o = skip_value(st, o)
                return o
            raise ValueError(f"{path}: bad GGUF value type {t}")

        for _ in range(n_kv):
            kb, off = read_str(off)
            key = kb.decode("utf-8")
            start = off
            (t,) = struct.unpack_from("<I", m, off)
            end = skip_value(t, off + 4)
            kvs.append(KV(key, bytes(m[start:end])))
            if t in _SCALAR_FMT:
                (values[key],) = struct.unpack_from(_SCALAR_FMT[t], m, off + 4)
            elif t == T_STRING:
                values[key] = read_str(off + 4)[0].decode("utf-8", "replace")
            else:
                st, cnt = struct.unpack_from("<IQ", m, off + 4)
                values[key] = ("array", st, cnt)
            off = end
        return GGUFMeta(version, n_tensors, kvs, values)


def tokenizer_kvs(meta: GGUFMeta) -> list[KV]:
    return [kv for kv in meta.kvs if kv.key.startswith("tokenizer.")]


# ---- deterministic tensor data --------------------------------------------------------------
def _exp_table_f16(e_lo: int, e_hi: int) -> bytes:
    """Maps a random high byte of an F16 to sign | exponent in [e_lo, e_hi] (powers of two) |
    2 random mantissa bits."""
    span = e_hi - e_lo + 1
    out = bytearray(256)
    for b in range(256):
        e = 15 + e_lo + ((b >> 2) & 0x1F) % span
        out[b] = (b & 0x80) | (e << 2) | (b & 0x03)
    return bytes(out)


def _exp_tables_f32(e_lo: int, e_hi: int) -> tuple[bytes, bytes]:
    """For F32: byte 3 = sign | exponent[7:1], byte 2 = exponent[0] | mantissa[22:16].
    Only even biased exponents are used so byte 2 just loses its top bit."""
    evens = [e for e in range(127 + e_lo, 127 + e_hi + 1) if e % 2 == 0] or [127 + e_lo + ((127 + e_lo) % 2)]
    t3 = bytearray(256)
    for b in range(256):
        e = evens[(b & 0x7F) % len(evens)]
        t3[b] = (b & 0x80) | (e >> 1)
    t2 = bytes(b & 0x7F for b in range(256))
    return bytes(t3), t2


@dataclass(frozen=True)
class Fill:
    """How to fill a tensor: 'rand' (random small values with |x| in [2^e_lo, 2^(e_hi+1))),
    'ones' or 'zeros'."""
    kind: str = "rand"
    e_lo: int = -10
    e_hi: int = -6


RAND = Fill("rand")
ONES = Fill("ones")
ZEROS = Fill("zeros")


def random_floats(seed: int, n: int, gtype: int, fill: Fill = RAND) -> bytes:
    """`n` little-endian floats of `gtype`, deterministic for `seed`."""
    size = _TYPE_SIZE[gtype]
    if fill.kind == "zeros":
        return bytes(n * size)
    if fill.kind == "ones":
        one = struct.pack("<e", 1.0) if gtype == GGML_F16 else struct.pack("<f", 1.0)
        return one * n
    # == random.Random(seed).randbytes(n * size), spelled so it also runs on Python < 3.9
    buf = bytearray(random.Random(seed).getrandbits(n * size * 8).to_bytes(n * size, "little"))
    if gtype == GGML_F16:
        buf[1::2] = bytes(buf[1::2]).translate(_exp_table_f16(fill.e_lo, fill.e_hi))
    else:
        t3, t2 = _exp_tables_f32(fill.e_lo, fill.e_hi)
        buf[3::4] = bytes(buf[3::4]).translate(t3)
        buf[2::4] = bytes(buf[2::4]).translate(t2)
    return bytes(buf)


def seed_for(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


# ---- tensors and the writer -------------------------------------------------------------
Writer = Callable[[Union[bytes, memoryview]], None]


@dataclass
class Tensor:
    name: str
    ne: tuple[int, ...]          # ggml order, fastest dimension first
    gtype: int                   # GGML_F32 / GGML_F16
    fill: Fill = RAND
    seed: int = 0
    source: Callable[[Writer, int], None] | None = None  # custom producer (e.g. a shared pool)

    @property
    def n(self) -> int:
        p = 1
        for d in self.ne:
            p *= d
        return p

    @property
    def nbytes(self) -> int:
        return self.n * _TYPE_SIZE[self.gtype]

    def produce(self, write: Writer) -> None:
        if self.source is not None:
            self.source(write, self.nbytes)
            return
        chunk = 1 << 22  # elements per chunk keeps memory flat for big tensors
        for i, start in enumerate(range(0, self.n, chunk)):
            cnt = min(chunk, self.n - start)
            write(random_floats(seed_for(self.seed, i), cnt, self.gtype, self.fill))


class _HashingFile:
    def __init__(self, path: str):
        self.f = open(path, "wb")
        self.h = hashlib.sha256()
        self.pos = 0

    def write(self, b) -> None:
        self.f.write(b)
        self.h.update(b)
        self.pos += len(b)

    def pad(self) -> None:
        p = (-self.pos) % ALIGNMENT
        if p:
            self.write(bytes(p))


@dataclass
class Written:
    path: str
    size: int
    sha256: str


def _same_file(path: str, size: int, sha: str) -> bool:
    try:
        if os.path.getsize(path) != size:
            return False
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        return h.hexdigest() == sha
    except OSError:
        return False


def _commit(tmp: str, path: str, size: int, sha: str) -> None:
    """Renames tmp over path, unless path already holds the same bytes (then its mtime stays)."""
    if _same_file(path, size, sha):
        os.unlink(tmp)
    else:
        os.replace(tmp, path)


def write_gguf(path: str | os.PathLike, kvs: Iterable[KV], tensors: Sequence[Tensor]) -> Written:
    """Writes a GGUF v3 file atomically (temp file + rename) and returns its size and sha256."""
    path = os.fspath(path)
    kvs = list(kvs)
    keys = [kv.key for kv in kvs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in {path}")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate tensors in {path}")
    tmp = f"{path}.tmp{os.getpid()}"
    out = _HashingFile(tmp)
    try:
        out.write(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(kvs)))
        for kv in kvs:
            out.write(kv.encode())
        offset = 0
        for t in tensors:
            out.write(_str(t.name) + struct.pack("<I", len(t.ne)) + struct.pack(f"<{len(t.ne)}Q", *t.ne)
                      + struct.pack("<IQ", t.gtype, offset))
            offset += t.nbytes + (-t.nbytes) % ALIGNMENT
        out.pad()
        for t in tensors:
            before = out.pos
            t.produce(out.write)
            if out.pos - before != t.nbytes:
                raise RuntimeError(f"{t.name}: wrote {out.pos - before} bytes, expected {t.nbytes}")
            out.pad()
        out.f.close()
        _commit(tmp, path, out.pos, out.h.hexdigest())
    except BaseException:
        out.f.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return Written(path, out.pos, out.h.hexdigest())


# ---- model configurations -------------------------------------------------------------------
@dataclass(frozen=True)
class TextConfig:
    name: str
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    context_length: int
    sliding_window: int
    rms_eps: float = 1e-6
    rope_freq_base: float = 1_000_000.0
    rope_freq_base_swa: float | None = None
    rope_scaling_linear: float | None = None  # Gemma 3 4B: linear x8 on global layers
    chat_template: str | None = GEMMA3_CHAT_TEMPLATE


@dataclass(frozen=True)
class VisionConfig:
    name: str
    n_embd_text: int      # width of mm.input_projection's output (must equal the text n_embd)
    image_size: int
    patch_size: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_merge: int = 4      # avg-pool factor per side (Gemma 3 default)
    eps: float = 1e-6

    @property
    def patches_per_side(self) -> int:
        return self.image_size // self.patch_size

    @property
    def tokens_per_image(self) -> int:
        return (self.patches_per_side // self.n_merge) ** 2

    def validate(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        if self.patches_per_side % self.n_merge:
            raise ValueError("(image_size / patch_size) must be divisible by n_merge")
        if self.n_embd % self.n_head:
            raise ValueError("vision n_embd must be divisible by n_head")
        if self.n_ff == self.n_embd:
            raise ValueError("vision n_ff == n_embd makes clip.cpp swap ffn_up/ffn_down")


TINY_TEXT = TextConfig(name="tiny-gemma3 (random weights)", n_embd=64, n_layer=6, n_head=4, n_head_kv=2,
                       head_dim=16, n_ff=128, context_length=4096, sliding_window=512)
TINY_VISION = dict(image_size=112, patch_size=14, n_embd=64, n_ff=128, n_layer=2, n_head=4)

# MedGemma 1.5 4B (= Gemma 3 4B) shapes.
MEDGEMMA_TEXT = TextConfig(name="medgemma-shaped 4B (random weights)", n_embd=2560, n_layer=34, n_head=8,
                           n_head_kv=4, head_dim=256, n_ff=10240, context_length=131072, sliding_window=1024,
                           rope_freq_base_swa=10_000.0, rope_scaling_linear=8.0)
MEDGEMMA_VISION = VisionConfig(name="medgemma-shaped SigLIP (random weights)", n_embd_text=2560, image_size=896,
                               patch_size=14, n_embd=1152, n_ff=4304, n_layer=27, n_head=16)


# ---- Gemma 3 text model -----------------------------------------------------------------------
def gemma3_text_kvs(cfg: TextConfig, tokenizer: Sequence[KV], extra_general: Sequence[KV] = ()) -> list[KV]:
    a = "gemma3"
    kvs = [kv_str("general.architecture", a), kv_str("general.type", "model"), kv_str("general.name", cfg.name),
           *extra_general,
           kv_u32(f"{a}.context_length", cfg.context_length),
           kv_u32(f"{a}.embedding_length", cfg.n_embd),
           kv_u32(f"{a}.block_count", cfg.n_layer),
           kv_u32(f"{a}.feed_forward_length", cfg.n_ff),
           kv_u32(f"{a}.attention.head_count", cfg.n_head),
           kv_u32(f"{a}.attention.head_count_kv", cfg.n_head_kv),
           kv_u32(f"{a}.attention.key_length", cfg.head_dim),
           kv_u32(f"{a}.attention.value_length", cfg.head_dim),
           kv_f32(f"{a}.attention.layer_norm_rms_epsilon", cfg.rms_eps),
           kv_f32(f"{a}.rope.freq_base", cfg.rope_freq_base),
           kv_u32(f"{a}.attention.sliding_window", cfg.sliding_window)]
    if cfg.rope_freq_base_swa is not None:
        kvs.append(kv_f32(f"{a}.rope.freq_base_swa", cfg.rope_freq_base_swa))
    if cfg.rope_scaling_linear is not None:
        kvs += [kv_str(f"{a}.rope.scaling.type", "linear"), kv_f32(f"{a}.rope.scaling.factor", cfg.rope_scaling_linear)]
    kvs.append(kv_u32("general.file_type", LLAMA_FTYPE_MOSTLY_F16))
    tok = [kv for kv in tokenizer if kv.key != "tokenizer.chat_template"]
    if not any(kv.key == "tokenizer.ggml.tokens" for kv in tok):
        raise ValueError("tokenizer keys lack tokenizer.ggml.tokens")
    kvs += tok
    if cfg.chat_template:
        kvs.append(kv_str("tokenizer.chat_template", cfg.chat_template))
    return kvs


def vocab_size(tokenizer: Sequence[KV]) -> int:
    for kv in tokenizer:
        if kv.key == "tokenizer.ggml.tokens":
            t, st, cnt = struct.unpack_from("<IIQ", kv.raw, 0)
            assert t == T_ARRAY and st == T_STRING
            return cnt
    raise ValueError("no tokenizer.ggml.tokens")


def gemma3_text_tensors(cfg: TextConfig, n_vocab: int, seed: int,
                        source: Callable[[Tensor], Callable[[Writer, int], None] | None] = lambda t: None) -> list[Tensor]:
    E, D, Hq, Hkv, F = cfg.n_embd, cfg.head_dim, cfg.n_head, cfg.n_head_kv, cfg.n_ff
    ts = [Tensor("token_embd.weight", (E, n_vocab), GGML_F16)]
    for i in range(cfg.n_layer):
        b = f"blk.{i}."
        ts += [Tensor(b + "attn_norm.weight", (E,), GGML_F32, ONES),
               Tensor(b + "attn_q.weight", (E, D * Hq), GGML_F16),
               Tensor(b + "attn_k.weight", (E, D * Hkv), GGML_F16),
               Tensor(b + "attn_v.weight", (E, D * Hkv), GGML_F16),
               Tensor(b + "attn_q_norm.weight", (D,), GGML_F32, ONES),
               Tensor(b + "attn_k_norm.weight", (D,), GGML_F32, ONES),
               Tensor(b + "attn_output.weight", (D * Hq, E), GGML_F16),
               Tensor(b + "post_attention_norm.weight", (E,), GGML_F32, ONES),
               Tensor(b + "ffn_norm.weight", (E,), GGML_F32, ONES),
               Tensor(b + "ffn_gate.weight", (E, F), GGML_F16),
               Tensor(b + "ffn_up.weight", (E, F), GGML_F16),
               Tensor(b + "ffn_down.weight", (F, E), GGML_F16),
               Tensor(b + "post_ffw_norm.weight", (E,), GGML_F32, ONES)]
    ts.append(Tensor("output_norm.weight", (E,), GGML_F32, ONES))
    for t in ts:
        t.seed = seed_for(seed, t.name, t.ne)
        if t.fill.kind == "rand":
            t.source = source(t)
    return ts


def write_gemma3_text(path, cfg: TextConfig, tokenizer: Sequence[KV], seed: int = 0,
                      source=lambda t: None) -> Written:
    n_vocab = vocab_size(tokenizer)
    return write_gguf(path, gemma3_text_kvs(cfg, tokenizer), gemma3_text_tensors(cfg, n_vocab, seed, source))


# ---- Gemma 3 projector (clip) -----------------------------------------------------------------
def _clip_general(name: str) -> list[KV]:
    return [kv_str("general.architecture", "clip"), kv_str("general.type", "mmproj"), kv_str("general.name", name),
            kv_u32("general.file_type", LLAMA_FTYPE_MOSTLY_F16)]


def gemma3_mmproj_kvs(cfg: VisionConfig) -> list[KV]:
    cfg.validate()
    kvs = _clip_general(cfg.name) + [
        kv_str("clip.projector_type", "gemma3"),
        kv_bool("clip.has_vision_encoder", True),
        kv_bool("clip.use_gelu", True),
        kv_u32("clip.vision.projection_dim", cfg.n_embd_text),
        kv_u32("clip.vision.image_size", cfg.image_size),
        kv_u32("clip.vision.patch_size", cfg.patch_size),
        kv_u32("clip.vision.embedding_length", cfg.n_embd),
        kv_u32("clip.vision.feed_forward_length", cfg.n_ff),
        kv_u32("clip.vision.block_count", cfg.n_layer),
        kv_u32("clip.vision.attention.head_count", cfg.n_head),
        kv_f32("clip.vision.attention.layer_norm_epsilon", cfg.eps),
        kv_arr_f32("clip.vision.image_mean", [0.5, 0.5, 0.5]),
        kv_arr_f32("clip.vision.image_std", [0.5, 0.5, 0.5]),
    ]
    if cfg.n_merge != 4:
        kvs.append(kv_u32("clip.vision.projector.scale_factor", cfg.n_merge))
    return kvs


def gemma3_mmproj_tensors(cfg: VisionConfig, seed: int,
                          source: Callable[[Tensor], Callable[[Writer, int], None] | None] = lambda t: None) -> list[Tensor]:
    cfg.validate()
    V, F, P = cfg.n_embd, cfg.n_ff, cfg.patch_size
    n_patches = cfg.patches_per_side ** 2
    small = Fill("rand", -9, -5)
    ts = [Tensor("v.patch_embd.weight", (P, P, 3, V), GGML_F32, small),  # converter keeps embeddings F32
          Tensor("v.patch_embd.bias", (V,), GGML_F32, small),
          Tensor("v.position_embd.weight", (V, n_patches), GGML_F32, small)]  # must be F32
    for i in range(cfg.n_layer):
        b = f"v.blk.{i}."
        for proj in ("attn_q", "attn_k", "attn_v", "attn_out"):
            ts += [Tensor(b + proj + ".weight", (V, V), GGML_F16), Tensor(b + proj + ".bias", (V,), GGML_F32, small)]
        ts += [Tensor(b + "ln1.weight", (V,), GGML_F32, ONES), Tensor(b + "ln1.bias", (V,), GGML_F32, ZEROS),
               Tensor(b + "ln2.weight", (V,), GGML_F32, ONES), Tensor(b + "ln2.bias", (V,), GGML_F32, ZEROS),
               Tensor(b + "ffn_up.weight", (V, F), GGML_F16), Tensor(b + "ffn_up.bias", (F,), GGML_F32, small),
               Tensor(b + "ffn_down.weight", (F, V), GGML_F16), Tensor(b + "ffn_down.bias", (V,), GGML_F32, small)]
    ts += [Tensor("v.post_ln.weight", (V,), GGML_F32, ONES), Tensor("v.post_ln.bias", (V,), GGML_F32, ZEROS),
           Tensor("mm.soft_emb_norm.weight", (V,), GGML_F32, ONES),
           Tensor("mm.input_projection.weight", (cfg.n_embd_text, V), GGML_F16)]  # converter forces F16
    for t in ts:
        # the vision tower's weights do not depend on the output width: the 64- and 640-wide
        # projectors share them and differ only in mm.input_projection
        t.seed = seed_for(seed, t.name, t.ne)
        if t.fill.kind == "rand":
            t.source = source(t)
    return ts


def write_gemma3_mmproj(path, cfg: VisionConfig, seed: int = 0, source=lambda t: None) -> Written:
    return write_gguf(path, gemma3_mmproj_kvs(cfg), gemma3_mmproj_tensors(cfg, seed, source))


def write_novision_mmproj(path, seed: int = 0) -> Written:
    """A well-formed clip GGUF that declares neither a vision nor an audio encoder."""
    kvs = _clip_general("projector without encoders (test)") + [
        kv_str("clip.projector_type", "gemma3"),
        kv_bool("clip.has_vision_encoder", False),
        kv_bool("clip.has_audio_encoder", False),
    ]
    return write_gguf(path, kvs, [Tensor("mm.soft_emb_norm.weight", (64,), GGML_F32, ONES)])


def write_junk(path, size: int = 4096, seed: int = 0) -> Written:
    data = b"JUNK: this is not a GGUF model file.\n" + random.Random(seed_for(seed, "junk")).getrandbits(size * 8).to_bytes(size, "little")
    data = data[:size]
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    sha = hashlib.sha256(data).hexdigest()
    _commit(tmp, os.fspath(path), len(data), sha)
    return Written(os.fspath(path), len(data), sha)


def write_tokenizer_only(src_gguf, path) -> Written:
    """The source's general.* keys (less file type / quantisation version) and its tokenizer.*
    keys, no tensors: enough to build Gemma-3-vocabulary models elsewhere."""
    meta = read_meta(src_gguf)
    drop = {"general.file_type", "general.quantization_version", "general.alignment"}
    general = [kv for kv in meta.kvs if kv.key.startswith("general.") and kv.key not in drop]
    return write_gguf(path, general + tokenizer_kvs(meta), [])


# ---- shared random pool (for multi-GB benchmark models) ------------------------------------------
class Pool:
    """One buffer of random F16 and one of random F32 values; every tensor streams a window of
    it (starting at a per-tensor offset, wrapping), so gigabytes are written at disk speed."""

    def __init__(self, seed: int, mb: int = 64):
        n = mb << 20
        self.f16 = memoryview(random_floats(seed_for(seed, "pool16"), n // 2, GGML_F16))
        self.f32 = memoryview(random_floats(seed_for(seed, "pool32"), n // 8, GGML_F32, Fill("rand", -9, -5)))

    def source(self, t: Tensor) -> Callable[[Writer, int], None]:
        buf = self.f16 if t.gtype == GGML_F16 else self.f32
        size = _TYPE_SIZE[t.gtype]
        start = (t.seed % (len(buf) // size)) * size

        def produce(write: Writer, nbytes: int, buf=buf, start=start) -> None:
            pos = start
            left = nbytes
            while left:
                n = min(left, len(buf) - pos)
                write(buf[pos:pos + n])
                left -= n
                pos = 0
        return produce


def self_check() -> None:
    """Cross-checks this module's constants against PyPI's gguf package, when installed."""
    try:
        import gguf  # noqa: F401
    except ImportError:
        return
    from gguf import GGMLQuantizationType as Q, GGUFValueType as V
    assert (Q.F32, Q.F16) == (GGML_F32, GGML_F16)
    assert (V.UINT32, V.FLOAT32, V.BOOL, V.STRING, V.ARRAY) == (T_UINT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY)
