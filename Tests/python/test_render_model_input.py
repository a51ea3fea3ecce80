"""`POST /api/render` with `model_input` (the page's "model view") returns the very square
`medlab convert --model-input` writes, pixel for pixel, and the same letterbox geometry as
`convert --json`: for a non-square photo and a windowed frame of a DICOM with non-square pixels."""
import base64
import io
import json
import subprocess
import tempfile

import numpy as np
import pytest
import requests
from PIL import Image

from ct_dicom import ct_dataset, dicom_bytes
from test_server_fixture import Server, lab, medlab_bin  # noqa: F401  (lab is a fixture)


@pytest.fixture(scope="module")
def bare_lab():
    """A lab with no model at all: the square is MedGemma's 896 px."""
    empty = tempfile.mkdtemp()
    server = Server("--no-demo", wait_ready=False, env={"MEDLAB_CACHE": empty, "MEDLAB_MODELS_DIR": empty})
    server.wait_status("no_model")
    yield server
    server.stop()


def photo_png(width=301, height=170):
    """Noise over a gradient, RGB: every resampling difference would show."""
    rng = np.random.default_rng(17)
    ramp = np.linspace(0, 255, width)[None, :, None]
    pixels = np.clip(ramp + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG")
    return out.getvalue()


def ct_dicom(width=200, height=120, frames=3):
    """A multi-frame CT in HU (signed), pixels 0.7 mm tall and 0.5 mm wide, a window in the header."""
    ds = ct_dataset(
        height, width, signed=True, NumberOfFrames=frames, PixelSpacing=[0.7, 0.5], PatientName="Doe^Jane",
        PatientID="SECRET-ID-123", WindowCenter=40, WindowWidth=400)
    yy, xx = np.mgrid[:height, :width]
    rng = np.random.default_rng(5)
    stack = []
    for f in range(frames):
        lungs = ((xx - width * (0.3 + 0.05 * f)) / (width * 0.2)) ** 2 + ((yy - height / 2) / (height * 0.35)) ** 2 < 1
        hu = np.where(lungs, -800, 40) + rng.normal(0, 60, (height, width))
        stack.append(hu.astype(np.int16))
    ds.PixelData = np.stack(stack).tobytes()
    return dicom_bytes(ds)


def pixels(png_bytes):
    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


def render(lab, data, **fields):
    body = {"image": base64.b64encode(data).decode(), **fields}
    response = requests.post(lab.url + "/api/render", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def png_of(answer):
    assert answer["image"].startswith("data:image/png;base64,")
    return base64.b64decode(answer["image"].split(",", 1)[1])


def convert(tmp_path, data, suffix, *args):
    """`medlab convert --model-input --json`: the PNG's bytes and what it printed."""
    source = tmp_path / f"in{suffix}"
    source.write_bytes(data)
    out = tmp_path / "out.png"
    done = subprocess.run([medlab_bin(), "convert", str(source), str(out), "--model-input", "--json", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out.read_bytes(), json.loads(done.stdout)


def test_photo_model_input_equals_convert(bare_lab, tmp_path):
    data = photo_png()
    answer = render(bare_lab, data, model_input=True)
    png, printed = convert(tmp_path, data, ".png")
    assert (answer["width"], answer["height"]) == (896, 896)
    ours, theirs = pixels(png_of(answer)), pixels(png)
    assert ours.shape == (896, 896, 3)
    assert np.array_equal(ours, theirs)
    assert png_of(answer) == png  # same encoder too: the same file
    assert answer["letterbox"] == printed["letterbox"]
    box = answer["letterbox"]
    assert (box["side"], box["original_width"], box["original_height"]) == (896, 301, 170)
    assert (box["offset_x"], box["content_width"], box["content_height"]) == (0, 896, 506)
    # 65 whole padding rows of the 301 px padded square, resized, are 193.5 rows of 896: the exact
    # origin, and the nearest whole pixel.
    assert box["origin_x"] == 0 and abs(box["origin_y"] - 65 * 896 / 301) < 1e-9
    assert box["offset_y"] == round(65 * 896 / 301)
    # The padding is black and the image is not: the square really is letterboxed (the filter
    # blends the rows at the edge).
    assert ours[: box["offset_y"] - 3].max() == 0 and ours[box["offset_y"] + box["content_height"] + 3:].max() == 0
    assert ours[box["offset_y"] + 5: box["offset_y"] + box["content_height"] - 5].mean() > 60
    # Without the flag: the preview at the file's own size, no letterbox.
    preview = render(bare_lab, data)
    assert (preview["width"], preview["height"]) == (301, 170) and "letterbox" not in preview


@pytest.mark.parametrize("window, cli_window", [("lung", "lung"), ({"center": -500, "width": 1200}, "-500,1200")])
def test_windowed_dicom_frame_equals_convert(bare_lab, tmp_path, window, cli_window):
    data = ct_dicom()
    answer = render(bare_lab, data, model_input=True, window=window, frame=1)  # the API counts frames from 0
    png, printed = convert(tmp_path, data, ".dcm", "--window", cli_window, "--frame", "2")
    assert np.array_equal(pixels(png_of(answer)), pixels(png))
    assert answer["letterbox"] == printed["letterbox"]
    box = answer["letterbox"]
    # 200 × 120 pixels of 0.5 × 0.7 mm: 100 × 84 mm, so the content is 896 × 753 of the square.
    assert (box["original_width"], box["original_height"], box["content_width"]) == (200, 120, 896)
    assert box["content_height"] == round(120 * 0.7 / (200 * 0.5) * 896)
    assert box["scale_y"] > box["scale_x"]
    assert answer["format"] == "dicom" and answer["metadata"]["frames"] == 3
    assert "SECRET" not in json.dumps(answer["metadata"]) and "Doe" not in json.dumps(answer["metadata"])
    # Another frame and the file's own window are other pictures.
    assert not np.array_equal(pixels(png_of(answer)), pixels(png_of(render(bare_lab, data, model_input=True, frame=1))))
    assert not np.array_equal(pixels(png_of(answer)), pixels(png_of(render(bare_lab, data, model_input=True, window=window))))


def test_multipart_and_region(bare_lab):
    data = ct_dicom()
    as_json = render(bare_lab, data, model_input=True, window="lung")
    response = requests.post(bare_lab.url + "/api/render", files={"image": ("ct.dcm", data, "application/dicom")},
                             data={"model_input": "true", "window": "lung"}, timeout=60)
    assert response.status_code == 200, response.text
    assert np.array_equal(pixels(png_of(response.json())), pixels(png_of(as_json)))
    assert response.json()["letterbox"] == as_json["letterbox"]
    # The mark is drawn in red onto the square, as /api/predict shows it to the model.
    marked = pixels(png_of(render(bare_lab, data, model_input=True, window="lung", region={"rect": [40, 30, 120, 90]})))
    red = (marked[..., 0] > 200) & (marked[..., 1] < 60) & (marked[..., 2] < 60)
    assert red.sum() > 100
    bad = requests.post(bare_lab.url + "/api/render", json={"image": base64.b64encode(data).decode(), "model_input": "yes please"},
                        timeout=10)
    assert bad.status_code == 400


def test_the_square_is_the_loaded_models(lab, tmp_path):
    # The demo model's projector takes 112 px squares: that is what it sees, and what the page shows.
    side = lab.health()["model"]["image_size"]
    data = photo_png()
    answer = render(lab, data, model_input=True)
    png, printed = convert(tmp_path, data, ".png", "--size", str(side))
    assert (answer["width"], answer["letterbox"]["side"]) == (side, side)
    assert np.array_equal(pixels(png_of(answer)), pixels(png))
    assert answer["letterbox"] == printed["letterbox"]
