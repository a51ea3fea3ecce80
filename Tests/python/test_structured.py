"""Structured output (issue #16): every answer under a schema parses and validates (jsonschema_rs)
— in process through both APIs, streamed and not, with the official `openai` client's `parse`,
in `ask` and in batch CSV, and through a real remote llama-server."""
import base64
import json
import subprocess

import jsonschema_rs
import pandas
import pydantic
import pytest
import requests
from openai import OpenAI

from test_batch import TINY, png
from test_scaleout import LlamaServer, start_lab
from test_server_fixture import Server, medlab_bin

SCHEMAS = [
    {"type": "object", "properties": {"effusion": {"type": "boolean"}, "side": {"type": "string", "enum": ["left", "right", "none"]}},
     "required": ["effusion", "side"], "additionalProperties": False},
    {"type": "object", "properties": {"ctr": {"type": "number"},
                                      "findings": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 3}},
     "required": ["ctr", "findings"]},
    {"type": "object", "properties": {"grade": {"type": "integer", "minimum": 0, "maximum": 4}, "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]$"},
                                      "kind": {"const": "cxr"}},
     "required": ["grade", "code", "kind"]},
]
PROMPTS = ["Is there a pleural effusion?", "Estimate the cardiothoracic ratio and list the findings.", "请判断是否存在肺实变"]


@pytest.fixture(scope="module")
def lab():
    server = Server("--demo", "--no-record")
    yield server
    server.stop()


def image():
    return "data:image/png;base64," + base64.b64encode(png(48, 40, seed=2)).decode()


@pytest.mark.parametrize("schema, prompt", list(zip(SCHEMAS, PROMPTS)))
def test_article_api_answers_validate(lab, schema, prompt):
    body = {"question": prompt, "image": image(), "schema": schema, "max_new_tokens": 120}
    answer = requests.post(lab.url + "/api/predict", json=body, timeout=300).json()
    assert answer["finish_reason"] == "stop", answer
    jsonschema_rs.validate(schema, answer["json"])
    assert json.loads(answer["answer"]) == answer["json"] and "json_error" not in answer


def test_a_streamed_answer_validates_and_a_cut_one_is_never_presented_as_valid(lab):
    schema = SCHEMAS[0]
    body = {"question": PROMPTS[2], "schema": schema, "max_new_tokens": 120, "stream": True}
    with requests.post(lab.url + "/api/predict", json=body, stream=True, timeout=300) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    final = events[-1]
    assert final["done"] and final["answer"] == "".join(e.get("delta", "") for e in events[:-1])
    jsonschema_rs.validate(schema, final["json"])
    cut = requests.post(lab.url + "/api/predict", json={"question": "Describe.", "format": "json", "max_new_tokens": 3}, timeout=300).json()
    assert cut["finish_reason"] == "length" and "json" not in cut and "max_new_tokens" in cut["json_error"]


@pytest.mark.parametrize("body, message", [
    ({"schema": {"type": "object", "not": {"type": "null"}}}, "`not`"),
    ({"schema": {"type": "object", "properties": {"a": {"type": "string", "uniqueItems": True}}}}, "`uniqueItems` (at schema.properties.a)"),
    ({"schema": {"type": "object", "description": "x" * 70000}}, "at most 64 KB"),
    ({"schema": [1, 2]}, "must be a JSON Schema object"),
    ({"format": "yaml"}, "`format` must be json"),
    ({"schema": {"type": "object", "properties": {"ctr": {"type": "number", "maximum": 1}}}}, "enforced on integers only"),
])
def test_bad_schemas_are_400_naming_the_problem(lab, body, message):
    response = requests.post(lab.url + "/api/predict", json={"question": "q"} | body, timeout=60)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
    form = requests.post(lab.url + "/api/predict", data={"question": "q", "schema": "{not json"}, files={"x": ("x", b"")}, timeout=60)
    assert form.status_code == 400 and "not valid JSON" in form.json()["error"]["message"]


class Finding(pydantic.BaseModel):
    effusion: bool
    side: str


def test_openai_response_format_and_the_clients_parse(lab):
    client = OpenAI(base_url=lab.url + "/v1", api_key="unused")
    schema = SCHEMAS[0]
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image()}}, {"type": "text", "text": PROMPTS[0]}]}]
    reply = client.chat.completions.create(model="m", max_tokens=120, messages=messages,
                                           response_format={"type": "json_schema", "json_schema": {"name": "finding", "schema": schema, "strict": True}})
    jsonschema_rs.validate(schema, json.loads(reply.choices[0].message.content))
    chunks = client.chat.completions.create(model="m", max_tokens=120, messages=messages, stream=True,
                                            response_format={"type": "json_object", "schema": schema})
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    jsonschema_rs.validate(schema, json.loads(text))
    parsed = client.chat.completions.parse(model="m", max_tokens=120, messages=messages, response_format=Finding)
    finding = parsed.choices[0].message.parsed
    assert isinstance(finding, Finding) and isinstance(finding.effusion, bool)
    bad = requests.post(lab.url + "/v1/chat/completions", json={"messages": messages, "response_format": {"type": "xml"}}, timeout=60)
    assert bad.status_code == 400


def test_ask_and_batch_under_a_schema(tmp_path):
    schema = tmp_path / "fields.json"
    schema.write_text(json.dumps(SCHEMAS[0]))
    (tmp_path / "x.png").write_bytes(png(40, 40))
    ask = subprocess.run([medlab_bin(), "ask", "--demo", "--no-record", "--json", "--max-new-tokens", "120", "--schema", str(schema),
                          "--image", str(tmp_path / "x.png"), PROMPTS[0]], capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr
    report = json.loads(ask.stdout)
    jsonschema_rs.validate(SCHEMAS[0], report["json"])
    assert not report.get("reasoning")

    folder = tmp_path / "studies"
    folder.mkdir()
    for n in range(2):
        (folder / f"s{n}.png").write_bytes(png(32 + n * 8, 32, seed=n))
    out, csv = tmp_path / "rows.jsonl", tmp_path / "rows.csv"
    batch = subprocess.run([medlab_bin(), "batch", str(folder), "-q", PROMPTS[0], "-o", str(out), "--csv", str(csv),
                            "--demo", "--no-record", "--max-new-tokens", "120", "--schema", str(schema), "--concurrency", "2"],
                           capture_output=True, text=True, timeout=600)
    assert batch.returncode == 0, batch.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["error"] is None, row
        jsonschema_rs.validate(SCHEMAS[0], row["fields"])
    frame = pandas.read_csv(csv)
    assert list(frame.columns[-2:]) == ["effusion", "side"] and len(frame) == 2
    assert set(frame["side"]) <= {"left", "right", "none"}
    bad = subprocess.run([medlab_bin(), "batch", str(folder), "-q", "q", "-o", str(tmp_path / "x.jsonl"), *TINY,
                          "--schema-inline", '{"type": "object", "not": {}}'], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "`not`" in bad.stderr


def test_a_remote_llama_server_answers_under_the_schema_too():
    server = LlamaServer(special=False)  # llama-server's JSON parsing under a schema refuses the special tokens --special prints
    try:
        lab = start_lab([server])
        try:
            # The tiny random model writes numbers without end under schema 1 (its fraction is unbounded): bounded schemas only.
            for schema in (SCHEMAS[0], SCHEMAS[2]):
                answer = requests.post(lab.url + "/api/predict", json={"question": PROMPTS[0], "image": image(), "schema": schema,
                                                                       "max_new_tokens": 120}, timeout=300).json()
                assert answer["finish_reason"] == "stop", answer
                jsonschema_rs.validate(schema, answer["json"])
        finally:
            lab.stop()
    finally:
        server.kill()


def test_the_record_keeps_the_fields_and_the_schema(tmp_path):
    server = Server("--demo", "--record", str(tmp_path / "lab.sqlite"))
    try:
        answer = requests.post(server.url + "/api/predict", json={"question": PROMPTS[0], "schema": SCHEMAS[0], "max_new_tokens": 120},
                               timeout=300).json()
        entry = requests.get(f"{server.url}/api/analyses/{answer['analysis_id']}").json()
        assert entry["fields"] == answer["json"] and json.loads(entry["params"]["constraint"]) == SCHEMAS[0]
        plain = requests.post(server.url + "/api/predict", json={"question": "Hello", "max_new_tokens": 4}, timeout=300).json()
        assert requests.get(f"{server.url}/api/analyses/{plain['analysis_id']}").json()["fields"] is None
    finally:
        server.stop()
