"""What the vision encoder gets from us against Hugging Face's Gemma 3 image processor.

For each image: our model input (`medlab convert --model-input`, 896x896 after windowing and
letterbox) against transformers' `Gemma3ImageProcessorPil` (resize to 896x896 with its own
filter, no rescale/normalise) applied to our full-size rendering of the same file padded to a
square as docs/imaging.md documents (centred, odd remainder right/bottom, black). Prints the
mean absolute difference and the 99.9th percentile in 8-bit grey levels. Used by
Tests/imaging_py/test_vs_hf_processor.py; run alone: python bench/fidelity/pixels.py
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_images(folder, seed=1):
    """The five kinds the fidelity issue names, with fine texture (noise is the hardest case)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(seed)
    paths = {}
    grey16 = rng.integers(0, 65535, (1500, 1200), dtype=np.uint16)
    paths["16-bit grey PNG 1200x1500"] = os.path.join(folder, "grey16.png")
    Image.fromarray(grey16).save(paths["16-bit grey PNG 1200x1500"])
    yy, xx = np.mgrid[:600, :800]
    colour = np.stack([(xx * 255 // 800), (yy * 255 // 600), rng.integers(0, 255, (600, 800))], axis=-1).astype(np.uint8)
    paths["colour JPEG 800x600"] = os.path.join(folder, "colour.jpg")
    Image.fromarray(colour).save(paths["colour JPEG 800x600"], quality=95)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = (rng.normal(1024 + 40, 150, (512, 512)).clip(0, 4095)).astype(np.uint16).tobytes()
    paths["512x512 CT DICOM"] = os.path.join(folder, "ct.dcm")
    ds.save_as(paths["512x512 CT DICOM"], enforce_file_format=True)
    paths["small 120x100 (upscaled)"] = os.path.join(folder, "small.png")
    Image.fromarray(rng.integers(0, 255, (100, 120), dtype=np.uint8)).save(paths["small 120x100 (upscaled)"])
    paths["very non-square 1800x200"] = os.path.join(folder, "wide.png")
    Image.fromarray(rng.integers(0, 255, (200, 1800), dtype=np.uint8)).save(paths["very non-square 1800x200"])
    return paths


def convert(medlab, path, folder, *args):
    out = os.path.join(folder, "out.png")
    subprocess.run([medlab, "convert", path, out, *args], check=True, capture_output=True)
    return Image.open(out).convert("RGB")


def reference(rendered):
    """HF's processor on our full-size rendering padded to a square."""
    from transformers import Gemma3ImageProcessorPil

    w, h = rendered.size
    side = max(w, h)
    square = Image.new("RGB", (side, side), (0, 0, 0))
    square.paste(rendered, ((side - w) // 2, (side - h) // 2))
    processor = Gemma3ImageProcessorPil(size={"height": 896, "width": 896}, do_rescale=False, do_normalize=False)
    pixels = processor(square, return_tensors="np")["pixel_values"][0]
    return np.transpose(pixels, (1, 2, 0)).astype(np.float64)


def compare(medlab, folder):
    """{name: (mean abs difference, 99.9th percentile, max)} for the five images."""
    figures = {}
    for name, path in make_images(folder).items():
        ours = np.asarray(convert(medlab, path, folder, "--model-input")).astype(np.float64)
        theirs = reference(convert(medlab, path, folder))
        diff = np.abs(ours - theirs)
        figures[name] = (diff.mean(), np.percentile(diff, 99.9), diff.max())
    return figures


if __name__ == "__main__":
    medlab = os.environ.get("MEDLAB_BIN") or os.path.join(ROOT, ".build", "debug", "medlab")
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'image':30} {'mean':>6} {'p99.9':>6} {'max':>5}")
        for name, (mean, p999, peak) in compare(medlab, folder).items():
            print(f"{name:30} {mean:6.3f} {p999:6.1f} {peak:5.0f}")
    sys.exit(0)
