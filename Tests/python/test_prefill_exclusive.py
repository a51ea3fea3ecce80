"""`MEDLAB_PREFILL_EXCLUSIVE=1` (a prefill and the vision thread's image encode take turns on the
device) changes when a prefill runs, never what it computes: a batch with several questions in
flight gives the same rows with it and without it (but for near-ties flipped by the other
streams' timing, see schedules.py), and with it no prefill's trace line says an encode ran
meanwhile (`encoding=0`). The trace's per-piece fields are read here as
bench/cpu/prefill_load.py and bench/gpu/trace.sh read them."""
import json
import os
import re
import subprocess

from schedules import assert_same_but_for_near_ties
from test_batch import TINY, png
from test_server_fixture import medlab_bin

PREFILL = re.compile(r"prefill enc=[\d.]+ prefill=[\d.]+ cached=\d+ text_before=[\d.]+ image=[\d.]+ text_after=[\d.]+ "
                     r"tokens=(\d+) active=(\d+) kv_cells=(\d+) encoding=([01])")


def batch(folder, out, exclusive):
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_PREFILL_EXCLUSIVE="1" if exclusive else "0")
    result = subprocess.run([medlab_bin(), "batch", str(folder), "-q", "What is shown?", "-q", "Is there an effusion?",
                             "-o", str(out), *TINY, "--no-record", "--max-new-tokens", "12", "--ignore-eos",
                             "--concurrency", "4"], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    rows = {(row["filename"], row["question"]): row for row in map(json.loads, out.read_text().splitlines())}
    return rows, [tuple(map(int, m)) for m in PREFILL.findall(result.stderr)]


def test_taking_turns_keeps_the_answers(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.png").write_bytes(png(40 + 4 * i, 36, seed=i))
    shared, shared_trace = batch(folder, tmp_path / "shared.jsonl", exclusive=False)
    turns, turns_trace = batch(folder, tmp_path / "turns.jsonl", exclusive=True)
    for rows in shared, turns:
        assert len(rows) == 12 and all(row["error"] is None and row["tokens_out"] == 12 for row in rows.values())
    assert_same_but_for_near_ties(turns, shared)
    assert len(shared_trace) == 12 and len(turns_trace) == 12  # one prefill line per question, every field there
    assert all(encoding == 0 for *_, encoding in turns_trace)
    assert any(active > 0 for _, active, _, _ in turns_trace)  # prefills did meet running streams
