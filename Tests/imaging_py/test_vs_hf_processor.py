"""Our model input equals what Hugging Face's Gemma 3 image processor (the pipeline MedGemma
was trained and is demonstrated with) makes of the same image padded to a square: the same
filter (PIL's bilinear, widened when shrinking) and the same pad-then-resize geometry."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench", "fidelity"))
import pixels  # noqa: E402


def test_model_input_matches_the_hf_gemma3_processor(medlab, tmp_path):
    figures = pixels.compare(medlab, str(tmp_path))
    assert len(figures) == 5
    for name, (mean, p999, peak) in figures.items():
        # The bar is mean <= 1 and p99.9 <= 8; PIL rounds to 8 bits between its two
        # passes and we do not, which is all that is left: at most one grey level.
        assert mean <= 1 and p999 <= 8, (name, mean, p999)
        assert peak <= 2, (name, peak)
