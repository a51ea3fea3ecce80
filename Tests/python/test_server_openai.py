"""The OpenAI-compatible API, driven by the official `openai` Python client."""
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests

from test_batch import TINY
from test_server_fixture import Server, data_url, lab  # noqa: F401


@pytest.fixture(scope="module")
def client(lab):
    return openai.OpenAI(base_url=lab.url + "/v1", api_key="unused-on-loopback", max_retries=0, timeout=120)


def image_message(text="What does this image show?"):
    return {"role": "user", "content": [{"type": "text", "text": text},
                                        {"type": "image_url", "image_url": {"url": data_url(96, 96)}}]}


def test_models(client):
    models = client.models.list()
    assert [model.id for model in models.data] == ["gemma-3-270m-q4_k_m.gguf"]


def test_completion_with_an_image(client):
    completion = client.chat.completions.create(
        model="medgemma", max_tokens=12,
        messages=[{"role": "system", "content": "You are an expert radiologist."}, image_message()])
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens >= 1
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_completion(client):
    stream = client.chat.completions.create(
        model="medgemma", max_tokens=16, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Name the four chambers of the heart."}])
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert any(ch.isalpha() for ch in text)
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].usage.completion_tokens >= 1


def test_remote_image_urls_are_refused(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="medgemma", messages=[{"role": "user", "content": [
            {"type": "text", "text": "?"}, {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}}]}])
    assert "data: URL" in str(caught.value)


def test_stream_ends_with_done(lab):
    response = requests.post(lab.url + "/v1/chat/completions", stream=True, timeout=60, json={
        "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4, "stream": True})
    lines = [line for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"


def test_questions_about_one_image_share_its_prefill():
    # Three questions about one image at once (a batch's three, a follow-up): the second and third
    # copy `[system + image]` from a running sequence, say so in OpenAI's `cached_tokens`, and
    # answer exactly as they do alone.
    server = Server(*TINY, "--parallel", "3", "--queue", "8")
    try:
        image = data_url(128, 96)

        def ask(question):
            body = {"max_tokens": 24, "ignore_eos": True, "temperature": 0, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": question}]}]}
            response = requests.post(server.url + "/v1/chat/completions", json=body, timeout=300)
            assert response.status_code == 200, response.text
            return response.json()

        questions = ["What is shown?", "Is there an effusion?", "Describe the mediastinum."]
        alone = [ask(q) for q in questions]
        with ThreadPoolExecutor(3) as pool:
            together = list(pool.map(ask, questions))
        assert [a["choices"][0]["message"]["content"] for a in together] == [a["choices"][0]["message"]["content"] for a in alone]
        cached = [a["usage"]["prompt_tokens_details"]["cached_tokens"] for a in together]
        assert any(c > 0 for c in cached), cached
        assert all(c < a["usage"]["prompt_tokens"] for c, a in zip(cached, together))
    finally:
        server.stop()
