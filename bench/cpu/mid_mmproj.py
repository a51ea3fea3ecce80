#!/usr/bin/env python3
"""A projector for the demo's Gemma 3 270M shaped like MedGemma's where it matters for timing:
896 px images, 4,096 patches, 256 tokens per image, attention heads of 72 (SigLIP's), random
weights, but 2 layers of width 288, so an encode takes about a second on this 2-core machine (the
demo's own projector takes milliseconds). bench/cpu/prefill_load.py uses it to reproduce an
encode overlapping a prefill the way it does on a GPU; bench/gpu/encode.sh's CPU dry run too.

    python3 bench/cpu/mid_mmproj.py [OUT]     (default ~/.cache/medlab/test-models/mid-mmproj-640.gguf)

Standard library only (scripts/gguf_models.py).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import gguf_models as gm  # noqa: E402

CONFIG = gm.VisionConfig(name="mid SigLIP for the 270M demo (random weights)", n_embd_text=640, image_size=896,
                         patch_size=14, n_embd=288, n_ff=576, n_layer=2, n_head=4)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1].startswith("-"):
        print(__doc__)
        return 0 if sys.argv[1] in ("-h", "--help") else 2
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/medlab/test-models/mid-mmproj-640.gguf")
    if not os.path.exists(out):
        written = gm.write_gemma3_mmproj(out, CONFIG, seed=7)
        print(f"wrote {written.path} ({written.size / 1e6:.1f} MB)")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
