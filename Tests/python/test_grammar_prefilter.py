"""The grammar prefilter (GrammarPrefilter) and the cache of allowed sets (Grammar) change how fast
a constrained answer comes, never which answer: on the tiny random model, whose likeliest tokens
are almost never valid JSON (so nearly every step of a constrained answer needs more than the
greedy token), `medlab ask` gives the same answer with each and without it
(`MEDLAB_GRAMMAR_PREFILTER=0`, `MEDLAB_GRAMMAR_CACHE=0`)."""
import json
import os
import re
import subprocess

import jsonschema_rs
import pytest
import requests

from schedules import assert_same_but_for_near_ties
from test_batch import TINY, png
from test_server_fixture import Server, medlab_bin
from test_structured import SCHEMAS

CASES = [(SCHEMAS[0], "Is there a pleural effusion?"), (SCHEMAS[2], "请判断是否存在肺实变"),
         ({"type": "object", "properties": {"finding": {"type": "string", "maxLength": 12}, "size_mm": {"type": "integer"}},
           "required": ["finding", "size_mm"]}, "Describe the nodule.")]


def grammar_steps(trace):
    """Of MEDLAB_TRACE's `done` lines: the steps that computed an allowed set, and those that took
    a cached one, over all requests."""
    return tuple(sum(int(n) for n in re.findall(rf"{field}=(\d+)", trace)) for field in ("grammar_full_passes", "grammar_cached"))


def ask(schema, question, prefilter=True, cache=True):
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_GRAMMAR_PREFILTER="1" if prefilter else "0",
               MEDLAB_GRAMMAR_CACHE="1" if cache else "0")
    result = subprocess.run([medlab_bin(), "ask", *TINY, "--no-record", "--json", "--max-new-tokens", "48",
                             "--schema-inline", json.dumps(schema), question], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), *grammar_steps(result.stderr)


@pytest.mark.parametrize("schema, question", CASES)
def test_the_prefilter_gives_the_same_answer(schema, question):
    with_prefilter, passes, _ = ask(schema, question, cache=False)
    without, passes_without, _ = ask(schema, question, prefilter=False, cache=False)
    assert passes > 0 and passes == passes_without  # the pass it speeds up really ran, as often both ways
    assert with_prefilter["answer"] == without["answer"]
    if with_prefilter.get("json") is not None:
        jsonschema_rs.validate(schema, with_prefilter["json"])


def batch(folder, out, schema, question, cache, concurrency=1):
    """A batch over every image of `folder` under `schema`: the rows and the steps answered by a
    computed and by a cached allowed set."""
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_GRAMMAR_CACHE="1" if cache else "0")
    result = subprocess.run([medlab_bin(), "batch", str(folder), "-q", question, "-o", str(out), *TINY, "--no-record",
                             "--max-new-tokens", "48", "--concurrency", str(concurrency), "--schema-inline", json.dumps(schema)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    full, cached = grammar_steps(result.stderr)
    rows = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda row: row["filename"])
    return rows, full, cached


@pytest.mark.parametrize("schema, question", CASES)
def test_the_cache_gives_the_same_answers(tmp_path, schema, question):
    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(3):
        (folder / f"s{n}.png").write_bytes(png(24 + n * 8, 24, seed=n))
    cached_rows, full, cached = batch(folder, tmp_path / "cached.jsonl", schema, question, cache=True)
    rows, full_without, cached_without = batch(folder, tmp_path / "computed.jsonl", schema, question, cache=False)
    # A later request meets the states an earlier one computed. A step that computes a set with the
    # cache computes it without; a cached step may have been settled by the 64 likeliest instead.
    assert cached > 0 and cached_without == 0 and full <= full_without <= full + cached
    assert [row["answer"] for row in cached_rows] == [row["answer"] for row in rows]
    for row in cached_rows:
        if row.get("fields") is not None:
            jsonschema_rs.validate(schema, row["fields"])


def test_sequences_sampling_at_once_share_the_cache_and_the_answers(tmp_path):
    """Four requests decoded together sample on threads of their own (a grammar makes a step
    costly), all reading and filling the one cache: their answers are valid and are those of the
    same batch without the cache, but for near-ties that the batches' other timing can flip (see
    schedules.py)."""
    schema, question = CASES[0]
    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(8):
        (folder / f"s{n}.png").write_bytes(png(24 + n * 4, 24, seed=n))
    cached_rows, _, cached = batch(folder, tmp_path / "cached.jsonl", schema, question, cache=True, concurrency=4)
    rows, _, _ = batch(folder, tmp_path / "computed.jsonl", schema, question, cache=False, concurrency=4)
    assert cached > 0
    assert_same_but_for_near_ties({row["filename"]: row for row in cached_rows}, {row["filename"]: row for row in rows})
    assert all(row["error"] is None for row in cached_rows)
    for row in cached_rows:
        jsonschema_rs.validate(schema, row["fields"])


def test_one_schema_is_one_grammar_over_the_api():
    """The same schema sent again (its keys in another order) gives the same grammar: the answer's
    fields come in one order every time, and a later request finds the states an earlier one
    computed (a schema re-serialised in a dictionary's changing order found none)."""
    schema = CASES[2][0]
    server = Server(*TINY, "--no-record", env={"MEDLAB_TRACE": "1"})
    try:
        orders = []
        for n, sent in enumerate([schema, dict(reversed(list(schema.items()))), schema]):
            answer = requests.post(server.url + "/api/predict", json={
                "question": f"Describe the nodule. Case {n}.", "schema": sent, "max_new_tokens": 48}, timeout=300).json()
            assert answer["json"] is not None, answer
            jsonschema_rs.validate(schema, answer["json"])
            orders.append(re.findall(r'"(finding|size_mm)"', answer["answer"]))
        assert orders[0] == orders[1] == orders[2] and len(orders[0]) == 2
        cached = [int(n) for n in re.findall(r"grammar_cached=(\d+)", server.log())]
        assert len(cached) == 3 and cached[1] > 0 and cached[2] > 0
    finally:
        server.stop()
