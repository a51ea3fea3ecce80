"""The grammar prefilter (GrammarPrefilter) changes how fast a constrained answer comes, never
which answer: on the tiny random model, whose likeliest tokens are almost never valid JSON (so
nearly every step of a constrained answer takes the pass past the 64 likeliest), `medlab ask`
gives the same answer with the prefilter and without it (`MEDLAB_GRAMMAR_PREFILTER=0`)."""
import json
import os
import re
import subprocess

import jsonschema_rs
import pytest

from test_batch import TINY
from test_server_fixture import medlab_bin
from test_structured import SCHEMAS

CASES = [(SCHEMAS[0], "Is there a pleural effusion?"), (SCHEMAS[2], "请判断是否存在肺实变"),
         ({"type": "object", "properties": {"finding": {"type": "string", "maxLength": 12}, "size_mm": {"type": "integer"}},
           "required": ["finding", "size_mm"]}, "Describe the nodule.")]


def ask(schema, question, prefilter):
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_GRAMMAR_PREFILTER="1" if prefilter else "0")
    result = subprocess.run([medlab_bin(), "ask", *TINY, "--no-record", "--json", "--max-new-tokens", "48",
                             "--schema-inline", json.dumps(schema), question], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    passes = [int(n) for n in re.findall(r"grammar_full_passes=(\d+)", result.stderr)]
    return json.loads(result.stdout), sum(passes)


@pytest.mark.parametrize("schema, question", CASES)
def test_the_prefilter_gives_the_same_answer(schema, question):
    with_prefilter, passes = ask(schema, question, prefilter=True)
    without, passes_without = ask(schema, question, prefilter=False)
    assert passes > 0 and passes == passes_without  # the pass it speeds up really ran, as often both ways
    assert with_prefilter["answer"] == without["answer"]
    if with_prefilter.get("json") is not None:
        jsonschema_rs.validate(schema, with_prefilter["json"])
