"""Image questions through `medlab serve --backend` (issue: every image was refused with 422
`vision_unavailable` because a remote engine never said it could see). Real llama-server
processes with and without the tiny projector; images, two-image comparisons, region marks and
a small CT volume through both APIs, including a backend killed mid-way."""
import base64
import json

import pytest
import requests

from test_batch import png
from test_scaleout import BACKEND_FLAGS, LlamaServer, backend_status, backends, start_lab, wait_state  # noqa: F401
from test_server_volume import series

# Without --backend-image-size nothing is configured: vision must come from the servers themselves.
UNCONFIGURED = ["--backend-slots", "2", "--backend-tokens-per-image", "4"]


def data_url(width, height, seed):
    return "data:image/png;base64," + base64.b64encode(png(width, height, seed=seed)).decode()


def predict(lab, **body):
    body.setdefault("question", "Describe the findings.")
    body.setdefault("max_new_tokens", 6)
    return requests.post(lab.url + "/api/predict", json=body, timeout=120)


def chat_with_image(lab, stream=False):
    response = requests.post(lab.url + "/v1/chat/completions", stream=stream, timeout=120, json={
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(64, 48, 3)}},
            {"type": "text", "text": "What is shown?"}]}],
        "max_tokens": 6, "stream": stream})
    return response


def assert_answered(response, images):
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert usage["image_tokens"] == 4 * images and usage["completion_tokens"] > 0, usage
    return usage


def streamed_text(response):
    assert response.status_code == 200, response.text
    events = [line[6:].decode() for line in response.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert not [c for c in chunks if "error" in c], chunks
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_the_servers_say_they_see_images(backends):
    lab = start_lab(backends, flags=UNCONFIGURED)
    try:
        health = lab.health()
        assert health["model"]["vision"] is True
        assert [b["vision"] for b in health["backends"]] == [True, True]
        assert_answered(predict(lab, image=data_url(80, 60, 1)), images=1)
    finally:
        lab.stop()


def test_image_questions_through_both_apis(backends):
    lab = start_lab(backends)
    try:
        before = [b.predicted_tokens() for b in backends]
        text_only = predict(lab, question="Compare the prior and the current study.")
        assert text_only.status_code == 200, text_only.text
        one = assert_answered(predict(lab, image=data_url(80, 60, 1), question="Compare the prior and the current study."), images=1)
        two = assert_answered(predict(lab, images=[data_url(80, 60, 1), data_url(60, 80, 2)],
                                      question="Compare the prior and the current study."), images=2)
        # The server's own prompt count grows by each image's tokens (4) and its two markers, beyond
        # the system text images add: it really received and encoded the images.
        base = text_only.json()["usage"]["prompt_tokens"]
        assert one["prompt_tokens"] >= base + 6 and two["prompt_tokens"] >= one["prompt_tokens"] + 6, (base, one, two)
        marked = predict(lab, image=data_url(80, 60, 1), region={"rect": [10, 10, 40, 30]},
                         question="What is in the marked region?")
        assert_answered(marked, images=1)
        volume = predict(lab, images=series(3), volume=True, question="Is there a mass?")
        assert_answered(volume, images=3)
        assert volume.json()["volume"]["slice_numbers"] == [1, 2, 3]
        answer = chat_with_image(lab)
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["completion_tokens"] > 0
        assert streamed_text(chat_with_image(lab, stream=True))
        assert sum(backend_status(lab, b)["requests"] for b in backends) == 7
        assert all(b.predicted_tokens() > start for b, start in zip(backends, before))
    finally:
        lab.stop()


def test_image_questions_survive_a_killed_backend(backends):
    victim, survivor = backends
    lab = start_lab(backends, "--health-interval", "0.5")
    try:
        assert_answered(predict(lab, image=data_url(80, 60, 1)), images=1)
        victim.kill()
        # Each image question is answered: by the survivor, or retried there when it reached the victim first.
        for seed in range(4):
            assert_answered(predict(lab, image=data_url(70, 50, seed)), images=1)
        wait_state(lab, victim, "down")
        assert_answered(predict(lab, images=series(2), volume=True), images=2)
        assert streamed_text(chat_with_image(lab, stream=True))
        victim.start()
        wait_state(lab, victim, "up")
        taken = backend_status(lab, victim)["requests"]
        for seed in range(4):
            assert_answered(predict(lab, image=data_url(70, 50, seed)), images=1)
        assert backend_status(lab, victim)["requests"] >= taken + 1
    finally:
        lab.stop()
        if victim.process.poll() is not None:
            victim.start()


@pytest.fixture(scope="module")
def blind():
    server = LlamaServer(vision=False)
    yield server
    server.kill()


def test_a_backend_without_vision_refuses_only_images(blind):
    # --backend-image-size says "vision", but the server's own word wins.
    for flags in (UNCONFIGURED, BACKEND_FLAGS):
        lab = start_lab([blind], flags=flags)
        try:
            assert lab.health()["backends"][0]["vision"] is False
            for response in (predict(lab, image=data_url(80, 60, 1)), predict(lab, images=series(2), volume=True),
                             chat_with_image(lab)):
                assert response.status_code == 422, response.text
                error = response.json()["error"]
                assert error["code"] == "vision_unavailable" and blind.url in error["message"], error
            # Text still works, and nothing was sent to the server for the refused images.
            text = predict(lab, question="The capital of France is")
            assert text.status_code == 200, text.text
            assert backend_status(lab, blind)["requests"] == 1
        finally:
            lab.stop()


def test_a_mixed_pool_sends_images_only_where_they_are_seen(backends, blind):
    seeing = backends[0]
    lab = start_lab([seeing, blind], flags=UNCONFIGURED)
    try:
        assert [b["vision"] for b in lab.health()["backends"]] == [True, False]
        for seed in range(4):
            assert_answered(predict(lab, image=data_url(70, 50, seed)), images=1)
        assert backend_status(lab, seeing)["requests"] == 4 and backend_status(lab, blind)["requests"] == 0
        # Text questions still use both.
        for _ in range(4):
            assert predict(lab, question="The capital of France is").status_code == 200
        assert backend_status(lab, blind)["requests"] >= 1
    finally:
        lab.stop()
