"""`medlab batch` end to end: real binary, real models, real server; JSONL read back by pandas."""
import json
import os
import resource
import signal
import struct
import subprocess
import time
import zlib

import pandas
import pytest

from test_server_fixture import Server, medlab_bin

MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))
TINY = ["--model", os.path.join(MODELS, "tiny-gemma3.gguf"), "--mmproj", os.path.join(MODELS, "tiny-mmproj.gguf")]
QUESTIONS = ["请判断是否存在肺实变", "Is there a pleural effusion?"]


def png(width, height, seed=0):
    raw = b"".join(b"\x00" + bytes(((x * 7 + y * 3 + seed) % 256) for x in range(width)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def dicom(width=16, height=12):
    """A minimal DICOM Part 10 file: explicit VR little endian, 16-bit signed CT pixels."""
    def element(group, elem, vr, value):
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            return struct.pack("<HH", group, elem) + vr + b"\0\0" + struct.pack("<I", len(value)) + value
        return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value
    def text(s):
        b = s.encode()
        return b + (b" " if len(b) % 2 else b"")
    def uid(s):
        b = s.encode()
        return b + (b"\0" if len(b) % 2 else b"")
    meta_body = (element(0x0002, 0x0001, b"OB", b"\0\1")
                 + element(0x0002, 0x0002, b"UI", uid("1.2.840.10008.5.1.4.1.1.2"))
                 + element(0x0002, 0x0003, b"UI", uid("1.2.3.4"))
                 + element(0x0002, 0x0010, b"UI", uid("1.2.840.10008.1.2.1")))
    meta = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    pixels = b"".join(struct.pack("<h", (x * 40 + y * 25) - 300) for y in range(height) for x in range(width))
    body = (element(0x0008, 0x0060, b"CS", text("CT"))
            + element(0x0010, 0x0010, b"PN", text("Doe^Jane"))
            + element(0x0028, 0x0002, b"US", struct.pack("<H", 1))
            + element(0x0028, 0x0004, b"CS", text("MONOCHROME2"))
            + element(0x0028, 0x0010, b"US", struct.pack("<H", height))
            + element(0x0028, 0x0011, b"US", struct.pack("<H", width))
            + element(0x0028, 0x0100, b"US", struct.pack("<H", 16))
            + element(0x0028, 0x0101, b"US", struct.pack("<H", 16))
            + element(0x0028, 0x0102, b"US", struct.pack("<H", 15))
            + element(0x0028, 0x0103, b"US", struct.pack("<H", 1))
            + element(0x0028, 0x1052, b"DS", text("-1024"))
            + element(0x0028, 0x1053, b"DS", text("1"))
            + element(0x7FE0, 0x0010, b"OW", pixels))
    return b"\0" * 128 + b"DICM" + meta + body


@pytest.fixture()
def studies(tmp_path):
    root = tmp_path / "studies"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(png(40, 30))
    (root / "sub" / "b.png").write_bytes(png(64, 64, seed=5))
    (root / "sub" / "c.dcm").write_bytes(dicom())
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"junk")
    (root / "notes.txt").write_text("not an image")
    return root


def run_batch(args, **kwargs):
    return subprocess.run([medlab_bin(), "batch", *args], capture_output=True, text=True, timeout=600, **kwargs)


def rows_of(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def check_rows(rows, out):
    assert len(rows) == 8, rows
    pairs = {(r["filename"], r["question"]) for r in rows}
    assert pairs == {(f, q) for f in ["a.png", "sub/b.png", "sub/c.dcm", "broken.png"] for q in QUESTIONS}
    for r in rows:
        for key in ["filename", "question", "answer", "inference_time_sec", "timestamp", "image_sha256", "tokens_in",
                    "tokens_out", "reasoning", "boxes", "error"]:
            assert key in r, (key, r)
        if r["filename"] == "broken.png":
            assert r["error"], r
            assert r["answer"] == ""
        else:
            assert r["error"] is None, r
            assert r["tokens_out"] == 3
            assert len(r["image_sha256"]) == 64
    frame = pandas.read_json(out, lines=True)
    assert len(frame) == 8
    assert set(frame["question"]) == set(QUESTIONS)


def test_batch_in_process_rows_errors_resume_and_csv(studies, tmp_path):
    out = tmp_path / "results.jsonl"
    csv = tmp_path / "results.csv"
    args = [str(studies), *sum([["-q", q] for q in QUESTIONS], []), "-o", str(out), "--csv", str(csv),
            *TINY, "--max-new-tokens", "3", "--concurrency", "2"]
    first = run_batch(args)
    assert first.returncode == 0, first.stderr
    assert "1 non-image files skipped" in first.stderr
    check_rows(rows_of(out), out)
    assert len(pandas.read_csv(csv)) == 8

    again = run_batch(args)
    assert again.returncode == 0, again.stderr
    assert "8 already done" in again.stderr
    assert len(rows_of(out)) == 8

    exported = tmp_path / "export.csv"
    export = subprocess.run([medlab_bin(), "export", str(out), "--csv", str(exported)], capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    assert list(pandas.read_csv(exported)["filename"]).count("a.png") == 2


def test_killed_batch_resumes_without_duplicates(studies, tmp_path):
    out = tmp_path / "killed.jsonl"
    args = [str(studies), *sum([["-q", q] for q in QUESTIONS], []), "-o", str(out), *TINY, "--max-new-tokens", "200"]
    process = subprocess.Popen([medlab_bin(), "batch", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # a state wait: CI beside two fuzzers took over 120 s for two rows
    while time.time() < deadline and process.poll() is None and (not out.exists() or out.read_bytes().count(b"\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = out.read_bytes().count(b"\n")
    assert 2 <= written < 8, "the run should be killed part-way"
    # Same settings as the killed run, so its finished rows count as done.
    rerun = run_batch(args)
    assert rerun.returncode == 0, rerun.stderr
    rows = rows_of(out)
    assert len(rows) == 8
    assert len({(r["filename"], r["question"]) for r in rows}) == 8


def test_batch_against_a_real_server(studies, tmp_path):
    server = Server(*TINY)
    try:
        out = tmp_path / "remote.jsonl"
        result = run_batch([str(studies), *sum([["-q", q] for q in QUESTIONS], []), "-o", str(out), "--server", server.url,
                            "--max-new-tokens", "3", "--concurrency", "3"])
        assert result.returncode == 0, result.stderr
        rows = rows_of(out)
        assert len(rows) == 8
        good = [r for r in rows if r["filename"] != "broken.png"]
        assert all(r["error"] is None and r["tokens_out"] == 3 for r in good), good
        assert all(r["error"] for r in rows if r["filename"] == "broken.png")
    finally:
        server.stop()


def series_folder(tmp_path):
    """Two CT series folders (30 and 12 slices, written by pydicom, file names in no order), a
    folder with one DICOM, a PNG and a NIfTI volume."""
    import nibabel
    import numpy as np
    from test_server_volume import ct_slice
    root = tmp_path / "series"
    for name, count in (("patient1/ct", 30), ("patient2/ct", 12)):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(count):
            (folder / f"IM{(index * 7919) % 1000:04d}.dcm").write_bytes(ct_slice(index + 1, index * 2.0))
    (root / "single").mkdir()
    (root / "single" / "one.dcm").write_bytes(ct_slice(1, 0))
    (root / "photo.png").write_bytes(png(20, 16))
    nibabel.save(nibabel.Nifti1Image(np.zeros((10, 10, 6), dtype=np.int16), np.eye(4)), str(root / "head.nii.gz"))
    return root


def test_series_batch_asks_each_folder_as_one_volume(tmp_path):
    root = series_folder(tmp_path)
    out = tmp_path / "series.jsonl"
    args = [str(root), "--series", "-q", "Is there a mass?", "-q", "Any fluid?", "-o", str(out), *TINY, "--max-new-tokens", "2"]
    done = run_batch(args)
    assert done.returncode == 0, done.stderr
    rows = rows_of(out)
    assert sorted({r["filename"] for r in rows}) == ["head.nii.gz", "patient1/ct", "patient2/ct", "photo.png", "single/one.dcm"]
    assert len(rows) == 10 and all(r["error"] is None for r in rows)
    tokens = {r["filename"]: r["tokens_in"] for r in rows if r["question"] == "Is there a mass?"}
    # 4 image tokens a slice with the tiny projector: 30 slices cost far more than one image.
    assert tokens["patient1/ct"] > tokens["patient2/ct"] > tokens["single/one.dcm"] + 12 * 4 - 1
    assert tokens["head.nii.gz"] > tokens["photo.png"]
    again = run_batch(args)
    assert again.returncode == 0 and len(rows_of(out)) == 10, "a rerun adds nothing"

    server = Server(*TINY)
    try:
        remote = tmp_path / "remote.jsonl"
        done = run_batch([str(root), "--series", "-q", "Is there a mass?", "-o", str(remote), "--server", server.url,
                          "--max-new-tokens", "2"])
        assert done.returncode == 0, done.stderr
        remote_rows = {r["filename"]: r for r in rows_of(remote)}
        assert set(remote_rows) == set(tokens) and all(r["error"] is None for r in remote_rows.values())
        assert remote_rows["patient1/ct"]["tokens_in"] == tokens["patient1/ct"]
    finally:
        assert server.stop() == 0


def test_a_full_disk_stops_the_batch_with_a_message_and_resume_finishes(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    for n in range(6):
        (folder / f"s{n}.png").write_bytes(png(32, 32, seed=n))
    out = tmp_path / "rows.jsonl"
    args = [str(folder), "-q", QUESTIONS[1], "-o", str(out), *TINY, "--max-new-tokens", "3", "--concurrency", "1"]

    def small_disk():
        # Writes past 1,500 bytes fail as on a full disk (a row is about 400 bytes: the fourth cannot fit).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))

    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    stopped = run_batch(args, preexec_fn=small_disk, env=env)
    assert stopped.returncode == 1, stopped.stderr
    assert f"cannot write to {out}: File too large" in stopped.stderr, stopped.stderr
    assert "run the same command again" in stopped.stderr and "Traceback" not in stopped.stderr
    kept = out.read_bytes()
    assert kept.endswith(b"\n"), "no half row is left behind"
    assert 1 <= len(rows_of(out)) < 6
    resumed = run_batch(args, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept.splitlines())} already done" in resumed.stderr, resumed.stderr
    rows = rows_of(out)
    assert sorted(r["filename"] for r in rows) == [f"s{n}.png" for n in range(6)]
    assert out.read_bytes().startswith(kept), "resume appends after the kept rows"
