"""The History panel backed by the server's lab record (`/api/analyses`), in a real headless
Chromium against a real `medlab serve --demo --record PATH` with a fresh record file."""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, Page, free_port, wait_for_health
from test_lab_page import answer_state, set_max_tokens

QUESTION = "Is there a pneumothorax on this chest film?"


@contextlib.contextmanager
def lab(tmp_path_factory, name, *args):
    """`medlab serve --demo ARGS` on a free port, its record (when on) in a fresh folder."""
    binary = os.environ.get("MEDLAB_BIN")
    if not binary or not os.path.exists(binary):
        pytest.fail("MEDLAB_BIN is not set to a built `medlab`")
    folder = tmp_path_factory.mktemp(name)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = folder / "serve.log"
    cmd = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--demo", *args]
    env = {**os.environ, "XDG_DATA_HOME": str(folder / "data")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        try:
            wait_for_health(url, proc)
        except Exception:
            raise RuntimeError(f"{' '.join(cmd)} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        yield url, folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def record_lab(tmp_path_factory):
    """A lab with a fresh record file of this module's own."""
    record = tmp_path_factory.mktemp("record-file") / "lab.sqlite"
    with lab(tmp_path_factory, "record", "--record", str(record)) as (url, _):
        yield url, record


def get(url, path):
    """(status, headers, body bytes) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url + path, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def history_ids(page):
    return page.js("return [...document.querySelectorAll('#history-list li')].map(li => li.dataset.id)")


def item_js(analysis_id, expr):
    return f"const li = document.querySelector('#history-list li[data-id=\"{analysis_id}\"]'); return {expr};"


def search(page, text):
    box = page.el("#history-search")
    box.clear()
    if text:
        box.send_keys(text)
    else:  # clear() sends no input event
        page.js("document.getElementById('history-search').dispatchEvent(new Event('input'))")


def thumbnail_loaded(page, analysis_id):
    return page.js(item_js(analysis_id, "Boolean(li && li.querySelector('img') && li.querySelector('img').complete"
                                        " && li.querySelector('img').naturalWidth > 0)"))


def test_history_is_the_record(browser, record_lab, images, tmp_path):
    url, record_file = record_lab
    health = json.loads(get(url, "api/health")[2])
    assert health["record"]["status"] in ("ok", "degraded"), health.get("record")
    page = Page(browser, url, tmp_path, "history").open()
    page.console_errors()  # forget what earlier tests logged

    # Ask about an image on the page: the analysis appears on top, with its thumbnail.
    page.wait(lambda d: page.js("return !document.getElementById('history-empty').hidden"), message="no empty note")
    page.upload(images.png)
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    page.record_requests()
    set_max_tokens(page, 8)
    page.el("#question").send_keys(QUESTION)
    page.el("#ask").click()
    page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)
    assert answer_state(page) == "stateDone", page.text("#error")
    page.wait(lambda d: history_ids(page), message="the new analysis did not appear in the history")
    analysis_id = history_ids(page)[0]
    assert re.fullmatch(r"[0-9a-f]{32}", analysis_id), analysis_id
    assert page.js(item_js(analysis_id, "li.querySelector('.history-q').textContent")) == QUESTION
    page.wait(lambda d: thumbnail_loaded(page, analysis_id), message="no thumbnail in the history item")
    page.shot("asked")
    # The record says the page asked it (the page sends X-MedLab-Client: page).
    status, _, body = get(url, f"api/analyses/{analysis_id}")
    assert status == 200
    analysis = json.loads(body)
    assert analysis["source"] == "page" and analysis["question"] == QUESTION and analysis["status"] == "ok"
    assert "this page" in page.js(item_js(analysis_id, "li.querySelector('.history-time').textContent"))
    status, headers, png = get(url, f"api/analyses/{analysis_id}/thumbnail.png")
    assert status == 200 and headers["Content-Type"].startswith("image/png") and png.startswith(b"\x89PNG")
    assert record_file.exists(), "the record is not the file given with --record"

    # A reload (storage cleared) lists it again, from the server.
    page.open()
    page.wait(lambda d: analysis_id in history_ids(page), message="the analysis is gone after a reload")
    page.wait(lambda d: thumbnail_loaded(page, analysis_id))

    # Search: a word of the question finds it, a word found nowhere hides it.
    search(page, "pneumothorax")
    page.wait(lambda d: "q=pneumothorax" in (page.el("#export-jsonl").get_attribute("href") or ""))
    page.wait(lambda d: history_ids(page) == [analysis_id])
    search(page, "xylophonequartz")
    page.wait(lambda d: history_ids(page) == [] and page.el("#history-empty").is_displayed())
    assert "xylophonequartz" in page.text("#history-empty")
    assert "q=xylophonequartz" in page.el("#export-csv").get_attribute("href")
    page.shot("no-match")
    # The export links download the record with the same search.
    status, headers, body = get(url, page.el("#export-jsonl").get_attribute("href").removeprefix(url))
    assert status == 200 and "attachment" in headers.get("Content-Disposition", "") and not body.strip()
    status, headers, body = get(url, "api/analyses/export?" + urllib.parse.urlencode({"format": "jsonl", "q": "pneumothorax"}))
    assert status == 200 and [json.loads(line)["id"] for line in body.decode().splitlines() if line.strip()] == [analysis_id]
    search(page, "")
    page.wait(lambda d: history_ids(page) == [analysis_id])

    # One click reopens it: the answer, the model and its checksum, the parameters.
    page.js(item_js(analysis_id, "li.querySelector('.history-item').click()"))
    page.wait(lambda d: page.el("#record-box").is_displayed())
    assert page.el("#question").get_attribute("value") == QUESTION
    assert page.text("#answer").strip(), "the reopened analysis shows no answer"
    assert answer_state(page) == "stateDone"
    model = analysis["model"]["name"] or analysis["model"]["file"]
    info = page.text("#record-info")
    assert model and model in info, (model, info)
    checksum = page.js("return document.querySelector('#record-info [data-key=recChecksum]').textContent")
    assert checksum.startswith(analysis["model"]["sha256"][:16]) if analysis["model"]["sha256"] else "computing" in checksum
    assert "max_new_tokens 8" in info
    page.wait(lambda d: page.js("const i = document.getElementById('record-thumb'); return i.complete && i.naturalWidth > 0"))
    page.shot("reopened")

    # The panel in Chinese.
    page.el('[data-lang="zh"]').click()
    assert page.text("#h-history") == "历史记录"
    assert page.el("#history-search").get_attribute("placeholder") == "搜索问题和回答"
    assert page.text("#refresh-history") == "刷新" and "导出" in page.text("#history-tools")
    assert "本页面" in page.js(item_js(analysis_id, "li.querySelector('.history-time').textContent"))
    assert page.js(item_js(analysis_id, "li.querySelector('.history-delete').getAttribute('aria-label')")) == "从记录中删除此分析"
    assert "模型" in page.text("#record-info")
    search(page, "xylophonequartz")
    page.wait(lambda d: page.el("#history-empty").is_displayed() and "没有与" in page.text("#history-empty"))
    page.shot("zh")
    search(page, "")
    page.wait(lambda d: history_ids(page) == [analysis_id])
    page.el('[data-lang="en"]').click()

    # Delete asks once more, then the analysis leaves the list and the record.
    page.js(item_js(analysis_id, "li.querySelector('.history-delete').click()"))
    assert page.js(item_js(analysis_id, "li.querySelector('.history-delete').textContent")) == "Delete?"
    page.js(item_js(analysis_id, "li.querySelector('.history-delete').click()"))
    page.wait(lambda d: history_ids(page) == [], message="the deleted analysis stays in the list")
    status, _, body = get(url, f"api/analyses/{analysis_id}")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    page.open()
    page.wait(lambda d: page.el("#history-empty").is_displayed())
    assert history_ids(page) == []
    assert not page.console_errors()


def test_box_placement_on_thumbnails(browser, record_lab, tmp_path):
    """Boxes land where they belong on a thumbnail: original pixels scaled, or box_2d through the letterbox."""
    page = Page(browser, record_lab[0], tmp_path, "history-boxes").open()
    rects = page.d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('./js/record.js').then(({ boxRect }) => {
            const image = { width: 320, height: 256, letterbox: { side: 896, content_width: 896, content_height: 717, offset_x: 0, offset_y: 89.5 } };
            const box = { box_2d: [500, 250, 750, 500], pixels: { x0: 80, y0: 128, x1: 160, y1: 192 } };
            done([boxRect(box, image, 160, 128), boxRect({ box_2d: box.box_2d }, image, 160, 128),
                  boxRect({ box_2d: box.box_2d }, { width: 320, height: 256 }, 160, 128),
                  boxRect({ box_2d: [0, 0, 1000, 1000] }, image, 256, 256),
                  boxRect({ pixels: { x0: 0, y0: 0, x1: 320, y1: 256 } }, image, 256, 256)]);
        }).catch((e) => done(String(e)));
    """)
    scaled, letterboxed, centred, square, square_pixels = rects
    assert scaled == {"x0": 40, "y0": 64, "x1": 80, "y1": 96}
    for got in (letterboxed, centred):
        assert abs(got["x0"] - 40) < 1 and abs(got["x1"] - 80) < 1, got
        assert abs(got["y0"] - (448 - 89.5) / 717 * 128) < 1 and abs(got["y1"] - (672 - 89.5) / 717 * 128) < 1, got
    assert square == {"x0": 0, "y0": 0, "x1": 256, "y1": 256}  # the thumbnail is the padded square
    assert abs(square_pixels["y0"] - 89.5 / 896 * 256) < 1 and abs(square_pixels["y1"] - (89.5 + 717) / 896 * 256) < 1
    assert abs(square_pixels["x0"]) < 1 and abs(square_pixels["x1"] - 256) < 1


def test_record_off_falls_back_quietly(browser, images, tmp_path_factory, tmp_path):
    with lab(tmp_path_factory, "no-record", "--no-record") as (url, _):
        assert json.loads(get(url, "api/health")[2])["record"]["status"] == "off"
        page = Page(browser, url, tmp_path, "history-off").open()
        page.console_errors()
        page.wait(lambda d: page.el("#history-empty").is_displayed() and "off" in page.text("#history-empty"))
        assert not page.el("#history-tools").is_displayed()
        page.upload(images.png)
        page.wait(lambda d: page.canvas_signature()[1] > 100)
        set_max_tokens(page, 4)
        page.el("#question").send_keys("What is this?")
        page.el("#ask").click()
        page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)
        assert answer_state(page) == "stateDone", page.text("#error")
        assert history_ids(page) == [] and "off" in page.text("#history-empty")
        assert not page.el("#error").is_displayed()
        page.el('[data-lang="zh"]').click()
        assert "未开启实验记录" in page.text("#history-empty")
        page.el('[data-lang="en"]').click()
        page.shot("off")
        assert not page.console_errors()
