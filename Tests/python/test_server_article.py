"""The article's API, driven the way its own client and batch script drive it (section 4)."""
import base64
import json
import time

import requests

from test_server_fixture import data_url, lab, png_bytes  # noqa: F401  (lab is a fixture)


def test_health_reports_the_demo_model(lab):
    body = requests.get(lab.url + "/api/health", timeout=5).json()
    assert body["status"] == "ok"
    assert body["model"]["demo"] is True
    assert "demo model" in body["message"]
    assert body["backend"] == "cpu"
    assert body["queue"]["max_waiting"] == 1


def test_article_client_request_gets_an_answer(lab):
    # The client: a 512×512 RGB PNG as a data URL, a Chinese question, max_new_tokens 384, 120 s timeout.
    payload = {"image": data_url(512, 512), "question": "请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常",
               "max_new_tokens": 384}
    response = requests.post(lab.url + "/api/predict", json=payload, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert isinstance(result.get("answer"), str)
    assert 1 <= result["usage"]["completion_tokens"] <= 384
    assert result["usage"]["image_tokens"] == 4
    assert result["demo"] is True and "not for diagnosis" in result["disclaimer"]


def test_batch_script_requests_without_max_new_tokens(lab):
    # The batch script: same image for several questions, no max_new_tokens, reads .get("answer").
    image = data_url(512, 512)
    rows = []
    for question in ["请判断是否存在肺实变", "请描述支气管充气征是否明显"]:
        start = time.time()
        response = requests.post(lab.url + "/api/predict", json={"image": image, "question": question}, timeout=120)
        rows.append({"question": question, "answer": response.json().get("answer", ""),
                     "inference_time_sec": round(time.time() - start, 2), "status": response.status_code})
    assert all(row["status"] == 200 for row in rows), rows
    assert all(isinstance(row["answer"], str) for row in rows)
    json.dumps(rows, ensure_ascii=False)  # the script writes them as JSONL


def test_bare_base64_and_the_real_text_model(lab):
    bare = base64.b64encode(png_bytes(64, 48)).decode()
    response = requests.post(lab.url + "/api/predict", json={"image": bare, "question": "What is shown?", "max_new_tokens": 8},
                             timeout=60)
    assert response.status_code == 200
    text = requests.post(lab.url + "/api/predict", json={"question": "The heart has four chambers. Name them.",
                                                         "max_new_tokens": 24, "system": ""}, timeout=60).json()
    assert any(ch.isalpha() for ch in text["answer"]), text


def test_streamed_answer_is_server_sent_events(lab):
    payload = {"image": data_url(128, 96), "question": "Describe the image.", "max_new_tokens": 16, "stream": True}
    with requests.post(lab.url + "/api/predict", json=payload, stream=True, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    final = events[-1]
    assert final["done"] is True
    deltas = "".join(event.get("delta", "") for event in events[:-1])
    assert deltas.strip() == final["answer"]
    assert final["usage"]["completion_tokens"] >= 1


def test_multipart_upload(lab):
    files = {"image": ("chest.png", png_bytes(100, 80), "image/png")}
    data = {"question": "What is shown?", "max_new_tokens": "6"}
    response = requests.post(lab.url + "/api/predict", files=files, data=data, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["image_tokens"] == 4


def test_errors_use_one_shape(lab):
    def error(response):
        body = response.json()
        assert set(body["error"]) >= {"code", "message", "type"}
        return response.status_code, body["error"]["code"]

    url = lab.url + "/api/predict"
    assert error(requests.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=10)) == (400, "invalid_json")
    assert error(requests.post(url, json={"image": "%%%", "question": "q"}, timeout=10)) == (400, "invalid_base64")
    assert error(requests.post(url, json={"image": data_url(8, 8), "question": ""}, timeout=10)) == (400, "empty_question")
    not_image = base64.b64encode(b"GIF89a" + bytes(100)).decode()
    assert error(requests.post(url, json={"image": not_image, "question": "q"}, timeout=10)) == (415, "unsupported_media_type")
    assert error(requests.post(url, json={"question": "a " * 9000, "max_new_tokens": 2}, timeout=60)) == (400, "context_overflow")


def test_render_preview(lab):
    response = requests.post(lab.url + "/api/render", json={"image": data_url(64, 32)}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert (body["width"], body["height"]) == (64, 32)
    assert base64.b64decode(body["image"].split(",", 1)[1])[:4] == b"\x89PNG"


def test_logs_hold_no_request_data(lab):
    secret_question = "Patient John Q Public, MRN 12345: is there a nodule?"
    image = data_url(32, 32)
    requests.post(lab.url + "/api/predict", json={"image": image, "question": secret_question, "max_new_tokens": 2}, timeout=30)
    log = lab.log()
    assert '"msg":"request"' in log  # structured: one JSON object per request
    for line in log.splitlines():
        if line.startswith("{"):
            json.loads(line)
    assert "John Q Public" not in log and "12345" not in log
    assert image[30:80] not in log
