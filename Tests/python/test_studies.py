"""The studies API (`/api/studies`): a series built from pydicom's own CT file (shuffled, with a
scout and a second series beside it, sent loose or zipped with hostile entries) is grouped,
ordered and cached by content; renders equal the re-upload path's, statistics and profiles equal
numpy on pydicom's modality-LUT pixels, and questions by reference reach the engine as the same
prompt an upload gives."""
import base64
import copy
import io
import json
import os
import random
import struct
import zipfile

import numpy as np
import pydicom
import pytest
import requests
from pydicom.pixels import apply_modality_lut
from pydicom.uid import generate_uid

from ct_dicom import ct_dataset, dicom_bytes, enhanced_ct
from test_batch import TINY
from test_server_fixture import Server, prompt_logged_server

TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
SLICES = 6
PATIENT = "Studytest^Harriet"


def dicom(ds):
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def ct_series():
    """Six slices of pydicom's CT_small.dcm (each its own pixels and position), plus a scout of the same series."""
    base = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
    base.PatientName, base.PatientID = PATIENT, "PID-STUDYTEST-77"
    series_uid = generate_uid()
    slices = []
    for i in range(SLICES):
        ds = copy.deepcopy(base)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        position = [float(v) for v in base.ImagePositionPatient]
        ds.ImagePositionPatient = [position[0], position[1], position[2] + 5 * i]
        pixels = base.pixel_array.astype(np.int32) + 40 * i
        ds.PixelData = pixels.astype(base.pixel_array.dtype).tobytes()
        slices.append(dicom(ds))
    scout = copy.deepcopy(base)
    scout.SeriesInstanceUID, scout.SOPInstanceUID = series_uid, generate_uid()
    scout.file_meta.MediaStorageSOPInstanceUID = scout.SOPInstanceUID
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    scout.InstanceNumber = 1
    return slices, dicom(scout)


@pytest.fixture(scope="module")
def files():
    slices, scout = ct_series()
    mr = pydicom.dcmread(os.path.join(TEST_FILES, "MR_small.dcm"))
    mr.PatientName = PATIENT
    return {"slices": slices, "scout": scout, "mr": dicom(mr)}


@pytest.fixture(scope="module")
def lab():
    server = Server("--demo", "--log-format", "json", "--study-max-upload-mb", "24", "--study-max-files", "40")
    yield server
    server.stop()


def upload(lab, named):
    """POST /api/studies with one `files` part per (name, bytes)."""
    return requests.post(lab.url + "/api/studies", files=[("files", (name, data, "application/octet-stream")) for name, data in named],
                         timeout=120)


def shuffled(files):
    named = [(f"IM{i:04d}", data) for i, data in enumerate(files["slices"])] + [("scout", files["scout"]), ("mr.dcm", files["mr"])]
    random.Random(7).shuffle(named)
    return named


def ct_of(study):
    return next(s for s in study["series"] if s["modality"] == "CT" and not s["is_localizer"])


def test_a_dropped_folder_becomes_ordered_series_with_the_scout_flagged(lab, files):
    response = upload(lab, shuffled(files))
    assert response.status_code == 200, response.text
    study = response.json()
    assert len(study["study_id"]) == 32 and not study["cached"] and study["skipped"] == []
    kinds = sorted((s["modality"], s["slices"], s["is_localizer"], s["is_volume"]) for s in study["series"])
    assert kinds == [("CT", 1, True, False), ("CT", SLICES, False, True), ("MR", 1, False, False)]
    ct = ct_of(study)
    reference = pydicom.dcmread(io.BytesIO(files["slices"][0]))
    assert (ct["rows"], ct["columns"], ct["frames"]) == (reference.Rows, reference.Columns, 1)
    assert ct["pixel_spacing_mm"] == [float(v) for v in reference.PixelSpacing]
    # Slice K is the file with Instance Number K + 1, whatever order the files came in.
    for k in range(SLICES):
        stats = requests.get(f"{lab.url}/api/studies/{study['study_id']}/series/{ct['series_id']}/stats",
                             params={"slice": k, "roi": "0,0,128,128"}, timeout=30).json()
        ds = pydicom.dcmread(io.BytesIO(files["slices"][k]))
        assert stats["mean"] == pytest.approx(float(apply_modality_lut(ds.pixel_array, ds).mean()), rel=1e-9)
    # No identifier and no UID in the answer.
    text = response.text
    for value in [PATIENT, "PID-STUDYTEST-77", reference.SeriesInstanceUID, reference.StudyInstanceUID]:
        assert value not in text


def test_the_same_files_again_give_the_same_study_at_once_even_zipped(lab, files):
    first = upload(lab, shuffled(files)).json()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in reversed(shuffled(files)):
            z.writestr(f"export/{name}", data)
    again = upload(lab, [("study.zip", archive.getvalue())])
    assert again.status_code == 200, again.text
    assert again.json()["study_id"] == first["study_id"] and again.json()["cached"] is True
    assert [s["series_id"] for s in again.json()["series"]] == [s["series_id"] for s in first["series"]]
    listing = requests.get(f"{lab.url}/api/studies/{first['study_id']}", timeout=10).json()
    assert listing["series"] == first["series"]
    metrics = requests.get(lab.url + "/metrics", timeout=10).text
    held = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("medlab_study_cache_bytes "))
    assert held > sum(len(data) for data in files["slices"])
    assert 'route="/api/studies"' in metrics and first["study_id"] not in metrics


def bomb_entry(name, inflated):
    """A ZIP whose one entry says it holds 100 bytes but inflates to `inflated` zeros."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, b"\0" * inflated)
    data = bytearray(archive.getvalue())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    return bytes(data)


def test_hostile_zip_entries_are_skipped_and_listed(lab, files):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i, data in enumerate(files["slices"]):
            z.writestr(f"series/IM{i}", data, compress_type=zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED)
        z.writestr("../../etc/evil.dcm", files["mr"])
        z.writestr("/abs/evil.dcm", files["mr"])
        z.writestr("notes.txt", b"not an image at all")
        z.writestr("DICOMDIR-like.bin", b"\0" * 200)
        z.writestr("__MACOSX/series/._IM0", b"resource fork")
    bomb = bomb_entry("bomb.dcm", 40 << 20)
    response = upload(lab, [("study.zip", archive.getvalue()), ("bomb.zip", bomb)])
    assert response.status_code == 200, response.text
    study = response.json()
    reasons = {s["name"]: s["reason"] for s in study["skipped"]}
    assert "outside" in reasons["study.zip/../../etc/evil.dcm"]
    assert "outside" in reasons["study.zip//abs/evil.dcm"]
    assert "study.zip/notes.txt" in reasons and "study.zip/DICOMDIR-like.bin" in reasons
    assert "bomb" in reasons["bomb.zip/bomb.dcm"]
    assert not any("__MACOSX" in name for name in reasons)
    assert [s["slices"] for s in study["series"]] == [SLICES]
    assert requests.get(lab.url + "/api/health", timeout=5).status_code == 200
    # A central directory whose local header offset points past the end (ZIPFoundation would trap on it).
    crafted = io.BytesIO()
    with zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.dcm", files["mr"])
    crafted = bytearray(crafted.getvalue())
    struct.pack_into("<I", crafted, crafted.find(b"PK\x01\x02") + 42, len(crafted) + 10)
    response = upload(lab, [("offset.zip", bytes(crafted)), ("mr.dcm", files["mr"])])
    assert response.status_code == 200, response.text
    assert "past its end" in {s["name"]: s["reason"] for s in response.json()["skipped"]}["offset.zip"]
    assert requests.get(lab.url + "/api/health", timeout=5).status_code == 200


def test_limits_on_size_and_file_count_are_413(lab, files):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("huge.dcm", b"\0" * (30 << 20))  # declared honestly, past the 24 MiB limit
    too_big = upload(lab, [("huge.zip", archive.getvalue())])
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    too_many = upload(lab, [(f"f{i}.dcm", files["slices"][0] + bytes([i])) for i in range(41)])
    assert too_many.status_code == 413, too_many.text
    nothing = upload(lab, [("a.txt", b"hello"), ("b.txt", b"world")])
    assert nothing.status_code == 415, nothing.text
    empty = requests.post(lab.url + "/api/studies", data={"question": "x"}, timeout=10)
    assert empty.status_code in (400, 415)
    as_json = requests.post(lab.url + "/api/studies", json={"files": []}, timeout=10)
    assert as_json.status_code == 415


def test_render_through_the_cache_equals_the_re_upload_path(lab, files):
    study = upload(lab, shuffled(files)).json()
    ct = ct_of(study)
    base = f"{lab.url}/api/studies/{study['study_id']}/series/{ct['series_id']}"
    for window in ["lung", "40,400"]:
        cached = requests.get(base + "/render", params={"slice": 2, "window": window}, timeout=30)
        assert cached.status_code == 200 and cached.headers["content-type"] == "image/png"
        rendered = requests.post(lab.url + "/api/render", json={"image": base64.b64encode(files["slices"][2]).decode(), "window": window},
                                 timeout=30).json()
        assert base64.b64decode(rendered["image"].split(",", 1)[1]) == cached.content
    from PIL import Image
    plain = np.asarray(Image.open(io.BytesIO(requests.get(base + "/render", params={"slice": 2, "window": "lung"}).content)))
    inverted = np.asarray(Image.open(io.BytesIO(
        requests.get(base + "/render", params={"slice": 2, "window": "lung", "invert": "1"}).content)))
    assert (inverted.astype(int) == 255 - plain.astype(int)).all() and plain.std() > 0
    assert requests.get(base + "/render", params={"slice": SLICES}).status_code == 400
    assert requests.get(base + "/render", params={"window": "nonsense"}).status_code == 400


def test_statistics_and_profiles_equal_numpy_on_pydicoms_modality_values(lab, files):
    study = upload(lab, shuffled(files)).json()
    ct = ct_of(study)
    base = f"{lab.url}/api/studies/{study['study_id']}/series/{ct['series_id']}"
    ds = pydicom.dcmread(io.BytesIO(files["slices"][3]))
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    row, column = (float(v) for v in ds.PixelSpacing)
    stats = requests.get(base + "/stats", params={"slice": 3, "roi": "10,20,70,50"}, timeout=30).json()
    region = hu[20:50, 10:70]
    assert stats["unit"] == "HU" and stats["pixels"] == region.size
    for key, value in [("mean", region.mean()), ("std", region.std()), ("min", region.min()), ("max", region.max())]:
        assert stats[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert stats["area_mm2"] == pytest.approx(region.size * row * column)
    ellipse = requests.get(base + "/stats", params={"slice": 3, "roi": "10,20,70,50", "shape": "ellipse"}, timeout=30).json()
    ys, xs = np.mgrid[0:hu.shape[0], 0:hu.shape[1]] + 0.5
    inside = ((xs - 40) / 30) ** 2 + ((ys - 35) / 15) ** 2 <= 1
    assert ellipse["pixels"] == inside.sum()
    assert ellipse["mean"] == pytest.approx(hu[inside].mean(), rel=1e-9)
    assert ellipse["std"] == pytest.approx(hu[inside].std(), rel=1e-9)
    line = requests.get(base + "/line", params={"slice": 3, "from": "5,7", "to": "45,37"}, timeout=30).json()
    assert line["length_mm"] == pytest.approx(((40 * column) ** 2 + (30 * row) ** 2) ** 0.5)
    steps = 40
    expected = [hu[int(7 + 30 * k / steps), int(5 + 40 * k / steps)] for k in range(steps + 1)]
    assert line["profile"] == pytest.approx(expected)
    for bad in [{"roi": "1,2,3"}, {"roi": "a,b,c,d"}, {"roi": "500,500,600,600"}, {"roi": "1,1,9,9", "shape": "star"}]:
        assert requests.get(base + "/stats", params={"slice": 0, **bad}, timeout=10).status_code == 400, bad
    assert requests.get(base + "/line", params={"from": "1,1"}, timeout=10).status_code == 400


def big_slice(seed):
    """A 512×512 CT slice (about 1.5 MiB in the cache: 0.5 MiB of file, 1 MiB of decoded samples)."""
    ds = ct_dataset(512, 512, signed=True, intercept=-1024, PixelSpacing=[0.7, 0.7], PatientName=PATIENT)
    ds.PixelData = np.random.default_rng(seed).integers(0, 2000, (512, 512), dtype=np.int16).tobytes()
    return dicom_bytes(ds)


def test_unknown_or_evicted_studies_are_404_saying_upload_again():
    # A 2 MiB cache holds one 512×512 slice: the second upload evicts the first.
    small = Server("--demo", "--study-cache-mb", "2")
    try:
        first = upload(small, [("a.dcm", big_slice(1))]).json()
        second = upload(small, [("b.dcm", big_slice(2))]).json()
        assert first["study_id"] != second["study_id"]
        gone = requests.get(f"{small.url}/api/studies/{first['study_id']}", timeout=10)
        assert gone.status_code == 404 and "upload" in gone.json()["error"]["message"]
        series = second["series"][0]["series_id"]
        assert requests.get(f"{small.url}/api/studies/{second['study_id']}/series/{series}/render", timeout=10).status_code == 200
        assert requests.get(f"{small.url}/api/studies/{second['study_id']}/series/nope/render", timeout=10).status_code == 404
        assert requests.get(f"{small.url}/api/studies/nope/series/{series}/stats?roi=0,0,4,4", timeout=10).status_code == 404
        too_big = upload(small, [("c.dcm", big_slice(3)), ("d.dcm", big_slice(4))])
        assert too_big.status_code == 413 and "study-cache-mb" in too_big.json()["error"]["message"]
        assert small.health()["status"] == "ok"
    finally:
        small.stop()
    log = small.log()
    assert PATIENT not in log and PATIENT.replace("^", " ") not in log


@pytest.fixture(scope="module")
def asking(tmp_path_factory):
    server, log = prompt_logged_server(tmp_path_factory.mktemp("studies"), *TINY)
    yield server, log
    server.stop()


def last_prompt(log, call):
    """The engine's prompt log entry for one request (prompt text and pixel hashes)."""
    before = len(log.read_text().splitlines()) if log.exists() else 0
    response = call()
    assert response.status_code == 200, response.text
    lines = log.read_text().splitlines()
    assert len(lines) == before + 1
    return json.loads(lines[-1]), response.json()


def test_a_question_by_study_reference_gives_the_engine_the_upload_paths_prompt(asking, files):
    lab, log = asking
    study = upload(lab, shuffled(files)).json()
    ct = ct_of(study)
    reference = {"id": study["study_id"], "series": ct["series_id"]}
    encoded = [base64.b64encode(data).decode() for data in files["slices"]]
    ask = {"question": "Is there a nodule?", "max_new_tokens": 1}
    cases = [
        ({"image": encoded[2], "window": "lung"}, {"study": {**reference, "slices": [2], "window": "lung"}}),
        ({"images": [encoded[1], encoded[4]], "region": {"rect": [10, 10, 40, 40]}},
         {"study": {**reference, "slices": [1, 4]}, "region": {"rect": [10, 10, 40, 40]}}),
        ({"images": list(reversed(encoded)), "volume": True}, {"study": {**reference, "volume": True}}),
    ]
    prompts = []
    for uploaded, referenced in cases:
        by_upload, answer_upload = last_prompt(log, lambda: requests.post(lab.url + "/api/predict", json={**ask, **uploaded}, timeout=300))
        by_study, answer_study = last_prompt(log, lambda: requests.post(lab.url + "/api/predict", json={**ask, **referenced}, timeout=300))
        assert by_study == by_upload, referenced
        assert answer_study.get("volume") == answer_upload.get("volume")
        prompts.append(by_study)
    assert "SLICE 1" in prompts[2]["prompt"] and len(prompts[1]["images"]) == 2
    # Multipart takes the reference as JSON text.
    form, _ = last_prompt(log, lambda: requests.post(
        lab.url + "/api/predict", files={"study": (None, json.dumps({**reference, "slices": [2]}))},
        data={"question": ask["question"], "max_new_tokens": "1", "window": "lung"}, timeout=300))
    assert form == prompts[0]
    # The OpenAI API takes the same reference as an extension field (the openai client's extra_body).
    for referenced, expected in [({**reference, "slices": [2], "window": "lung"}, prompts[0]), ({**reference, "volume": True}, prompts[2])]:
        chat, _ = last_prompt(log, lambda: requests.post(lab.url + "/v1/chat/completions", timeout=300, json={
            "max_tokens": 1, "study": referenced, "messages": [{"role": "user", "content": ask["question"]}]}))
        assert chat == expected, referenced


def test_study_references_that_cannot_be_served_are_4xx(asking, files):
    lab, _ = asking
    study = upload(lab, shuffled(files)).json()
    ct = ct_of(study)
    ask = {"question": "q", "max_new_tokens": 1}
    reference = {"id": study["study_id"], "series": ct["series_id"]}
    cases = [
        ({"study": {**reference, "slices": [0]}, "image": base64.b64encode(files["mr"]).decode()}, 400),
        ({"study": {**reference}}, 400),  # several slices: which?
        ({"study": {**reference, "slices": [SLICES]}}, 400),
        ({"study": {**reference, "slices": [0], "volume": True}}, 400),
        ({"study": {**reference, "slices": []}}, 400),
        ({"study": {"id": "0" * 32, "series": ct["series_id"], "slices": [0]}}, 404),
        ({"study": {**reference, "series": "nope", "slices": [0]}}, 404),
        ({"study": "not an object"}, 400),
    ]
    for body, status in cases:
        response = requests.post(lab.url + "/api/predict", json={**ask, **body}, timeout=60)
        assert response.status_code == status, (body, response.text)
    gone = requests.post(lab.url + "/api/predict", json={**ask, "study": {"id": "0" * 32, "series": "x", "slices": [0]}}, timeout=60)
    assert "upload" in gone.json()["error"]["message"]


def test_a_nifti_volume_is_one_series_of_axial_slices(lab, tmp_path):
    import nibabel
    data = np.random.default_rng(5).integers(-1000, 1000, (40, 30, 12)).astype(np.int16)
    path = tmp_path / "ct.nii.gz"
    nibabel.save(nibabel.Nifti1Image(data, np.diag([0.8, 0.8, 3.0, 1.0])), str(path))
    study = upload(lab, [("ct.nii.gz", path.read_bytes())]).json()
    [series] = study["series"]
    assert (series["format"], series["slices"], series["frames"], series["is_volume"]) == ("nifti", 12, 1, True)
    assert series["pixel_spacing_mm"] == pytest.approx([0.8, 0.8])
    base = f"{lab.url}/api/studies/{study['study_id']}/series/{series['series_id']}"
    rendered = requests.post(lab.url + "/api/render", json={"image": base64.b64encode(path.read_bytes()).decode(), "slice": 7,
                                                             "window": "-200,1200"}, timeout=30).json()
    cached = requests.get(base + "/render", params={"slice": 7, "window": "-200,1200"}, timeout=30)
    assert base64.b64decode(rendered["image"].split(",", 1)[1]) == cached.content
    stats = requests.get(base + "/stats", params={"slice": 7, "roi": f"0,0,{series['columns']},{series['rows']}"}, timeout=30).json()
    assert stats["pixels"] == 40 * 30 and stats["unit"] == "value"
    assert stats["mean"] == pytest.approx(float(data[:, :, 7].mean()))

def test_no_identifier_or_uid_reaches_the_logs(lab, asking, files):
    # Runs last in this module: both servers have uploaded, rendered, measured and answered by now.
    reference = pydicom.dcmread(io.BytesIO(files["slices"][0]))
    scout = pydicom.dcmread(io.BytesIO(files["scout"]))
    needles = [PATIENT, PATIENT.replace("^", " "), "PID-STUDYTEST-77", reference.SeriesInstanceUID, reference.StudyInstanceUID,
               reference.SOPInstanceUID, scout.SOPInstanceUID]
    for text in (lab.log(), asking[0].log()):
        assert "/api/studies" in text
        for needle in needles:
            assert needle not in text, needle


def test_an_enhanced_multi_frame_lists_its_frames_in_slice_order(lab):
    """`frame_order` lists the stored frame numbers along the slice normal, as a radiology viewer
    stacks them (the page steps through them so); `frame=F` keeps DICOM's stored numbering. A file
    already in slice order has no `frame_order`."""
    order = [3, 0, 4, 1, 2]
    study = upload(lab, [("enhanced.dcm", enhanced_ct(order))]).json()
    series = study["series"][0]
    assert (series["slices"], series["frames"], series["frame_order"]) == (1, 5, [1, 3, 4, 0, 2])
    base = f"{lab.url}/api/studies/{study['study_id']}/series/{series['series_id']}"

    def mean(frame):
        return requests.get(base + "/stats", params={"frame": frame, "roi": "2,2,10,10"}, timeout=30).json()["mean"]

    assert [mean(f) for f in range(5)] == [100.0 * z for z in order]  # stored
    assert [mean(f) for f in series["frame_order"]] == [0.0, 100.0, 200.0, 300.0, 400.0]  # along the normal
    in_order = upload(lab, [("sorted.dcm", enhanced_ct([0, 1, 2, 3, 4]))]).json()["series"][0]
    assert in_order["frames"] == 5 and "frame_order" not in in_order
