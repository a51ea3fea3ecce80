"""The lab record (issue #13) driven as users drive it: real `medlab serve`, `ask`, `batch` and
`record` processes on real SQLite files, read back over HTTP, by the CLI, by pandas and by
Python's own sqlite3."""
import base64
import hashlib
import io
import json
import os
import resource
import signal
import sqlite3
import subprocess
import threading
import time

import pandas
import pydicom
import pytest
import requests
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from test_batch import QUESTIONS, TINY, png, studies  # noqa: F401  (studies is a fixture)
from test_server_fixture import Server, medlab_bin
from test_studies import ct_series

# Every identifying value the DICOM below carries: none may reach the record or a log.
IDENTIFIERS = {
    "PatientName": "Quixote^Zebulon", "PatientID": "PID-99887766", "PatientBirthDate": "19420317",
    "StudyDate": "19990102", "SeriesDate": "19990103", "AccessionNumber": "ACC-5544332",
    "InstitutionName": "Hospital Xyzzy Plugh", "ReferringPhysicianName": "Marple^Jane",
    "StudyInstanceUID": "1.2.826.0.1.3680043.10.54321.1", "SeriesInstanceUID": "1.2.826.0.1.3680043.10.54321.2",
    "SOPInstanceUID": "1.2.826.0.1.3680043.10.54321.3",
}


def identified_dicom(path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = IDENTIFIERS["SOPInstanceUID"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid()
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    for key, value in IDENTIFIERS.items():
        setattr(ds, key, value)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = 24, 32
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.PixelData = b"".join(((x * 37 + y * 11) % 2000).to_bytes(2, "little", signed=True) for y in range(24) for x in range(32))
    ds.save_as(str(path), enforce_file_format=True)
    return path.read_bytes()


def b64(data):
    return base64.b64encode(data).decode()


def ask_api(server, question, image=None, **fields):
    body = {"question": question, "max_new_tokens": 2, **fields}
    if image is not None:
        body["image"] = b64(image)
    response = requests.post(server.url + "/api/predict", json=body, timeout=120)
    return response


def record_cli(*args, **kwargs):
    return subprocess.run([medlab_bin(), "record", *args], capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("record") / "lab.sqlite"
    server = Server("--demo", "--record", str(path), "--log-format", "json")
    yield server, path
    server.stop()


def test_an_answer_is_kept_whole_and_found_again(recorded):
    server, path = recorded
    image = png(300, 200, seed=9)
    response = ask_api(server, "Is the mediastinum widened?", image, context="Prior CT: small nodule, right upper lobe.")
    assert response.status_code == 200, response.text
    analysis_id = response.json()["analysis_id"]
    entry = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()
    assert entry["id"] == analysis_id and entry["source"] == "api" and entry["status"] == "ok"
    assert entry["question"] == "Is the mediastinum widened?"
    assert entry["context"] == "Prior CT: small nodule, right upper lobe."
    assert entry["answer"] == response.json()["answer"]
    assert entry["images"][0]["sha256"] == hashlib.sha256(image).hexdigest()
    assert (entry["images"][0]["width"], entry["images"][0]["height"], entry["images"][0]["format"]) == (300, 200, "png")
    assert entry["images"][0]["letterbox"]["content_width"] == entry["images"][0]["letterbox"]["side"]
    assert entry["params"]["max_new_tokens"] == 2
    assert entry["model"]["file"] == "gemma-3-270m-q4_k_m.gguf" and entry["engine"] == {"kind": "in_process", "backend": "cpu"}
    assert entry["usage"]["completion_tokens"] == response.json()["usage"]["completion_tokens"]
    assert entry["timings"]["total_ms"] > 0 and entry["created_at"].endswith("Z")
    thumbnail = requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(thumbnail.content))
    assert max(picture.size) <= 256

    # Full-text search over question, context and answer; other words find nothing.
    def found(**query):
        return [a["id"] for a in requests.get(server.url + "/api/analyses", params=query).json()["analyses"]]
    assert analysis_id in found(q="mediastinum")
    assert analysis_id in found(q="nodule upper")
    assert analysis_id not in found(q="pneumothorax")
    assert analysis_id in found(source="api") and analysis_id not in found(source="batch")
    assert analysis_id in found(since="2020-01-01") and analysis_id not in found(until="2020-01-01")


def test_a_volume_asked_by_study_reference_has_its_thumbnail(recorded):
    # A volume keeps one thumbnail (its middle slice) under its first file's hash; the default
    # thumbnail URL (the page's History asks for it) must find it, not 404 on the last file's hash.
    server, _ = recorded
    slices, _ = ct_series()
    study = requests.post(server.url + "/api/studies", files=[("files", (f"s{k}.dcm", d)) for k, d in enumerate(slices)],
                          timeout=120).json()
    series = study["series"][0]
    response = ask_api(server, "Any nodule?", study={"id": study["study_id"], "series": series["series_id"], "volume": True})
    assert response.status_code == 200, response.text
    analysis_id = response.json()["analysis_id"]
    assert len(requests.get(f"{server.url}/api/analyses/{analysis_id}").json()["images"]) == len(slices)
    thumbnail = requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 256
    assert requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png", params={"image": 0}).content == thumbnail.content


def test_the_model_checksum_arrives_in_the_background(recorded):
    server, _ = recorded
    analysis_id = ask_api(server, "checksum please").json()["analysis_id"]
    model = os.path.expanduser("~/.cache/medlab/test-models/gemma-3-270m-q4_k_m.gguf")
    with open(model, "rb") as f:
        expected = hashlib.file_digest(f, "sha256").hexdigest()
    deadline = time.time() + 120
    while time.time() < deadline:
        entry = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()
        if entry["model"]["sha256"]:
            break
        time.sleep(0.1)
    assert entry["model"]["sha256"] == expected
    assert len(entry["model"]["projector_sha256"]) == 64


def test_chinese_search_paging_and_delete(recorded):
    server, _ = recorded
    ids = [ask_api(server, f"第{n}例 是否存在肺实变 series-{n}").json()["analysis_id"] for n in range(5)]
    # Two-character Chinese words and longer ones both match.
    hits = [a["id"] for a in requests.get(server.url + "/api/analyses", params={"q": "肺实变", "limit": 100}).json()["analyses"]]
    assert set(ids) <= set(hits)
    hits = [a["id"] for a in requests.get(server.url + "/api/analyses", params={"q": "实变", "limit": 100}).json()["analyses"]]
    assert set(ids) <= set(hits)
    # Pages of two, newest first, cover each entry once.
    seen, cursor = [], None
    while True:
        params = {"q": "肺实变", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = requests.get(server.url + "/api/analyses", params=params).json()
        seen += [a["id"] for a in page["analyses"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:5] == list(reversed(ids)) and len(seen) == len(set(seen))

    gone = ids[2]
    assert requests.delete(f"{server.url}/api/analyses/{gone}").status_code == 204
    assert requests.get(f"{server.url}/api/analyses/{gone}").status_code == 404
    assert requests.delete(f"{server.url}/api/analyses/{gone}").status_code == 404
    assert gone not in [a["id"] for a in requests.get(server.url + "/api/analyses", params={"q": "肺实变"}).json()["analyses"]]


def test_bad_queries_are_clear_errors(recorded):
    server, _ = recorded
    for params, code in [({"cursor": "abc"}, 400), ({"since": "yesterday"}, 400), ({"until": "2026-13-45"}, 400),
                         ({"limit": "0"}, 400), ({"limit": "many"}, 400)]:
        response = requests.get(server.url + "/api/analyses", params=params)
        assert response.status_code == code, (params, response.text)
        assert response.json()["error"]["message"]
    missing = requests.get(server.url + "/api/analyses/0123456789abcdef")
    assert missing.status_code == 404 and "no analysis" in missing.json()["error"]["message"]
    assert requests.get(server.url + "/api/analyses/export", params={"format": "xml"}).status_code == 400


def test_failed_analyses_are_kept_with_their_error_code(recorded):
    server, _ = recorded
    response = ask_api(server, "too long " * 20000)
    assert response.status_code == 400 and response.json()["error"]["code"] == "context_overflow"
    entry = requests.get(server.url + "/api/analyses", params={"limit": 1}).json()["analyses"][0]
    assert entry["status"] == "error" and entry["error"]["code"] == "context_overflow" and entry["answer"] is None


def test_openai_answers_carry_their_analysis_id(recorded):
    server, _ = recorded
    body = {"model": "medgemma", "max_tokens": 2, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(png(64, 48))}},
        {"type": "text", "text": "OpenAI route question"}]}]}
    for stream in (False, True):
        response = requests.post(server.url + "/v1/chat/completions", json=body | {"stream": stream}, timeout=120)
        assert response.status_code == 200
        _ = response.text  # the whole stream, so the entry is finished
        entry = requests.get(f"{server.url}/api/analyses/{response.headers['X-Analysis-Id']}").json()
        assert entry["source"] == "openai" and entry["question"] == "OpenAI route question"
        assert entry["images"][0]["width"] == 64 and entry["status"] == "ok"


def test_exports_round_trip_through_pandas_and_the_cli(recorded, tmp_path):
    server, path = recorded
    ask_api(server, 'A "quoted", comma-laden\nquestion', png(40, 40))
    listed = requests.get(server.url + "/api/analyses", params={"limit": 1000}).json()["analyses"]
    csv = requests.get(server.url + "/api/analyses/export", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and "attachment" in csv.headers["content-disposition"]
    frame = pandas.read_csv(io.StringIO(csv.text))
    assert len(frame) == len(listed) and list(frame["id"]) == [a["id"] for a in listed]
    assert 'A "quoted", comma-laden\nquestion' in set(frame["question"])
    lines = requests.get(server.url + "/api/analyses/export", params={"format": "jsonl", "q": "comma-laden"}).text.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["question"].startswith('A "quoted"')

    out = tmp_path / "export.csv"
    export = record_cli("export", "--record", str(path), "--format", "csv", "-o", str(out))
    assert export.returncode == 0, export.stderr
    assert len(pandas.read_csv(out)) == len(listed)
    listing = record_cli("list", "--record", str(path), "--search", "comma-laden", "--json")
    assert listing.returncode == 0, listing.stderr
    one = json.loads(listing.stdout)
    assert len(one) == 1
    shown = record_cli("show", "--record", str(path), one[0]["id"])
    assert shown.returncode == 0 and "comma-laden" in shown.stdout and "sha256" in shown.stdout
    stats = json.loads(record_cli("stats", "--record", str(path), "--json").stdout)
    assert stats["total"] == len(listed) and stats["by_source"]["api"] >= 1 and stats["median_ms"]["total_ms"] > 0
    assert record_cli("delete", "--record", str(path), one[0]["id"]).returncode == 0
    missing = record_cli("show", "--record", str(path), one[0]["id"])
    assert missing.returncode != 0 and "no analysis" in missing.stderr
    assert "no record at" in record_cli("list", "--record", str(tmp_path / "absent.sqlite")).stderr


def test_record_images_none_keeps_no_thumbnail(tmp_path):
    server = Server("--demo", "--record", str(tmp_path / "lab.sqlite"), "--record-images", "none")
    try:
        analysis_id = ask_api(server, "no thumbnail wanted", png(64, 64)).json()["analysis_id"]
        entry = requests.get(f"{server.url}/api/analyses/{analysis_id}").json()
        assert len(entry["images"][0]["sha256"]) == 64
        assert requests.get(f"{server.url}/api/analyses/{analysis_id}/thumbnail.png").status_code == 404
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "lab.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM thumbnail").fetchone()[0] == 0


def test_no_record_keeps_nothing(tmp_path):
    server = Server("--demo", "--no-record")
    try:
        assert server.health()["record"]["status"] == "off"
        response = ask_api(server, "nothing kept")
        assert response.status_code == 200 and "analysis_id" not in response.json()
        assert requests.get(server.url + "/api/analyses").status_code == 503
    finally:
        server.stop()


def test_identifiers_never_reach_the_record_or_the_logs(tmp_path):
    record = tmp_path / "deid.sqlite"
    data = identified_dicom(tmp_path / "ct.dcm")
    assert IDENTIFIERS["PatientName"].encode() in data  # the file really carries them
    server = Server("--demo", "--record", str(record), "--log-format", "json")
    try:
        response = ask_api(server, "Any consolidation?", data)
        assert response.status_code == 200, response.text
        multipart = requests.post(server.url + "/api/predict", files={"image": ("ct.dcm", data, "application/dicom")},
                                  data={"question": "Multipart question", "max_new_tokens": "2"}, timeout=120)
        assert multipart.status_code == 200, multipart.text
        entry = requests.get(f"{server.url}/api/analyses/{response.json()['analysis_id']}").json()
        assert entry["images"][0]["modality"] == "CT" and entry["images"][0]["format"] == "dicom"
    finally:
        server.stop()
    ask = subprocess.run([medlab_bin(), "ask", *TINY, "--record", str(record), "--image", str(tmp_path / "ct.dcm"),
                          "--max-new-tokens", "2", "--json", "A CLI question"], capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["analysis_id"]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ct.dcm").write_bytes(data)
    batch = subprocess.run([medlab_bin(), "batch", str(folder), "-q", "Batch question", "-o", str(tmp_path / "rows.jsonl"),
                            *TINY, "--max-new-tokens", "2", "--record", str(record)], capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
    sources = {a["source"] for a in json.loads(record_cli("list", "--record", str(record), "--json").stdout)}
    assert sources == {"api", "ask", "batch"}

    texts = [server.log(), ask.stdout, ask.stderr, batch.stdout, batch.stderr]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("deid.sqlite")]
    assert record in files
    blobs = [p.read_bytes() for p in files]
    for value in IDENTIFIERS.values():
        for needle in {value, value.replace("^", " ")}:
            assert all(needle not in text for text in texts), needle
            assert all(needle.encode() not in blob for blob in blobs), needle


def test_kill_9_mid_batch_loses_nothing_and_resume_agrees(studies, tmp_path):  # noqa: F811
    record = tmp_path / "batch.sqlite"
    out = tmp_path / "rows.jsonl"
    args = [str(studies), *sum([["-q", q] for q in QUESTIONS], []), "-o", str(out), *TINY, "--max-new-tokens", "120",
            "--record", str(record)]
    process = subprocess.Popen([medlab_bin(), "batch", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 2 <= out.read_bytes().count(b"\n") < 8, "the run should be killed part-way"
    with sqlite3.connect(record) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {row[0] for row in db.execute("SELECT id FROM analysis")}
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["analysis_id"] for r in written} <= kept  # every committed row is in the record

    rerun = subprocess.run([medlab_bin(), "batch", *args], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 8
    with sqlite3.connect(record) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entries = {row[0]: row for row in db.execute("SELECT id, run_id, question, status, answer FROM analysis")}
    assert set(entries) == {r["analysis_id"] for r in rows}
    assert len({e[1] for e in entries.values()}) == 1
    for r in rows:
        entry = entries[r["analysis_id"]]
        assert entry[2] == r["question"] and entry[3] == ("error" if r["error"] else "ok")
        if not r["error"]:
            assert entry[4] == r["answer"]


def test_serve_and_batch_write_one_record_at_once(studies, tmp_path):  # noqa: F811
    record = tmp_path / "shared.sqlite"
    server = Server("--demo", "--record", str(record))
    answered = []
    try:
        def client():
            for n in range(6):
                answered.append(ask_api(server, f"concurrent question {n}", png(32, 32, seed=n)).json()["analysis_id"])
        thread = threading.Thread(target=client)
        thread.start()
        batch = subprocess.run([medlab_bin(), "batch", str(studies), *sum([["-q", q] for q in QUESTIONS], []), "-o",
                                str(tmp_path / "rows.jsonl"), *TINY, "--max-new-tokens", "2", "--record", str(record)],
                               capture_output=True, text=True, timeout=600)
        thread.join()
        assert batch.returncode == 0, batch.stderr
        listed = requests.get(server.url + "/api/analyses", params={"limit": 1000}).json()["analyses"]
    finally:
        server.stop()
    ids = {a["id"] for a in listed}
    assert set(answered) <= ids
    assert sum(1 for a in listed if a["source"] == "batch") == 8
    with sqlite3.connect(record) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_full_disk_degrades_the_record_not_the_answers(tmp_path):
    record = tmp_path / "full.sqlite"
    Server("--demo", "--record", str(record)).stop()  # create and migrate it first
    size = record.stat().st_size

    def small_disk():
        # The record may not grow: SQLite's writes beyond its current size fail as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    server = Server("--demo", "--record", str(record), "--log-format", "json", preexec_fn=small_disk)
    try:
        for n in range(40):
            response = ask_api(server, f"question {n} " + "padding " * 200, png(64, 64, seed=n))
            assert response.status_code == 200, response.text
            if server.health()["record"]["status"] == "degraded":
                break
        health = server.health()
        assert health["record"]["status"] == "degraded" and health["record"]["errors"] >= 1, health
        assert health["ready"] is True
        metrics = requests.get(server.url + "/metrics").text
        count = [line for line in metrics.splitlines() if line.startswith("medlab_record_errors_total")]
        assert count and float(count[0].split()[-1]) >= 1, metrics
    finally:
        server.stop()
    assert "the record could not keep an analysis" in server.log()
