"""`--record-images model-input` (issue #14, the Compare view's "From the record"): the record keeps
a pixel-only PNG of the exact square the model was given, serves it, lists the analyses that
have one, and a comparison can ask about it again by hash, reaching the engine as the same
prompt and pixels as the original request. Real `medlab serve --demo`, real SQLite files."""
import base64
import hashlib
import io
import json
import os
import sqlite3
import subprocess

import numpy as np
import pytest
import requests
from PIL import Image

from test_batch import png
from test_record import IDENTIFIERS, ask_api, identified_dicom
from test_server_fixture import Server, medlab_bin

QUESTION = "Is there a pleural effusion?"


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model-input")
    log = folder / "prompts.jsonl"
    server = Server("--demo", "--record", str(folder / "lab.sqlite"), "--record-images", "model-input",
                    env=dict(os.environ, MEDLAB_PROMPT_LOG=str(log)))
    yield server, folder / "lab.sqlite", log
    server.stop()


def prompts(log):
    with open(log) as f:
        return [json.loads(line) for line in f]


def pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def convert_model_input(tmp_path, data, suffix, side):
    source = tmp_path / f"source{suffix}"
    source.write_bytes(data)
    out = tmp_path / "converted.png"
    done = subprocess.run([medlab_bin(), "convert", str(source), str(out), "--model-input", "--size", str(side)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.mark.parametrize("kind", ["png", "dicom"])
def test_an_analysis_keeps_the_exact_model_input(kept, tmp_path, kind):
    server, path, _ = kept
    data = png(300, 200, seed=4) if kind == "png" else identified_dicom(tmp_path / "ct.dcm")
    response = ask_api(server, "What do you see?", data)
    assert response.status_code == 200, response.text
    analysis_id = response.json()["analysis_id"]
    entry = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()
    image = entry["images"][0]
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    copy = requests.get(f"{server.url}/api/analyses/{analysis_id}/model-input.png")
    assert copy.status_code == 200 and copy.headers["content-type"] == "image/png"
    assert image["model_input"] == hashlib.sha256(copy.content).hexdigest()
    side = image["letterbox"]["side"]
    assert Image.open(io.BytesIO(copy.content)).size == (side, side)
    expected = convert_model_input(tmp_path, data, ".png" if kind == "png" else ".dcm", side)
    assert np.array_equal(pixels(copy.content), pixels(expected))
    # The thumbnail is still kept beside it.
    assert requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png").status_code == 200
    # Pixels only: nothing of the DICOM header is in the copy or anywhere in the record's files.
    for value in IDENTIFIERS.values():
        assert value.encode() not in copy.content
        for file in path.parent.iterdir():
            if file.name.startswith("lab.sqlite"):
                assert value.encode() not in file.read_bytes(), value
    shown = subprocess.run([medlab_bin(), "record", "show", "--record", str(path), analysis_id],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and f"model input: {image['model_input']}" in shown.stdout, shown.stdout + shown.stderr
    listed = requests.get(server.url + "/api/analyses", params={"has_model_input": 1}).json()["analyses"]
    assert analysis_id in [a["id"] for a in listed]
    assert all(any(i.get("model_input") for i in a["images"]) for a in listed)


def test_a_comparison_asks_the_recorded_image_again_as_the_original_request(kept):
    server, _, log = kept
    data = png(240, 180, seed=11)
    original = requests.post(server.url + "/api/predict", timeout=120, json={
        "image": base64.b64encode(data).decode(), "question": QUESTION, "max_new_tokens": 8, "temperature": 0})
    assert original.status_code == 200, original.text
    before = len(prompts(log))
    entry = requests.get(f"{server.url}/api/analyses/{original.json()['analysis_id']}").json()
    by_image = {"record_image": entry["images"][0]["sha256"], "name": "recorded"}
    by_copy = {"record_image": entry["images"][0]["model_input"]}
    # A window given for the comparison does not apply to a recorded (already windowed) image.
    response = requests.post(server.url + "/api/experiments/compare", timeout=300, json={
        "images": [by_image, by_copy], "questions": [QUESTION], "max_new_tokens": 8, "temperature": 0, "window": "bone"})
    assert response.status_code == 200, response.text
    grid = response.json()
    assert [c.get("error") for c in grid["cells"]] == [None, None]
    assert [c["answer"] for c in grid["cells"]] == [original.json()["answer"]] * 2
    assert [i["name"] for i in grid["images"]] == ["recorded", "record " + entry["images"][0]["model_input"][:12]]
    assert {i["sha256"] for i in grid["images"]} == {entry["images"][0]["model_input"]}
    # The engine read the same prompt and the same pixels as for /api/predict.
    logged = prompts(log)
    assert len(logged) == before + 2
    assert all(line == logged[before - 1] for line in logged[before:])


def test_unknown_or_malformed_hashes_are_refused_with_the_hash(kept):
    server, _, _ = kept
    unknown = "ab" * 32
    response = requests.post(server.url + "/api/experiments/compare", timeout=60, json={
        "images": [{"record_image": unknown}], "questions": ["q"]})
    assert response.status_code == 404 and unknown in response.text
    malformed = requests.post(server.url + "/api/experiments/compare", timeout=60, json={
        "images": [{"record_image": "../../etc/passwd"}], "questions": ["q"]})
    assert malformed.status_code == 400 and "../../etc/passwd" in malformed.text
    both = requests.post(server.url + "/api/experiments/compare", timeout=60, json={
        "images": [{"record_image": unknown, "data": "AAAA"}], "questions": ["q"]})
    assert both.status_code == 400
    assert requests.get(server.url + "/api/analyses", params={"has_model_input": "maybe"}).status_code == 400


def test_deleting_the_last_analysis_removes_its_copy(kept):
    server, path, _ = kept
    data = png(64, 48, seed=99)
    analysis_id = ask_api(server, "Delete me", data).json()["analysis_id"]
    copy = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()["images"][0]["model_input"]
    assert requests.delete(f"{server.url}/api/analyses/{analysis_id}").status_code == 204
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM model_input WHERE sha256 = ?", (copy,)).fetchone()[0] == 0


def test_the_default_keeps_no_model_input(tmp_path):
    server = Server("--demo", "--record", str(tmp_path / "lab.sqlite"))
    try:
        analysis_id = ask_api(server, "thumbnail only", png(64, 64)).json()["analysis_id"]
        entry = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()
        assert "model_input" not in entry["images"][0]
        assert requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png").status_code == 200
        missing = requests.get(f"{server.url}/api/analyses/{analysis_id}/model-input.png")
        assert missing.status_code == 404 and "--record-images model-input" in missing.json()["error"]["message"]
        assert requests.get(server.url + "/api/analyses", params={"has_model_input": 1}).json()["analyses"] == []
        compare = requests.post(server.url + "/api/experiments/compare", timeout=60, json={
            "images": [{"record_image": entry["images"][0]["sha256"]}], "questions": ["q"]})
        assert compare.status_code == 404 and entry["images"][0]["sha256"] in compare.text
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "lab.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM model_input").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM thumbnail").fetchone()[0] == 1
