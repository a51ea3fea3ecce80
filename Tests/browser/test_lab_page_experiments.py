"""The page's Compare and Regression views, in a real headless Chromium against a real
`medlab serve --demo --record PATH` with a fresh record file: a phrasings × images grid filled
cell by cell from the stream, its exports and its reopening; a regression set uploaded as a ZIP,
its verdicts, the pass-rate chart and a bad set's error; both views in Chinese; the tabs."""
from __future__ import annotations

import base64
import io
import json
import re
import urllib.request
import zipfile

import pytest
from selenium.webdriver.common.keys import Keys

import sample_images as fixtures
from conftest import Page
from test_lab_page_history import get, lab

PHRASINGS = ["Is there a pleural effusion?", "请判断是否存在胸腔积液"]
SET_NAME = "page-set"


@pytest.fixture(scope="module")
def exp_lab(tmp_path_factory):
    """A lab with a record file of this module's own (experiments are kept in the record)."""
    record = tmp_path_factory.mktemp("exp-record") / "lab.sqlite"
    with lab(tmp_path_factory, "experiments", "--record", str(record)) as (url, _):
        yield url


def set_yaml(expect_key="regex", name=SET_NAME):
    return (f"name: {name}\n"
            "params: {max_new_tokens: 3}\n"
            "cases:\n"
            "  - id: passes\n"
            "    images: [cxr/0001.png]\n"
            "    question: Is there a pleural effusion?\n"
            "    expect:\n"
            f"      {expect_key}: \"(?s).\"\n"
            "  - id: fails\n"
            "    images: [cxr/0002.png]\n"
            "    question: Any fluid?\n"
            "    expect:\n"
            "      contains_all: [zzzz]\n")


def set_zip(path, expect_key="regex", name=SET_NAME):
    """A ZIP with set.yaml at the top and its two images under cxr/."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("set.yaml", set_yaml(expect_key, name))
        zf.writestr("cxr/0001.png", fixtures.png_bytes(64, 48, lambda x, y: (x * 4 % 256, y * 5 % 256, 90)))
        zf.writestr("cxr/0002.png", fixtures.png_bytes(48, 64, lambda x, y: (200, x * 5 % 256, y * 4 % 256)))
    return path


def post(url, path, data, content_type):
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def view(page):
    return page.js("return document.body.dataset.view")


def open_view(page, name):
    page.el(f"#tab-{name}").click()
    page.wait(lambda d: view(page) == name and page.el(f"#view-{name}").is_displayed())


def cells(page):
    """(state, answer text) of the grid's cells, in index order (question × images + image)."""
    return page.js("""return [...document.querySelectorAll('#cmp-grid td.cmp-cell')]
        .sort((a, b) => a.dataset.index - b.dataset.index)
        .map(td => [td.dataset.state, (td.querySelector('.cell-answer') || {textContent: ''}).textContent,
                    (td.querySelector('.cell-error') || {textContent: ''}).textContent])""")


def header_thumbs_loaded(page):
    return page.js("""const imgs = [...document.querySelectorAll('#cmp-grid thead th.cmp-col img')];
        return imgs.length === document.querySelectorAll('#cmp-grid thead th.cmp-col').length
            && imgs.every(i => i.complete && i.naturalWidth > 0)""")


def test_compare_grid_fills_exports_and_reopens(browser, exp_lab, tmp_path):
    url = exp_lab
    prior = fixtures.chest_png(tmp_path / "prior.png", 96, 80)
    current = fixtures.chest_png(tmp_path / "current.png", 128, 96)
    page = Page(browser, url, tmp_path, "compare").open()
    page.console_errors()  # forget what earlier tests logged
    open_view(page, "compare")
    assert page.d.current_url.endswith("#compare")
    page.wait(lambda d: page.el("#cmp-saved-note").is_displayed(), message="no note on the empty saved list")

    page.el("#cmp-files").send_keys(f"{prior}\n{current}")
    page.wait(lambda d: len(page.els("#cmp-images li")) == 2)
    assert "prior.png" in page.text("#cmp-images") and "current.png" in page.text("#cmp-images")
    inputs = page.els("#cmp-questions input")
    assert len(inputs) == 2 and all(i.get_attribute("value") for i in inputs)  # prefilled from the examples
    for field, text in zip(inputs, PHRASINGS):
        field.clear()
        field.send_keys(text)
    tokens = page.el("#cmp-max-tokens")
    tokens.clear()
    tokens.send_keys("3")
    page.record_requests()
    watch = """window.__cellStates = [];
        new MutationObserver(() => window.__cellStates.push(
            [...document.querySelectorAll('#cmp-grid td.cmp-cell')].filter(td => td.dataset.state !== 'pending').length))
            .observe(document.getElementById('cmp-grid'), {subtree: true, childList: true, attributes: true});"""
    page.js(watch)
    page.el("#cmp-run").click()
    page.wait(lambda d: len(cells(page)) == 4, 30, "the grid did not appear")
    page.shot("running")
    page.wait(lambda d: all(s != "pending" for s, _, _ in cells(page)) and page.js(
        "return Boolean(document.getElementById('cmp-id'))"), 400, "the grid did not finish")
    final = cells(page)
    assert [s for s, _, _ in final] == ["done"] * 4, final
    assert all(a.strip() for _, a, _ in final), final
    # It filled cell by cell: some states had 1..3 cells done.
    assert any(0 < n < 4 for n in page.js("return window.__cellStates")), page.js("return window.__cellStates")
    body = page.sent("api/experiments/compare")[-1]
    assert body["stream"] is True and body["questions"] == PHRASINGS and body["max_new_tokens"] == 3
    assert [im["name"] for im in body["images"]] == ["prior.png", "current.png"]
    assert all(im["data"].startswith("data:image/png;base64,") for im in body["images"])
    # Rows are the phrasings, columns the images with their thumbnails.
    assert page.js("return [...document.querySelectorAll('#cmp-grid tbody th')].map(th => th.textContent)") == PHRASINGS
    assert page.js("return [...document.querySelectorAll('#cmp-grid thead figcaption')].map(f => f.textContent)") \
        == ["prior.png", "current.png"]
    page.wait(lambda d: header_thumbs_loaded(page), message="column thumbnails missing")

    experiment_id = page.text("#cmp-id")
    assert re.fullmatch(r"[0-9a-f]{32}", experiment_id), experiment_id
    for fmt in ("html", "csv", "json"):
        href = page.el(f"#cmp-export-{fmt}").get_attribute("href")
        assert href == f"{url}api/experiments/{experiment_id}?format={fmt}", href
        status, headers, _ = get(url, f"api/experiments/{experiment_id}?format={fmt}")
        assert status == 200, (fmt, status)
    status, _, raw = get(url, f"api/experiments/{experiment_id}")
    assert status == 200
    grid = json.loads(raw)
    assert len(grid["cells"]) == 4
    assert [c["answer"] for c in grid["cells"]] == [a for _, a, _ in final]
    page.wait(lambda d: page.els(f'#cmp-saved li[data-id="{experiment_id}"]'), message="not in the saved list")
    assert page.el(f'#cmp-saved li[data-id="{experiment_id}"]').get_attribute("class").count("active")
    page.shot("done")

    # A reload keeps the view (#compare); the saved grid reopens with the same answers.
    page.d.refresh()
    page.wait(lambda d: page.js("return document.body.dataset.ready === '1'"))
    assert view(page) == "compare" and page.d.current_url.endswith("#compare")
    assert page.el("#cmp-empty").is_displayed()
    page.wait(lambda d: page.els(f'#cmp-saved li[data-id="{experiment_id}"] button'))
    page.el(f'#cmp-saved li[data-id="{experiment_id}"] button').click()
    page.wait(lambda d: len(cells(page)) == 4 and page.js("return (document.getElementById('cmp-id') || {}).textContent")
              == experiment_id)
    assert cells(page) == final
    page.wait(lambda d: header_thumbs_loaded(page), message="no thumbnails from the record in a reopened grid")
    assert page.el("#cmp-export-csv").get_attribute("href").endswith(f"{experiment_id}?format=csv")
    page.shot("reopened")
    assert not page.console_errors()


def test_compare_errors_are_readable(browser, exp_lab, tmp_path):
    page = Page(browser, exp_lab, tmp_path, "compare-errors").open()
    page.d.get(exp_lab + "#compare")
    page.wait(lambda d: page.js("return document.body.dataset.ready === '1'") and view(page) == "compare")
    page.el("#cmp-run").click()
    page.wait(lambda d: page.el("#cmp-error").is_displayed())
    assert page.text("#cmp-error") == "Load an image first."
    # A cell the server cannot answer shows its error in the cell.
    fake = tmp_path / "fake.dcm"
    fake.write_bytes(b"\x00" * 140)
    page.el("#cmp-files").send_keys(str(fake))
    page.wait(lambda d: len(page.els("#cmp-images li")) == 1)
    for field in page.els("#cmp-questions input")[1:]:
        page.js("arguments[0].nextElementSibling.click()", field)
    assert len(page.els("#cmp-questions input")) == 1
    page.el("#cmp-add").click()
    assert len(page.els("#cmp-questions input")) == 2
    page.js("document.activeElement.nextElementSibling.click()")
    tokens = page.el("#cmp-max-tokens")
    tokens.clear()
    tokens.send_keys("2")
    page.el("#cmp-run").click()
    page.wait(lambda d: len(cells(page)) == 1 and cells(page)[0][0] == "error" and page.js(
        "return Boolean(document.getElementById('cmp-id'))"), 120)
    assert "fake.dcm" in cells(page)[0][2]
    assert not page.el("#cmp-error").is_displayed()
    page.shot("cell-error")


def test_regression_upload_chart_and_bad_set(browser, exp_lab, tmp_path):
    url = exp_lab
    good = set_zip(tmp_path / "page-set.zip")
    page = Page(browser, url, tmp_path, "regression").open()
    page.console_errors()
    open_view(page, "regression")
    assert page.d.current_url.endswith("#regression")
    page.wait(lambda d: page.el("#reg-charts-note").is_displayed() or page.els("#reg-charts figure"))

    page.el("#reg-file").send_keys(str(good))
    page.wait(lambda d: page.el("#reg-busy").is_displayed() or page.el("#reg-report").is_displayed())
    if page.el("#reg-busy").is_displayed():
        assert "page-set.zip" in page.text("#reg-busy")
        page.shot("running")
    page.wait(lambda d: page.el("#reg-report").is_displayed(), 400, "no report")
    assert not page.el("#reg-busy").is_displayed()
    assert "1/2" in page.text("#reg-rate") and "50%" in page.text("#reg-rate"), page.text("#reg-rate")
    assert "first run" in page.text("#reg-prev")
    assert page.text("#reg-title") == f"Set {SET_NAME}"
    verdicts = page.js("return [...document.querySelectorAll('#reg-cases tbody tr')].map(tr => "
                       "[tr.dataset.id, tr.querySelector('.verdict').textContent])")
    assert verdicts == [["passes", "✓"], ["fails", "✗"]]
    assert "zzzz" in page.text('#reg-cases tr[data-id="fails"] .case-failed')
    assert page.text('#reg-cases tr[data-id="passes"] .case-failed') == ""
    run1 = page.el("#reg-export-json").get_attribute("href").split("/")[-1].split("?")[0]
    report = json.loads(get(url, f"api/experiments/{run1}")[2])
    assert report["set"] == SET_NAME and report["passed"] == 1
    assert page.text('#reg-cases tr[data-id="passes"] .case-answer') == report["cases"][0]["answer"].strip()

    # Drill into a case: thumbnail, question, expectations, answer, previous verdict.
    page.el('#reg-cases tr[data-id="fails"] .case-open').click()
    page.wait(lambda d: page.el("#reg-detail").is_displayed())
    detail = page.text("#reg-detail")
    assert "Case fails" in detail and "Any fluid?" in detail and "contains_all" in detail and "zzzz" in detail
    assert "cxr/0002.png" in detail and "first run" in detail
    page.wait(lambda d: page.js("const i = document.querySelector('#reg-detail img'); return i && i.complete && i.naturalWidth > 0"),
              message="no thumbnail for the case")
    page.shot("case")
    page.wait(lambda d: len(page.els(f'#reg-charts figure[data-set="{SET_NAME}"] svg circle.point')) == 1)

    # Once more: the chart has two points of that set, the summary compares with the first run.
    page.el("#reg-file").send_keys(str(good))
    page.wait(lambda d: page.el("#reg-busy").is_displayed() or "previous" in page.text("#reg-prev"))
    page.wait(lambda d: not page.el("#reg-busy").is_displayed() and "previous run 50%" in page.text("#reg-prev"), 400)
    page.wait(lambda d: len(page.els(f'#reg-charts figure[data-set="{SET_NAME}"] svg circle.point')) == 2,
              message="the chart does not show two runs")
    points = page.js(f"""return [...document.querySelectorAll('#reg-charts figure[data-set="{SET_NAME}"] circle.point')]
        .map(c => [c.dataset.runId, c.dataset.model, Number(c.getAttribute('cy'))])""")
    runs = json.loads(get(url, f"api/regression-runs?set={SET_NAME}")[2])["runs"]
    assert [p[0] for p in points] == [r["id"] for r in reversed(runs)]  # oldest first
    assert points[0][0] == run1 and points[0][2] == points[1][2]  # same pass rate, same height
    assert points[0][1] == runs[0]["model_sha256"][:8]
    assert runs[0]["model_sha256"][:8] in page.text(f'#reg-charts figure[data-set="{SET_NAME}"] .chart-legend')
    page.shot("chart")
    # A click on the first run's point opens its report.
    page.js(f"""document.querySelector('#reg-charts circle.point[data-run-id="{run1}"]')
        .dispatchEvent(new MouseEvent('click', {{bubbles: true}}))""")
    page.wait(lambda d: page.el("#reg-export-json").get_attribute("href").endswith(f"{run1}?format=json"))
    assert "first run" in page.text("#reg-prev") and "1/2" in page.text("#reg-rate")

    assert not page.console_errors()

    # A bad set: the server's message names set.yaml and the line.
    bad = set_zip(tmp_path / "bad-set.zip", expect_key="regexp")
    page.el("#reg-file").send_keys(str(bad))
    page.wait(lambda d: page.el("#reg-error").is_displayed(), 120, "no error for a bad set")
    error = page.text("#reg-error")
    assert re.search(r"set\.yaml:\d+", error) and "regexp" in error and "bad-set.zip" in error, error
    page.shot("bad-set")
    # The browser logs the 400 itself; nothing else went wrong.
    assert [e for e in page.console_errors() if "api/regression-runs" not in e["message"]] == []


def test_experiment_views_in_chinese(browser, exp_lab, tmp_path):
    url = exp_lab
    # A grid and a run of this test's own, made through the API.
    png = base64.b64encode(fixtures.png_bytes(40, 32, lambda x, y: (x * 6 % 256, y * 7 % 256, 80))).decode()
    grid = post(url, "api/experiments/compare", json.dumps(
        {"images": [{"name": "zh.png", "data": png}], "questions": ["这张片子主要显示什么?"], "max_new_tokens": 2}).encode(),
        "application/json")
    buf = io.BytesIO()
    set_zip(buf, name="zh-set")
    run = post(url, "api/regression-runs", buf.getvalue(), "application/zip")

    page = Page(browser, url, tmp_path, "experiments-zh").open()
    page.el('[data-lang="zh"]').click()
    assert [t.text for t in page.els('[role="tab"]')] == ["提问", "对比", "回归测试"]
    open_view(page, "compare")
    assert page.text("#h-cmp-setup") == "对比问法 × 影像"
    assert page.text("#cmp-run") == "运行" and page.text("#cmp-add") == "+ 添加问法"
    assert page.text("#h-cmp-saved") == "已保存的表格" and page.text("#h-cmp-grid") == "结果表格"
    assert page.el("#cmp-questions input").get_attribute("aria-label") == "问法 1"
    assert "选择或拖入影像" in page.text("#cmp-drop")
    page.wait(lambda d: page.els(f'#cmp-saved li[data-id="{grid["experiment_id"]}"] button'))
    page.el(f'#cmp-saved li[data-id="{grid["experiment_id"]}"] button').click()
    page.wait(lambda d: page.els("#cmp-grid .cmp-corner"))
    assert page.text("#cmp-grid .cmp-corner") == "问法 ╲ 影像"
    assert "实验" in page.text("#cmp-meta") and "导出" in page.text("#cmp-exports")
    assert page.text("#cmp-grid .cell-time").endswith("秒")
    page.shot("compare")

    open_view(page, "regression")
    assert page.text("#h-reg") == "回归测试集" and page.text("#h-reg-history") == "通过率变化"
    assert "选择或拖入测试集 ZIP" in page.text("#reg-drop")
    page.wait(lambda d: page.els('#reg-charts figure[data-set="zh-set"] circle.point'))
    assert "次运行" in page.text('#reg-charts figure[data-set="zh-set"] figcaption')
    page.el(f'#reg-charts circle.point[data-run-id="{run["run_id"]}"]').send_keys(Keys.ENTER)
    page.wait(lambda d: page.el("#reg-report").is_displayed())
    assert page.text("#reg-rate") == "通过 1/2 · 50%"
    assert page.text("#reg-title") == "测试集 zh-set" and "此测试集的首次运行" in page.text("#reg-prev")
    assert [th.text for th in page.els("#reg-cases thead th")] == ["用例", "结果", "未满足的预期", "回答"]
    assert page.el('#reg-cases tr[data-id="passes"] .verdict').get_attribute("aria-label") == "通过"
    page.el('#reg-cases tr[data-id="passes"] .case-open').click()
    page.wait(lambda d: page.el("#reg-detail").is_displayed())
    assert "预期" in page.text("#reg-detail") and "上次运行" in page.text("#reg-detail")
    page.shot("regression")
    # Switching back updates what is on screen.
    page.el('[data-lang="en"]').click()
    assert page.text("#reg-rate") == "1/2 passed · 50%" and page.text("#h-reg") == "Regression set"
    assert "Expectations" in page.text("#reg-detail")
    assert page.text("#tab-compare") == "Compare"


def test_view_tabs_keyboard_hash_and_back(browser, exp_lab, tmp_path):
    page = Page(browser, exp_lab, tmp_path, "views").open()
    assert view(page) == "ask" and page.el("#view-ask").is_displayed()
    assert not page.el("#view-compare").is_displayed() and not page.el("#view-regression").is_displayed()
    tabs = page.js("return [...document.querySelectorAll('[role=tab]')].map(t => [t.id, t.tabIndex, t.getAttribute('aria-selected')])")
    assert tabs == [["tab-ask", 0, "true"], ["tab-compare", -1, "false"], ["tab-regression", -1, "false"]]
    page.el("#tab-ask").send_keys(Keys.ARROW_RIGHT)
    page.wait(lambda d: view(page) == "compare")
    assert page.js("return document.activeElement.id") == "tab-compare"
    assert page.d.current_url.endswith("#compare")
    page.d.switch_to.active_element.send_keys(Keys.END)
    page.wait(lambda d: view(page) == "regression" and page.d.current_url.endswith("#regression"))
    page.d.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)  # wraps round to Ask
    page.wait(lambda d: view(page) == "ask")
    assert "#" not in page.d.current_url
    # Tab from the selected tab goes into the view.
    page.el("#tab-regression").click()
    page.d.switch_to.active_element.send_keys(Keys.TAB)
    assert page.js("return document.activeElement.id") == "reg-drop"
    # Back returns to the view before; a hash typed in the address opens its view.
    page.d.back()
    page.wait(lambda d: view(page) == "ask")
    page.d.get(exp_lab + "#regression")
    page.wait(lambda d: page.js("return document.body.dataset.ready === '1'") and view(page) == "regression")
    assert page.el("#view-regression").is_displayed() and not page.el("#view-ask").is_displayed()
    # Nothing wider than the window at 1366×768 in any view.
    for name in ("compare", "regression", "ask"):
        open_view(page, name)
        assert page.js("return document.documentElement.scrollWidth <= innerWidth"), name
