"""The "Model view" toggle: the square the model receives in place of the preview, in real Chromium.

One lab here has no model at all, so the square is MedGemma's 896 px; the session's demo lab
shows its own projector's side (112 px), since that is what the demo model sees."""
from __future__ import annotations

import json
import urllib.request

import pytest

import sample_images as fixtures
from conftest import Page, own_lab

VIEWER_JS = """
    const done = arguments[arguments.length - 1];
    const args = Array.from(arguments).slice(0, -1);
    import(new URL('js/state.js', document.baseURI).href).then((m) => {
      const v = m.state.viewer;
      done((%s)(v, ...args));
    }, (e) => done('error: ' + e));
"""


def viewer(page, fn, *args):
    """Runs `fn(viewer, ...args)` against the page's own Viewer (the same module instance)."""
    return page.d.execute_async_script(VIEWER_JS % fn, *args)


def shown_size(page):
    return viewer(page, "(v) => [v.previewWidth, v.previewHeight]")


def pixel_at(page, x, y):
    """RGBA of the canvas where image pixel (x, y) of what is shown is drawn."""
    return viewer(page, """(v, x, y) => {
        const p = v.toScreen(x, y); const k = window.devicePixelRatio || 1;
        return Array.from(v.ctx.getImageData(Math.round(p.x * k), Math.round(p.y * k), 1, 1).data); }""", x, y)


def model_view_side(page):
    return page.js("return document.getElementById('viewer').dataset.side || ''")


@pytest.fixture(scope="module")
def bare_url():
    """A lab that found no model (`--no-demo`, empty model folders): the page still works."""
    yield from own_lab("--no-demo", wanted=("no_model",), no_models=True)


def test_model_view_shows_the_896_square_with_its_padding(browser, bare_url, tmp_path):
    page = Page(browser, bare_url, tmp_path, "model-view").open()
    page.upload(fixtures.chest_png(tmp_path / "chest.png", 320, 256))
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100, message="no preview")
    assert shown_size(page) == [320, 256]
    assert page.text("#model-view") == "Model view"
    page.record_requests()
    page.el("#model-view").click()
    page.wait(lambda d: model_view_side(page) == "896", message="the model view never came")
    assert shown_size(page) == [896, 896]
    assert page.el("#model-view").get_attribute("aria-pressed") == "true"
    assert any(b and b.get("model_input") is True for b in page.sent("api/render"))
    # 320 × 256 fills 896 × 717 of the square, 89.6 px of black padding above it (32 source rows;
    # outlined, and said to the nearest pixel).
    info = page.text("#model-view-info")
    assert "896×896" in info and "896×717" in info and "y 90" in info, info
    assert pixel_at(page, 448, 40) == [0, 0, 0, 255]  # padding: drawn, and black
    assert pixel_at(page, 448, 448)[0] > 150  # the bright mediastinum
    assert page.el('[data-tool="mark"]').get_attribute("disabled") is not None
    page.shot("en")
    # The label and the description in Chinese.
    page.el('[data-lang="zh"]').click()
    assert page.text("#model-view") == "模型视图"
    assert "模型输入 896×896" in page.text("#model-view-info")
    page.shot("zh")
    page.el('[data-lang="en"]').click()
    # Switching back shows the preview again.
    page.el("#model-view").click()
    page.wait(lambda d: shown_size(page) == [320, 256], message="the preview did not come back")
    assert not page.el("#model-view-info").is_displayed()
    assert page.el('[data-tool="mark"]').get_attribute("disabled") is None


def test_model_view_follows_window_and_frame(browser, bare_url, tmp_path):
    page = Page(browser, bare_url, tmp_path, "model-view-dicom").open()
    page.upload(fixtures.ct_dicom(tmp_path / "ct.dcm", width=160, height=96, frames=3))
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100, message="no DICOM preview")
    page.el("#model-view").click()
    page.wait(lambda d: model_view_side(page) == "896")
    assert "896×538" in page.text("#model-view-info")
    page.record_requests()
    before = page.canvas_signature()
    page.js("const s = document.getElementById('preset'); s.value = 'lung'; s.dispatchEvent(new Event('change'));")
    page.wait(lambda d: page.canvas_signature() != before, message="the lung window did not change the model view")
    assert any(b and b.get("model_input") and b.get("window") == "lung" for b in page.sent("api/render"))
    assert shown_size(page) == [896, 896]
    lung = page.canvas_signature()
    page.js("const s = document.getElementById('slice'); s.value = '2'; s.dispatchEvent(new Event('input'));")
    page.wait(lambda d: any(b and b.get("model_input") and b.get("frame") == 2 for b in page.sent("api/render")))
    page.wait(lambda d: page.canvas_signature() != lung, message="the frame did not change the model view")
    assert shown_size(page) == [896, 896]
    page.shot("lung-frame3")


def test_demo_model_view_is_its_projectors_square(page, lab_url, tmp_path):
    with urllib.request.urlopen(lab_url + "api/health", timeout=5) as r:
        side = json.loads(r.read())["model"]["image_size"]
    page.open()
    page.upload(fixtures.chest_png(tmp_path / "chest.png", 320, 256))
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100)
    page.el("#model-view").click()
    page.wait(lambda d: model_view_side(page) == str(side))
    assert shown_size(page) == [side, side]
    assert f"{side}×{side}" in page.text("#model-view-info")
