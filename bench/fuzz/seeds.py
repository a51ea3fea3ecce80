"""Writes small valid seed inputs for every medlab-fuzz target into OUT/<target>/ (run by `make fuzz`).

Seeds only start the fuzzer off on valid shapes; libFuzzer grows its corpus beside them (in the
build folder, never committed). Usage: .venv/bin/python bench/fuzz/seeds.py OUT
"""

import base64
import glob
import gzip
import io
import json
import os
import shutil
import sys
import zipfile

import nibabel
import numpy as np
import pydicom
from PIL import Image


def write(out, target, name, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def png(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def jpeg(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def nifti(volume, version=1):
    image = (nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image)(volume, np.diag([0.8, 0.8, 2.5, 1]))
    return image.to_bytes()


def enhanced_ct():
    """A small enhanced multi-frame CT: shared Pixel Measures and orientation, per-frame rescale,
    window and Plane Position (the functional groups `FunctionalGroups` reads)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def item(**values):
        ds = Dataset()
        for key, value in values.items():
            setattr(ds, key, value)
        return ds

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "CT", 1, "MONOCHROME2"
    ds.NumberOfFrames, ds.Rows, ds.Columns = 3, 6, 5
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PixelMeasuresSequence=Sequence([item(PixelSpacing=[0.5, 0.8], SliceThickness=2.0)]),
        PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]))])
    ds.PerFrameFunctionalGroupsSequence = Sequence([item(
        PixelValueTransformationSequence=Sequence([item(RescaleIntercept=-1024 + 10 * f, RescaleSlope=1 + f, RescaleType="HU")]),
        FrameVOILUTSequence=Sequence([item(WindowCenter=40 * f, WindowWidth=400 + 100 * f)]),
        PlanePositionSequence=Sequence([item(ImagePositionPatient=[0, 0, 5.0 * (2 - f)])])) for f in range(3)])
    ds.PixelData = np.arange(3 * 6 * 5, dtype=np.int16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def imaging(out):
    """DICOM in every transfer syntax pydicom ships a small file of, an enhanced multi-frame CT,
    NIfTI-1/2 plain and gzip, PNG, JPEG."""
    files = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    for path in sorted(glob.glob(os.path.join(files, "*.dcm"))):
        if os.path.getsize(path) <= 64 * 1024:
            shutil.copy(path, os.path.join(out, "imaging", os.path.basename(path)))
    ramp = np.arange(24 * 16, dtype=np.uint8).reshape(16, 24)
    grey = Image.fromarray(ramp)
    rgb = Image.fromarray(np.stack([ramp, ramp[::-1], 255 - ramp], axis=-1))
    write(out, "imaging", "enhanced-ct.dcm", enhanced_ct())
    write(out, "imaging", "grey8.png", png(grey))
    write(out, "imaging", "grey16.png", png(Image.fromarray((ramp.astype(np.uint16) * 257)).convert("I;16")))
    write(out, "imaging", "rgb.png", png(rgb))
    write(out, "imaging", "rgba.png", png(rgb.convert("RGBA")))
    write(out, "imaging", "palette.png", png(rgb.convert("P")))
    write(out, "imaging", "interlaced.png", png(rgb, optimize=False, interlace=1))
    write(out, "imaging", "grey.jpg", jpeg(grey))
    write(out, "imaging", "rgb.jpg", jpeg(rgb, quality=80))
    write(out, "imaging", "progressive.jpg", jpeg(rgb, progressive=True))
    write(out, "imaging", "subsampled.jpg", jpeg(rgb, subsampling=2))
    volume = (np.arange(8 * 6 * 4, dtype=np.int16).reshape(8, 6, 4) * 37) - 1000
    write(out, "imaging", "ct.nii", nifti(volume))
    write(out, "imaging", "ct.nii.gz", gzip.compress(nifti(volume), mtime=0))
    write(out, "imaging", "float.nii", nifti(volume.astype(np.float32) / 3))
    write(out, "imaging", "rgb.nii", nifti(np.zeros((4, 4, 2, 1, 3), dtype=np.uint8)))
    write(out, "imaging", "nifti2.nii", nifti(volume, version=2))


TINY_PNG = base64.b64encode(png(Image.new("L", (2, 2), 128))).decode()


def data_urls(out):
    write(out, "dataurl", "png", f"data:image/png;base64,{TINY_PNG}")
    write(out, "dataurl", "bare", TINY_PNG)
    wrapped = "\n".join(TINY_PNG[i : i + 16] for i in range(0, len(TINY_PNG), 16))
    write(out, "dataurl", "wrapped", f"  data:application/dicom;base64,{wrapped}\n")
    write(out, "dataurl", "urlsafe", TINY_PNG.replace("+", "-").replace("/", "_").rstrip("="))
    write(out, "dataurl", "remote", "https://example.org/x.png")
    write(out, "dataurl", "plain", "data:text/plain,hello")


def multipart(out):
    boundary = "XyZ123"

    def form(fields, files=()):
        body = b""
        for name, value in fields:
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, filename, data in files:
            body += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + b"\r\n"
        return f"multipart/form-data; boundary={boundary}\n".encode() + body + f"--{boundary}--\r\n".encode()

    image = base64.b64decode(TINY_PNG)
    write(out, "multipart", "question", form([("question", "What is shown?")], [("image", "a.png", image)]))
    write(
        out,
        "multipart",
        "everything",
        form(
            [
                ("question", "Findings?"),
                ("max_new_tokens", "64"),
                ("context", "prior: normal"),
                ("system", "You are terse."),
                ("window", "lung"),
                ("frame", "0"),
                ("slice", "1"),
                ("region", '{"rect": [0, 0, 1, 1]}'),
                ("temperature", "0.7"),
                ("top_p", "0.9"),
                ("seed", "7"),
                ("stream", "true"),
                ("ignore_eos", "no"),
                ("volume", "ct"),
                ("max_slices", "4"),
                ("schema", '{"type": "object", "properties": {"a": {"type": "string"}}}'),
                ("images", f"data:image/png;base64,{TINY_PNG}"),
            ],
            [("images", "b.png", image)],
        ),
    )
    write(out, "multipart", "quoted", form([("format", "json"), ("window", "-600/1500")]).replace(b"XyZ123\n", b'"XyZ123"\n', 1))


def predict_json(out):
    image = f"data:image/png;base64,{TINY_PNG}"
    write(out, "predict-json", "article", json.dumps({"image": image, "question": "What is shown?", "max_new_tokens": 64}))
    write(
        out,
        "predict-json",
        "everything",
        json.dumps(
            {
                "images": [image, TINY_PNG],
                "question": "Compare.",
                "context": "prior",
                "system": "terse",
                "window": {"center": 40, "width": 400},
                "frame": 0,
                "slice": 2,
                "region": {"points": [[1, 1], [2, 3]]},
                "temperature": 0.5,
                "top_p": 0.9,
                "seed": 3,
                "stream": False,
                "ignore_eos": True,
                "volume": "auto",
                "max_slices": 8,
                "schema": {"type": "object", "properties": {"finding": {"type": "string", "enum": ["a", "b"]}}, "required": ["finding"]},
            }
        ),
    )
    write(out, "predict-json", "rect", json.dumps({"question": "q", "region": [0, 0, 4, 4], "window": "brain", "format": "json", "volume": True}))
    write(out, "predict-json", "points", json.dumps({"question": "q", "region": [[0, 0], [3, 4]], "window": "-600,1500"}))


def chat_json(out):
    image = f"data:image/png;base64,{TINY_PNG}"
    write(out, "chat-json", "text", json.dumps({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}))
    write(
        out,
        "chat-json",
        "image",
        json.dumps(
            {
                "model": "medgemma",
                "messages": [
                    {"role": "system", "content": "You are a radiologist."},
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": "Findings?"}]},
                ],
                "max_tokens": 32,
                "temperature": 0.2,
                "top_p": 0.95,
                "seed": 1,
                "stop": ["\n\n"],
                "stream": True,
                "stream_options": {"include_usage": True},
                "ignore_eos": False,
            }
        ),
    )
    write(
        out,
        "chat-json",
        "format",
        json.dumps(
            {
                "messages": [
                    {"role": "developer", "content": [{"type": "text", "text": "JSON only"}]},
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": None},
                ],
                "max_completion_tokens": 16,
                "stop": "END",
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "strict": True, "schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}},
                },
            }
        ),
    )
    write(out, "chat-json", "object", json.dumps({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}))


SET_YAML = """name: chest
description: a tiny set
params:
  max_new_tokens: 32
  temperature: 0
  top_p: 1
  seed: 1
  schema: {type: object, properties: {finding: {type: string}}}
cases:
  - id: one
    image: a.png
    question: Is there a fracture?
    window: lung
    expect:
      contains_any: [fracture, break]
      contains_all: fracture
      not_contains: [tumour]
      regex: "^(yes|no)\\b"
      fields: {finding: yes, score: [1, 2.5, null, true]}
  - id: two
    images: [a.png, a.png]
    question: Compare
    context: prior normal
"""


def sets(out):
    write(out, "set-yaml", "set.yaml", SET_YAML)
    write(out, "set-yaml", "set.json", json.dumps({"name": "j", "cases": [{"id": "a", "image": "a.png", "question": "q"}]}))
    image = base64.b64decode(TINY_PNG)
    for name, entries in {
        "flat.zip": {"set.yaml": SET_YAML, "a.png": image},
        "folder.zip": {"top/set.yml": SET_YAML, "top/a.png": image, "__MACOSX/._a.png": b"x"},
    }.items():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in entries.items():
                archive.writestr(path, data)
        write(out, "set-zip", name, buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("set.json", json.dumps({"name": "j", "cases": [{"id": "a", "image": "a.png", "question": "q"}]}))
        archive.writestr("a.png", image)
    write(out, "set-zip", "stored.zip", buffer.getvalue())


def studies(out):
    """ZIPs as dropped on the Studies API: a DICOM series in folders, mixed stored and deflated entries."""
    files = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, name in enumerate(["MR_small_RLE.dcm", "JPEGLSNearLossless_08.dcm", "SC_rgb_rle.dcm"]):
            with open(os.path.join(files, name), "rb") as handle:
                compression = zipfile.ZIP_DEFLATED if index % 2 else zipfile.ZIP_STORED
                archive.writestr(f"series/{index:03d}.dcm", handle.read(), compress_type=compression)
        archive.writestr("__MACOSX/series/._000.dcm", b"x")
        archive.writestr("series/.DS_Store", b"x")
        archive.writestr("notes.txt", "not an image")
    write(out, "study-zip", "series.zip", buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.png", base64.b64decode(TINY_PNG))
        archive.writestr("folder/", b"")
    write(out, "study-zip", "png.zip", buffer.getvalue())


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "imaging"), exist_ok=True)
    imaging(out)
    data_urls(out)
    multipart(out)
    predict_json(out)
    chat_json(out)
    sets(out)
    studies(out)
