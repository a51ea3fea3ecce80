"""Our engine against Hugging Face transformers, logit for logit (#17 item 4).

bench/fidelity/tiny_gemma3.py makes a tiny random Gemma3ForConditionalGeneration (MedGemma's
896-pixel, patch-14, 256-token image side) from a fixed seed, as safetensors for transformers and
as a GGUF text model + mmproj (F32) for us. bench/fidelity/transformers_logits.json holds what
transformers (float32 on a GPU, TF32 off) computed for three cases on the token ids our engine
decoded. Here the GGUF pair is regenerated (once, cached beside the test models), each case runs
through `medlab ask --dump-logits`, and:

  * the prompt token ids equal the fixture's (the ids transformers was given),
  * the 32 greedy tokens are identical,
  * the first generated position's logits differ by at most 5e-3 x (logit range) on the
    fixture's ids (its top 64 and every 509th id), and the top-1 token is the same.
"""
import hashlib
import json
import os
import sys

import numpy as np
import pytest

from test_server_fixture import medlab_bin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "fidelity"))
import tiny_gemma3 as tg  # noqa: E402

FIXTURE = os.path.join(ROOT, "bench", "fidelity", "transformers_logits.json")
MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))
# Max abs difference allowed, as a fraction of the first position's logit range (max - min).
TOLERANCE = 5e-3  # measured up to 2.3e-3 (bench/fidelity/README.md), not the 1e-3 first aimed at
CASES = [case["name"] for case in tg.CASES]


@pytest.fixture(scope="module")
def reference():
    if not os.path.exists(FIXTURE):
        pytest.skip(f"{FIXTURE} not computed yet (bench/fidelity/README.md says how)")
    with open(FIXTURE) as f:
        return json.load(f)


def _sources_hash():
    h = hashlib.sha256()
    for path in (tg.__file__, os.path.join(ROOT, "scripts", "gguf_models.py")):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def models(reference):
    """The GGUF pair for the fixture's seed, written once into MODELS/fidelity (about a second)."""
    folder = os.path.join(MODELS, "fidelity")
    stamp_path = os.path.join(folder, "stamp.json")
    key = {"sources": _sources_hash(), "seed": reference["seed"]}
    try:
        with open(stamp_path) as f:
            stamp = json.load(f)
        if stamp["key"] == key and all(os.path.getsize(os.path.join(folder, n)) == s for n, s in stamp["sizes"].items()):
            return folder, stamp["written"]
    except (OSError, ValueError, KeyError):
        pass
    tokenizer = os.path.join(MODELS, "tokenizer-only.gguf")
    if not os.path.exists(tokenizer):
        pytest.fail(f"{tokenizer} is missing: run scripts/setup.sh (it prepares the test models)")
    written = tg.write_gguf_pair(folder, tokenizer, seed=reference["seed"])
    sizes = {n: os.path.getsize(os.path.join(folder, n)) for n in (tg.TEXT_GGUF, tg.MMPROJ_GGUF)}
    with open(stamp_path, "w") as f:
        json.dump({"key": key, "sizes": sizes, "written": written}, f)
    return folder, written


@pytest.fixture(scope="module")
def dumps(models, tmp_path_factory):
    folder, _ = models
    return tg.run_engine(medlab_bin(), folder, str(tmp_path_factory.mktemp("fidelity")))


def test_same_weights_as_the_reference(models, reference):
    """The regenerated weights are the bytes transformers ran (hash over every tensor)."""
    _, written = models
    assert written["weights_sha256"] == reference["weights_sha256"]


@pytest.mark.parametrize("case", CASES)
def test_prompt_token_ids(dumps, reference, case):
    ours, theirs = dumps[case], reference["cases"][case]
    assert ours["prompt_tokens"] == theirs["prompt_tokens"]
    assert ours["image_tokens"] == theirs["image_tokens"] == [256] * len(ours["image_tokens"])


@pytest.mark.parametrize("case", CASES)
def test_greedy_tokens_identical(dumps, reference, case):
    ours, theirs = dumps[case]["tokens"], reference["cases"][case]["tokens"]
    assert len(ours) == tg.NEW_TOKENS
    assert ours == theirs


@pytest.mark.parametrize("case", CASES)
def test_first_position_logits(dumps, reference, case):
    ours = np.asarray(dumps[case]["first_logits"], dtype=np.float64)
    theirs = reference["cases"][case]["first_logits"]
    assert ours.shape == (tg.N_VOCAB,)
    ids = np.asarray(theirs["top_ids"] + list(range(0, tg.N_VOCAB, theirs["sample_stride"])))
    values = np.asarray(theirs["top_values"] + theirs["sample_values"], dtype=np.float64)
    diff = np.abs(ours[ids] - values).max()
    bound = TOLERANCE * theirs["range"]
    print(f"{case}: max abs logit diff {diff:.3g} (bound {bound:.3g}, range {theirs['range']:.4g}, "
          f"ours {ours.max() - ours.min():.4g})")
    assert diff <= bound
    assert int(np.argmax(ours)) == theirs["top_ids"][0]
    assert abs((ours.max() - ours.min()) - theirs["range"]) <= bound
