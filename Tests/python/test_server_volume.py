"""Google's CT recipe through `/api/predict`: a real CT series written with pydicom, a NIfTI
volume written with nibabel, both sent to a running `medlab serve`."""
import base64
import random

import nibabel
import numpy as np
import pydicom
import pytest
import requests

from ct_dicom import ct_dataset, dicom_bytes
from test_server_fixture import Server, lab  # noqa: F401  (lab is a fixture)


def ct_slice(instance, z, size=48):
    """One CT slice as DICOM bytes: stored value = HU + 1024, a bright disc growing with z."""
    ds = ct_dataset(
        size, size, bits_stored=12, intercept=-1024, PatientName="Doe^Jane", PatientID="SECRET-ID-123",
        InstanceNumber=instance, ImagePositionPatient=[0.0, 0.0, float(z)],
        ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    yy, xx = np.mgrid[:size, :size]
    hu = np.where((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (instance % 20 + 3) ** 2, 60, -1000)
    ds.PixelData = (hu + 1024).astype(np.uint16).tobytes()
    return dicom_bytes(ds)


def series(count, shuffle_seed=7):
    files = [ct_slice(i + 1, i * 2.5) for i in range(count)]
    random.Random(shuffle_seed).shuffle(files)  # the recipe orders them, not the upload
    return [base64.b64encode(f).decode() for f in files]


def recipe_numbers(count, maximum=85):
    if count <= maximum:
        return list(range(1, count + 1))
    return [int(np.floor(i / maximum * (count - 1) + 0.5)) + 1 for i in range(1, maximum + 1)]


def test_ct_series_is_ordered_sampled_and_packed(lab):
    body = {"images": series(120), "volume": True, "question": "Is there a mass?", "max_new_tokens": 4}
    response = requests.post(lab.url + "/api/predict", json=body, timeout=300)
    assert response.status_code == 200, response.text
    result = response.json()
    volume = result["volume"]
    assert volume["packing"] == "ct"
    assert volume["slices_total"] == 120 and volume["slices_shown"] == 85
    assert volume["slice_numbers"] == recipe_numbers(120)
    assert "note" not in volume
    assert result["usage"]["image_tokens"] == 85 * 4
    assert result["boxes"] == []
    assert "SECRET-ID" not in response.text and "Doe" not in response.text


def test_multipart_series_with_max_slices_and_streaming(lab):
    files = [("images", (f"s{i}.dcm", base64.b64decode(b), "application/dicom")) for i, b in enumerate(series(30))]
    response = requests.post(lab.url + "/api/predict", files=files, timeout=300, stream=True,
                             data={"question": "Describe.", "volume": "ct", "max_slices": "5", "max_new_tokens": "3", "stream": "true"})
    assert response.status_code == 200
    events = [line for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    final = requests.models.complexjson.loads(events[-1][6:])
    assert final["done"] is True
    assert final["volume"]["slices_shown"] == 5 and final["volume"]["slice_numbers"] == recipe_numbers(30, 5)
    assert final["usage"]["image_tokens"] == 5 * 4


def test_nifti_volume_is_grey_unless_told_ct(lab):
    data = np.random.default_rng(3).normal(0, 300, size=(40, 32, 12)).astype(np.float32)
    image = nibabel.Nifti1Image(data, np.diag([0.8, 0.8, 3.0, 1.0]))
    payload = base64.b64encode(image.to_bytes()).decode()
    grey = requests.post(lab.url + "/api/predict", json={"image": payload, "volume": "auto", "question": "q", "max_new_tokens": 2},
                         timeout=120).json()
    assert grey["volume"]["packing"] == "grey" and grey["volume"]["slices_total"] == 12
    assert grey["volume"]["slice_numbers"] == list(range(1, 13))
    ct = requests.post(lab.url + "/api/predict", json={"image": payload, "volume": "ct", "question": "q", "max_new_tokens": 2},
                       timeout=120).json()
    assert ct["volume"]["packing"] == "ct"


def test_small_context_shows_fewer_slices_and_says_how_to_show_all():
    server = Server("--demo", "--ctx", "512")
    try:
        body = {"images": series(100), "volume": True, "question": "q", "max_new_tokens": 4}
        result = requests.post(server.url + "/api/predict", json=body, timeout=300).json()
        volume = result["volume"]
        assert 2 <= volume["slices_shown"] < 85
        assert "--ctx" in volume["note"]
        assert volume["slice_numbers"] == recipe_numbers(100, volume["slices_shown"])
        # Asking for more than fits is refused before any work.
        refused = requests.post(server.url + "/api/predict", json=dict(body, max_slices=80), timeout=300)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_overflow"
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("body, code", [
    ({"images": [base64.b64encode(ct_slice(1, 0)).decode()]}, "invalid_request"),            # one slice is not a volume
    ({"images": [base64.b64encode(ct_slice(1, 0)).decode(),
                 base64.b64encode(ct_slice(2, 1, size=32)).decode()]}, "invalid_request"),  # two slice sizes
    ({"images": series(3), "region": {"rect": [1, 1, 5, 5]}}, "invalid_region"),
    ({"images": series(3), "max_slices": 1}, "invalid_request"),
    ({"images": series(3), "volume": "sideways"}, "invalid_volume"),
    ({"volume": True}, "missing_image"),
])
def test_bad_volume_requests_are_400(lab, body, code):
    response = requests.post(lab.url + "/api/predict", json={"volume": True, "question": "q", **body}, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
