"""Fidelity (#17 item 3): greedy answers of `medlab ask` equal those of llama.cpp's own
`llama-mtmd-cli`, built by scripts/setup.sh from the same llama.cpp sources, on the same model
files, the same 896x896 images and the same chat prompt: one image, two images, and an image
with a prior report, 96 generated tokens each.

What runs
  * Text model: the real Gemma 3 270M (the demo model's text side, prepared by
    scripts/prepare_test_models.py), so the answers are real tokens of a trained model, not the
    near-ties of random weights that a rounding difference could flip.
  * Projector: the tiny random Gemma 3 vision tower of the test models (patch 14, pooled 4x4),
    written here with MedGemma's image size, 896 px (256 tokens per image), and the 270M's width.
    The images are 896x896 RGB PNGs, so medlab's letterbox is the identity: the test checks, through
    MEDLAB_PROMPT_LOG's pixel hash, that medlab hands libmtmd exactly the PNG's pixels, as
    llama-mtmd-cli does after decoding the file with stb_image.
  * Both on the CPU, greedy (temperature 0), seed 0, context 8192, batch and micro-batch 512 (what
    medlab uses), the same thread count, flash attention left at llama.cpp's default (auto) on both.

The prompt
  medlab's prompt is taken from MEDLAB_PROMPT_LOG (the text the engine tokenizes), each image
  replaced by libmtmd's media marker `<__media__>`, and given to llama-mtmd-cli with `-p` and an
  identity Jinja chat template (`--jinja --chat-template`), so llama-mtmd-cli tokenizes the same
  text. It cannot be reached through a Gemma chat template, a known difference of the tools, not
  a defect of either: llama.cpp's Gemma template trims each message and libmtmd puts nothing
  around an image but `<start_of_image>`/`<end_of_image>`, while medlab follows Hugging Face's
  Gemma 3 processor, which surrounds every image with blank lines ("\\n\\n<start_of_image>...
  <end_of_image>\\n\\n"), and opens the first user turn with the system text plus a blank line.
  The BOS token is added by libmtmd's tokenizer on both sides (`add_bos`), not by the template.

What is compared
  medlab's prompt token ids (`ask --dump-logits`) against llama.cpp's `llama-tokenize` on the
  same text between images, as llama-mtmd-cli tokenizes it; the number of prompt tokens each tool
  evaluated (text plus image tokens); the generated text, byte for byte (both tools print each
  token's piece, special tokens included); and the number of generated tokens: medlab must give
  all 96 asked for (so no end of generation was sampled; llama-mtmd-cli is asked for the same 96,
  neither with --ignore-eos). A control run of llama-mtmd-cli with the other image gives another
  answer, so the answers do depend on the pixels.
  Result when written (llama.cpp 0c1e57098): equal in all three cases; nothing in medlab changed.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from test_batch import MODELS
from test_server_fixture import ROOT, medlab_bin

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gguf_models as gm  # noqa: E402

MTMD_CLI = os.path.join(ROOT, ".llama", "bin", "llama-mtmd-cli")
LLAMA_TOKENIZE = os.path.join(ROOT, ".llama", "bin", "llama-tokenize")
TEXT_MODEL = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
TOKENS = 96
CTX = 8192
BATCH = 512  # medlab's batch and micro-batch: max(512, tokens of one image)
THREADS = 2
SEED = 20250101  # the test models' seed
IDENTITY_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
MEDIA_MARKER = "<__media__>"
PRIOR = "Prior chest radiograph 2024-03-01: small left pleural effusion, heart size normal."

CASES = {
    "one-image": (["chest"], "Describe the findings in this image.", None),
    "two-images": (["prior", "chest"], "Compare the prior and the current study.", None),
    "image-and-prior-report": (["chest"], "Has the effusion changed?", PRIOR),
}


def text_width(path):
    """n_embd of the 270M text model, as prepare_test_models.py recorded it."""
    with open(os.path.join(MODELS, "models.json")) as f:
        files = json.load(f)["files"]
    return next(entry["n_embd"] for entry in files if entry["file"] == os.path.basename(path))


def study(kind):
    """A deterministic 896x896 RGB picture (no two channels alike, full 0-255 range)."""
    y, x = np.mgrid[0:896, 0:896].astype(np.int64)
    if kind == "chest":
        r = np.hypot(x - 448, y - 420)
        grey = np.clip(230 - r / 2.2 + 25 * np.sin(x / 23.0) * np.cos(y / 31.0), 0, 255)
        rgb = [grey, np.clip(grey * 0.9 + (x % 17), 0, 255), np.clip(255 - grey + (y % 13), 0, 255)]
    else:
        rgb = [(x * 255) // 895, (y * 255) // 895, ((x // 56 + y // 56) % 2) * 190 + (x + y) % 50]
    return np.stack(rgb, axis=-1).astype(np.uint8)


def fnv_key(pixels):
    """medlab's EmbeddingCache key: size plus a 64-bit FNV-1a over the RGB bytes, 8 bytes at a time."""
    data = pixels.tobytes()
    assert len(data) % 8 == 0
    h = 0xCBF29CE484222325
    for word in np.frombuffer(data, dtype="<u8").tolist():
        h = ((h ^ word) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{pixels.shape[1]}x{pixels.shape[0]}-{h:x}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    for path in (MTMD_CLI, LLAMA_TOKENIZE, TEXT_MODEL):
        if not os.path.exists(path):
            pytest.fail(f"{path} not found: run scripts/setup.sh")
    folder = tmp_path_factory.mktemp("mtmd-cli")
    vision = gm.VisionConfig(name="tiny Gemma 3 projector, 896 px (random, test)", n_embd_text=text_width(TEXT_MODEL),
                             **dict(gm.TINY_VISION, image_size=896))
    projector = str(folder / "mmproj-896.gguf")
    gm.write_gemma3_mmproj(projector, vision, seed=SEED)
    images = {}
    for kind in ("chest", "prior"):
        pixels = study(kind)
        path = folder / f"{kind}.png"
        Image.fromarray(pixels, "RGB").save(path)
        images[kind] = (str(path), fnv_key(pixels))
    return {"folder": folder, "projector": projector, "images": images, "image_tokens": vision.tokens_per_image}


def run_medlab(files, name, kinds, question, context):
    log = files["folder"] / f"{name}.prompts.jsonl"
    dump = files["folder"] / f"{name}.ids.json"
    args = [medlab_bin(), "ask", "--model", TEXT_MODEL, "--mmproj", files["projector"], "--dump-logits", str(dump),
            "--max-new-tokens", str(TOKENS), "--temperature", "0", "--seed", "0", "--ctx", str(CTX),
            "--threads", str(THREADS), "--gpu-layers", "0"]
    for kind in kinds:
        args += ["--image", files["images"][kind][0]]
    if context:
        args += ["--context", context]
    args.append(question)
    result = subprocess.run(args, capture_output=True, timeout=600, env=dict(os.environ, MEDLAB_PROMPT_LOG=str(log)))
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr
    with open(log, encoding="utf-8") as f:
        entries = [json.loads(line) for line in f]
    assert len(entries) == 1, entries
    counts = re.search(r"tokens in (\d+) \((\d+) image\) · out (\d+)", stderr)
    assert counts, stderr
    stdout = result.stdout.decode()
    assert stdout.endswith("\n")
    with open(dump) as f:
        ids = json.load(f)
    return {"prompt": entries[0]["prompt"], "images": entries[0]["images"], "text": stdout[:-1],
            "tokens_in": int(counts[1]), "image_tokens": int(counts[2]), "tokens_out": int(counts[3]),
            "prompt_ids": ids["prompt_tokens"], "image_placeholder": ids["image_placeholder"],
            "generated_ids": ids["tokens"]}


def llama_tokenize(text, bos):
    """Token ids of `text` by llama.cpp's own llama-tokenize, control tokens parsed, as llama-mtmd-cli
    tokenizes the text between two images."""
    args = [LLAMA_TOKENIZE, "-m", TEXT_MODEL, "-p", text, "--ids", "--log-disable"] + ([] if bos else ["--no-bos"])
    result = subprocess.run(args, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def run_mtmd_cli(files, kinds, prompt):
    args = [MTMD_CLI, "-m", TEXT_MODEL, "--mmproj", files["projector"], "-p", prompt,
            "--jinja", "--chat-template", IDENTITY_TEMPLATE,
            "--temp", "0", "--seed", "0", "-n", str(TOKENS), "-c", str(CTX), "-b", str(BATCH), "-ub", str(BATCH),
            "-t", str(THREADS), "-tb", str(THREADS), "-ngl", "0", "--no-mmproj-offload", "--no-warmup", "-lv", "4"]
    for kind in kinds:
        args += ["--image", files["images"][kind][0]]
    result = subprocess.run(args, capture_output=True, timeout=600)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr[-4000:]
    stdout = result.stdout.decode()
    # llama-mtmd-cli prints "\n" once the prompt is evaluated, then each token's piece, then
    # "\n" only if it stopped at an end-of-generation token, then "\n\n" before its timings.
    assert stdout.startswith("\n") and stdout.endswith("\n\n"), repr(stdout)
    prompt_tokens = re.search(r"prompt eval time = .*/\s*(\d+) tokens", stderr)
    assert prompt_tokens, stderr[-4000:]
    return {"text": stdout[1:-2], "tokens_in": int(prompt_tokens[1])}


@pytest.mark.parametrize("name", list(CASES))
def test_greedy_tokens_equal_llama_mtmd_cli(files, name):
    kinds, question, context = CASES[name]
    ours = run_medlab(files, name, kinds, question, context)

    # medlab read the PNGs' own pixels (no resampling) and the prompt its rules make.
    assert ours["images"] == [files["images"][kind][1] for kind in kinds]
    assert ours["image_tokens"] == files["image_tokens"] * len(kinds)
    prompt = ours["prompt"]
    assert prompt.startswith("<start_of_turn>user\nYou are an expert radiologist.\n\n\n\n<start_of_image><image 0>")
    assert prompt.endswith(question + "<end_of_turn>\n<start_of_turn>model\n")
    if context:
        assert "<end_of_image>\n\nPrior report and clinical context:\n" + context + "\n\n" + question in prompt

    # medlab tokenizes template text (control tokens parsed) and user text (not parsed) apart;
    # the ids must be those of llama.cpp's tokenizer on each whole text between images.
    texts = re.split(r"<image \d+>", prompt)
    expected = llama_tokenize(texts[0], bos=True)
    for text in texts[1:]:
        expected += [ours["image_placeholder"]] * files["image_tokens"] + llama_tokenize(text, bos=False)
    assert ours["prompt_ids"] == expected

    for index in range(len(kinds)):
        prompt = prompt.replace(f"<start_of_image><image {index}><end_of_image>", MEDIA_MARKER)
    assert prompt.count(MEDIA_MARKER) == len(kinds) and "<image" not in prompt

    theirs = run_mtmd_cli(files, kinds, prompt)

    assert ours["tokens_out"] == len(ours["generated_ids"]) == TOKENS, ours  # no end of generation before 96 tokens
    assert theirs["tokens_in"] == ours["tokens_in"], (theirs["tokens_in"], ours["tokens_in"])
    assert ours["text"] == theirs["text"], f"\nmedlab:         {ours['text']!r}\nllama-mtmd-cli: {theirs['text']!r}"

    if name == "one-image":
        # Control: the answer depends on the pixels, so equal answers are not equal by ignoring them.
        other = run_mtmd_cli(files, ["prior"], prompt)
        assert other["text"] != theirs["text"]
