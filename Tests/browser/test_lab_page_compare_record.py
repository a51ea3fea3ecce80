"""The Compare view's "From the record" picker (issue #14), in a real headless Chromium against a
real `medlab serve --demo`: with `--record-images model-input` it lists a recorded image with
its thumbnail, adding it puts it among the picked images and running fills its grid column from
the record's copy (sent as `record_image`); with the default `thumbnail` it explains, in English
and Chinese, how to keep copies."""
from __future__ import annotations

import base64
import json

import pytest

import sample_images as fixtures
from conftest import Page
from test_lab_page_experiments import cells, header_thumbs_loaded, open_view, post
from test_lab_page_history import get, lab


@pytest.fixture(scope="module")
def kept_lab(tmp_path_factory):
    record = tmp_path_factory.mktemp("cmp-record") / "lab.sqlite"
    with lab(tmp_path_factory, "cmp-record", "--record", str(record), "--record-images", "model-input") as (url, _):
        yield url


@pytest.fixture(scope="module")
def thumbnail_lab(tmp_path_factory):
    record = tmp_path_factory.mktemp("cmp-thumb") / "lab.sqlite"
    with lab(tmp_path_factory, "cmp-thumb", "--record", str(record)) as (url, _):
        yield url


def open_picker(page):
    open_view(page, "compare")
    page.el("#cmp-record summary").click()
    page.wait(lambda d: page.js("return document.getElementById('cmp-record').open"))


def test_a_recorded_image_is_listed_added_and_fills_its_column(browser, kept_lab, tmp_path):
    url = kept_lab
    data = fixtures.png_bytes(96, 72, lambda x, y: (x * 3 % 256, y * 4 % 256, 120))
    answer = post(url, "api/predict", json.dumps(
        {"image": base64.b64encode(data).decode(), "question": "What is shown?", "max_new_tokens": 2}).encode(),
        "application/json")
    status, _, body = get(url, f"api/analyses/{answer['analysis_id']}")
    assert status == 200
    copy = json.loads(body)["images"][0]["model_input"]

    page = Page(browser, url, tmp_path, "compare-record").open()
    open_picker(page)
    item = f'#cmp-record-list li[data-record="{copy}"]'
    page.wait(lambda d: page.els(item), message="the recorded image is not listed")
    page.wait(lambda d: page.js(f"const i = document.querySelector('{item} img'); return i && i.complete && i.naturalWidth > 0"),
              message="the recorded image's thumbnail did not load")
    assert page.el("#cmp-record-note").is_displayed() is False

    page.el(f"{item} button").click()
    page.wait(lambda d: page.els(f'#cmp-images li[data-record="{copy}"]'))
    assert page.el(f"{item} button").get_attribute("disabled") is not None and page.text(f"{item} button") == "Added"
    name = page.text(f'#cmp-images li[data-record="{copy}"] .cmp-image-name')
    assert name.startswith("1. Record ")

    inputs = page.els("#cmp-questions input")
    inputs[1].find_element("xpath", "..").find_element("css selector", "button").click()  # one phrasing
    page.wait(lambda d: len(page.els("#cmp-questions input")) == 1)
    tokens = page.el("#cmp-max-tokens")
    tokens.clear()
    tokens.send_keys("3")
    page.record_requests()
    page.el("#cmp-run").click()
    page.wait(lambda d: [c[0] for c in cells(page)] == ["done"], timeout=300, message="the grid did not fill")
    assert cells(page)[0][1]  # an answer
    assert page.text("#cmp-grid thead th.cmp-col figcaption") == name[len("1. "):]
    page.wait(lambda d: header_thumbs_loaded(page), message="the column has no picture")
    sent = page.sent("api/experiments/compare")
    assert sent and sent[-1]["images"] == [{"name": name[len("1. "):], "record_image": copy}]


def test_without_kept_copies_the_picker_explains_how_in_both_languages(browser, thumbnail_lab, tmp_path):
    url = thumbnail_lab
    post(url, "api/predict", json.dumps(
        {"image": base64.b64encode(fixtures.png_bytes(32, 32, lambda x, y: (x, y, 0))).decode(),
         "question": "Kept as a thumbnail only", "max_new_tokens": 2}).encode(), "application/json")
    page = Page(browser, url, tmp_path, "compare-record-none").open()
    open_picker(page)
    page.wait(lambda d: page.el("#cmp-record-note").is_displayed(), message="no hint when nothing is kept")
    assert "--record-images model-input" in page.text("#cmp-record-note")
    assert page.els("#cmp-record-list li") == []
    page.el('[data-lang="zh"]').click()
    page.wait(lambda d: "影像副本" in page.text("#cmp-record-note"))
    assert "--record-images model-input" in page.text("#cmp-record-note")
    assert page.text("#cmp-record summary") == "从记录中选取"
    page.el('[data-lang="en"]').click()
