"""One analysis pipeline: the same image, question and prior report given through every entry
point (`medlab ask`, `medlab batch`, `/api/predict` as JSON and multipart, `/v1/chat/completions`)
must reach the in-process engine as the same prompt, byte for byte, with the same pixels.
`MEDLAB_PROMPT_LOG` makes the engine write what it tokenizes; the tiny real model runs."""
import base64
import json
import os
import subprocess

import pytest
import requests

from test_batch import TINY, png
from test_server_fixture import medlab_bin, prompt_logged_server

QUESTION = "Is there a pleural effusion?"
CONTEXT = "Prior report: small left effusion."
IMAGE = png(90, 60, seed=11)


def logged(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def via_ask(tmp_path, log, context):
    image = tmp_path / "study.png"
    image.write_bytes(IMAGE)
    args = [medlab_bin(), "ask", *TINY, "--image", str(image), "--max-new-tokens", "1", "--json", QUESTION]
    if context:
        args += ["--context", context]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, env=dict(os.environ, MEDLAB_PROMPT_LOG=str(log)))
    assert result.returncode == 0, result.stderr


def via_batch(tmp_path, log, context):
    folder = tmp_path / "studies"
    folder.mkdir(exist_ok=True)
    (folder / "study.png").write_bytes(IMAGE)
    args = [medlab_bin(), "batch", str(folder), *TINY, "-q", QUESTION, "--max-new-tokens", "1", "-o", str(tmp_path / "rows.jsonl"),
            "--no-resume"]
    if context:
        (tmp_path / "context.txt").write_text(context)
        args += ["--context-file", str(tmp_path / "context.txt")]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, env=dict(os.environ, MEDLAB_PROMPT_LOG=str(log)))
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    lab, log = prompt_logged_server(tmp_path_factory.mktemp("server"), *TINY)
    yield lab, log
    lab.stop()


def server_entries(lab, context):
    data_url = "data:image/png;base64," + base64.b64encode(IMAGE).decode()
    body = {"image": data_url, "question": QUESTION, "max_new_tokens": 1}
    fields = {"question": QUESTION, "max_new_tokens": "1"}
    if context:
        body["context"] = fields["context"] = context
    calls = {
        "predict-json": lambda: requests.post(lab.url + "/api/predict", json=body, timeout=120),
        "predict-multipart": lambda: requests.post(lab.url + "/api/predict", files={"image": ("study.png", IMAGE, "image/png")},
                                                   data=fields, timeout=120),
    }
    if not context:  # OpenAI messages have no context field
        calls["openai"] = lambda: requests.post(lab.url + "/v1/chat/completions", timeout=120, json={
            "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": data_url}}, {"type": "text", "text": QUESTION}]}]})
    return calls


@pytest.mark.parametrize("context", [None, CONTEXT])
def test_every_entry_point_builds_the_same_prompt(tmp_path, server, context):
    lab, server_log = server
    prompts = {}
    for name, run in (("ask", via_ask), ("batch", via_batch)):
        log = tmp_path / f"{name}.jsonl"
        run(tmp_path, log, context)
        entries = logged(log)
        assert len(entries) == 1, entries
        prompts[name] = entries[0]
    for name, call in server_entries(lab, context).items():
        before = len(logged(server_log)) if server_log.exists() else 0
        response = call()
        assert response.status_code == 200, (name, response.text)
        entries = logged(server_log)
        assert len(entries) == before + 1, name
        prompts[name] = entries[-1]
    reference = prompts["ask"]
    assert reference["prompt"].count("<image 0>") == 1 and len(reference["images"]) == 1
    assert QUESTION in reference["prompt"] and "You are an expert radiologist." in reference["prompt"]
    if context:
        assert "Prior report and clinical context:\n" + CONTEXT in reference["prompt"]
    for name, entry in prompts.items():
        assert entry == reference, f"{name} differs from ask:\n{entry}\n{reference}"
