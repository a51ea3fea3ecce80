"""Studies on the lab page (#18), in real Chromium against `medlab serve`: a ZIP of five synthetic
CT slices and a scout is uploaded once; its series are listed (the scout marked); the wheel and
the keys move through the slices and the window; the `?` list speaks both languages; length,
rectangle ROI and probe read the server's numbers; a question about the series is a `study`
reference; and nothing after the upload sends the files again."""
from __future__ import annotations

import json
import sys
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from conftest import Page, own_lab  # noqa: E402
from ct_dicom import ct_dataset, dicom_bytes, enhanced_ct  # noqa: E402

SIDE = 64
SLICES = 5
SPACING = 0.5  # mm per pixel, both ways


def hu(k: int) -> np.ndarray:
    """Slice k's values in HU: a gradient and a bright block that moves down slice by slice (so every
    render differs, whatever the window)."""
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    values = ((x * 7 + y * 3) % 200 - 100 + 150 * k).astype(np.int16)
    values[k * 10:k * 10 + 8, 40:48] = 1000
    return values


def build_zip(path: Path) -> Path:
    study, series = generate_uid(), generate_uid()
    files = {}
    for k in range(SLICES):
        ds = ct_dataset(SIDE, SIDE, signed=True, StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=k + 1,
                        SeriesDescription="CHEST SYNTH", PixelSpacing=[SPACING, SPACING], ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                        ImagePositionPatient=[0.0, 0.0, 2.5 * k], SliceThickness=2.5, PatientName="Hidden^Patient")
        ds.PixelData = hu(k).tobytes()
        files[f"study/IM{k:04d}.dcm"] = dicom_bytes(ds)
    # The scout: a LOCALIZER of the same series, in another plane, without a pixel spacing.
    scout = ct_dataset(SIDE, SIDE, signed=True, StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=1,
                       ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], ImageOrientationPatient=[1, 0, 0, 0, 0, -1],
                       ImagePositionPatient=[0.0, 0.0, 0.0], SeriesDescription="CHEST SYNTH")
    scout.PixelData = (np.full((SIDE, SIDE), -500, np.int16) + np.arange(SIDE, dtype=np.int16)).tobytes()
    files["study/scout.dcm"] = dicom_bytes(scout)
    files["study/notes.txt"] = b"not an image"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


WATCH = """
    if (window.__net) return;
    window.__net = [];
    const orig = window.fetch;
    window.fetch = function(url, init) {
      const body = init && init.body;
      let kind = 'none', bytes = 0, json = null;
      if (body instanceof FormData) {
        kind = 'form';
        for (const [, v] of body.entries()) bytes += v instanceof Blob ? v.size : String(v).length;
      } else if (typeof body === 'string') {
        kind = 'text'; bytes = body.length;
        try { json = JSON.parse(body); } catch (e) { /* not JSON */ }
      } else if (body) { kind = 'other'; bytes = body.size || body.byteLength || -1; }
      window.__net.push({url: String(url), method: (init && init.method) || 'GET', kind, bytes, json});
      return orig.apply(this, arguments);
    };
"""

VIEWER_JS = """
    const done = arguments[arguments.length - 1];
    const args = Array.from(arguments).slice(0, -1);
    import(new URL('js/state.js', document.baseURI).href).then((m) => done((%s)(m.state, ...args)), (e) => done('error: ' + e));
"""


def in_page(page, fn, *args):
    """Runs `fn(state, ...args)` against the page's own state module."""
    return page.d.execute_async_script(VIEWER_JS % fn, *args)


def net(page):
    return page.js("return window.__net || []")


def assert_nothing_sent_again(page):
    """No request but the upload itself carried more than 2 KB: the files went once."""
    heavy = [r for r in net(page) if r["bytes"] > 2048 and not r["url"].endswith("api/studies")]
    assert heavy == []


def overlay(page, corner):
    return page.text(f"#ov-{corner}")


def keys(page, *sequence):
    page.js("document.getElementById('canvas').focus()")
    ActionChains(page.d).send_keys(*sequence).perform()


def screen_point(page, x, y):
    """Where original pixel (x, y) is on the canvas, as an offset from its centre (what ActionChains takes)."""
    return in_page(page, """(s, x, y) => {
        const p = s.viewer.toScreen(x, y); const r = s.viewer.canvas.getBoundingClientRect();
        return [Math.round(p.x - r.width / 2), Math.round(p.y - r.height / 2)]; }""", x, y)


def drag(page, a, b):
    canvas = page.el("#canvas")
    (ax, ay), (bx, by) = screen_point(page, *a), screen_point(page, *b)
    ActionChains(page.d).move_to_element_with_offset(canvas, ax, ay).click_and_hold() \
        .move_by_offset((bx - ax) // 2, (by - ay) // 2).move_by_offset(bx - ax - (bx - ax) // 2, by - ay - (by - ay) // 2) \
        .release().perform()


def click_at(page, point):
    x, y = screen_point(page, *point)
    ActionChains(page.d).move_to_element_with_offset(page.el("#canvas"), x, y).click().perform()


def measures(page):
    return page.js("""return Array.from(document.querySelectorAll('#measure-list .measure')).map((li) =>
        ({kind: li.dataset.kind, text: li.textContent, ...li.dataset}))""")


def open_study(page, tmp_path):
    """The page with the ZIP uploaded and its CT series on screen."""
    archive = build_zip(tmp_path / "study.zip")
    page.open()
    page.js(WATCH)
    page.upload(archive)
    page.archive = archive
    page.wait(lambda d: len(page.els("#thumbs .thumb-series")) == 2, 60, "the series list never came")
    page.wait(lambda d: overlay(page, "slice") == f"Slice 1/{SLICES}", message="the CT series is not on screen")
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    return page


@pytest.fixture
def study_page(page, tmp_path, needs_imaging):
    return open_study(page, tmp_path)


@pytest.fixture
def asking_page(browser, asking_lab, tmp_path, request):
    browser.get("about:blank")
    return open_study(Page(browser, asking_lab, tmp_path, request.node.name.replace("test_", "")), tmp_path)


def test_zip_becomes_a_series_list_with_the_scout_marked(study_page):
    page = study_page
    series = page.els("#thumbs .thumb-series")
    kinds = [s.find_element("css selector", ".thumb-kind").text for s in series]
    assert sorted(kinds) == ["CT · 1 image", f"CT · {SLICES} slices"], kinds
    scouts = page.els('#thumbs .thumb-series[data-localizer="1"]')
    assert len(scouts) == 1 and scouts[0].find_element("css selector", ".thumb-scout").text.lower() == "scout"
    assert "CHEST SYNTH" in page.text("#thumbs")
    assert all(s.find_element("css selector", "img").get_attribute("src").startswith("data:image/") for s in series)
    # The text file in the ZIP is named as left out; no identifier reaches the page.
    assert "notes.txt" in page.text("#study-note")
    assert "Hidden" not in page.el("body").get_attribute("innerText")
    active = page.el("#thumbs .thumb.active")
    assert active.get_attribute("data-localizer") is None
    assert overlay(page, "modality").startswith("CT") and overlay(page, "window") == "W/L file default"
    assert overlay(page, "zoom").startswith("Zoom ")
    page.shot("series-list")
    # One upload, as a form of files; everything else came from the cache by reference.
    sent = net(page)
    uploads = [r for r in sent if r["url"].endswith("api/studies")]
    assert len(uploads) == 1 and uploads[0]["method"] == "POST" and uploads[0]["kind"] == "form"
    assert uploads[0]["bytes"] == page.archive.stat().st_size
    assert not [r for r in sent if "api/render" in r["url"] and "studies" not in r["url"]]
    assert any("/render?slice=" in r["url"] for r in sent)


def test_wheel_and_keys_move_slices_and_window(study_page):
    page = study_page
    canvas = page.el("#canvas")
    before = page.canvas_signature()
    ActionChains(page.d).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, 120).perform()
    page.wait(lambda d: overlay(page, "slice") == f"Slice 2/{SLICES}", message="the wheel did not scroll the slices")
    page.wait(lambda d: page.canvas_signature() != before, message="slice 2 looks like slice 1")
    keys(page, Keys.ARROW_DOWN)
    page.wait(lambda d: overlay(page, "slice") == f"Slice 3/{SLICES}")
    keys(page, Keys.ARROW_UP)
    page.wait(lambda d: overlay(page, "slice") == f"Slice 2/{SLICES}")
    keys(page, Keys.END)
    page.wait(lambda d: overlay(page, "slice") == f"Slice {SLICES}/{SLICES}")
    last = page.canvas_signature()
    keys(page, Keys.HOME)
    page.wait(lambda d: overlay(page, "slice") == f"Slice 1/{SLICES}")
    page.wait(lambda d: page.canvas_signature() != last, message="the first slice looks like the last")
    # Presets 1–5 are the server's named windows; `i` inverts (the server renders it).
    first = page.canvas_signature()
    keys(page, "2")
    page.wait(lambda d: overlay(page, "window") == "W/L C -600 W 1500", message="key 2 is not the lung window")
    page.wait(lambda d: page.canvas_signature() != first)
    assert page.el("#preset").get_attribute("value") == "lung"
    keys(page, "1")
    page.wait(lambda d: overlay(page, "window") == "W/L C 50 W 350")
    soft = page.canvas_signature()
    keys(page, "i")
    page.wait(lambda d: overlay(page, "window") == "W/L C 50 W 350 · inverted")
    page.wait(lambda d: page.canvas_signature() != soft, message="inverting changed nothing")
    assert any("invert=1" in r["url"] and "window=mediastinum" in r["url"] for r in net(page))
    # r rotates, h flips, space resets all of it.
    keys(page, "r", "h")
    page.wait(lambda d: "90°" in overlay(page, "zoom") and "flipped H" in overlay(page, "zoom"))
    keys(page, " ")
    page.wait(lambda d: overlay(page, "window") == "W/L file default" and "°" not in overlay(page, "zoom"))
    # Cine plays through the slices and stops.
    keys(page, "c")
    page.wait(lambda d: overlay(page, "slice").startswith("Slice 3/"), message="cine did not play")
    keys(page, "c")
    page.wait(lambda d: "▶" not in overlay(page, "slice"))
    # Keys typed into the question stay there.
    page.el("#question").send_keys("i2?")
    assert page.el("#question").get_attribute("value") == "i2?"
    assert "inverted" not in overlay(page, "window") and page.el("#help").get_attribute("hidden") is not None
    page.shot("keys")
    # Nothing after the upload carried the files.
    assert_nothing_sent_again(page)


def test_help_lists_the_bindings_in_both_languages(study_page):
    page = study_page
    keys(page, "?")
    page.wait(lambda d: page.el("#help").is_displayed())
    text = page.text("#help")
    assert "Viewer keys and mouse" in text and "invert" in text and "Home / End" in text and "Mouse wheel" in text
    page.shot("help-en")
    ActionChains(page.d).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: not page.el("#help").is_displayed())
    page.el('[data-lang="zh"]').click()
    keys(page, "?")
    page.wait(lambda d: page.el("#help").is_displayed())
    text = page.text("#help")
    assert "阅片按键与鼠标" in text and "反相" in text and "鼠标滚轮" in text
    assert overlay(page, "slice") == f"层面 1/{SLICES}"
    page.shot("help-zh")
    page.el("#help-close").click()
    page.wait(lambda d: not page.el("#help").is_displayed())
    page.el('[data-lang="en"]').click()


def test_length_roi_and_probe_read_the_server(study_page, lab_url):
    page = study_page
    keys(page, Keys.ARROW_DOWN)  # slice 2 (index 1)
    page.wait(lambda d: overlay(page, "slice") == f"Slice 2/{SLICES}")
    page.el('[data-tool="length"]').click()
    drag(page, (8, 10), (48, 10))
    page.wait(lambda d: measures(page) and "lengthMm" in measures(page)[-1], message="no length")
    m = measures(page)[-1]
    assert float(m["lengthMm"]) == pytest.approx(40 * SPACING) and "20.00 mm" in m["text"], m
    page.el('[data-tool="rect"]').click()
    drag(page, (8, 8), (24, 20))
    page.wait(lambda d: len(measures(page)) == 2 and "mean" in measures(page)[-1], message="no rectangle")
    m = measures(page)[-1]
    values = hu(1)[8:20, 8:24].astype(float)
    assert float(m["mean"]) == pytest.approx(values.mean(), abs=1e-6)
    assert float(m["std"]) == pytest.approx(values.std(), abs=1e-6)
    assert float(m["areaMm2"]) == pytest.approx(values.size * SPACING * SPACING)
    assert f"mean {values.mean():.2f} HU" in m["text"], m["text"]
    # The same numbers as the route itself gives.
    ids = in_page(page, "(s) => { const e = s.entries.find((x) => x.id === s.activeId); return [e.study.id, e.study.series]; }")
    with urllib.request.urlopen(f"{lab_url}api/studies/{ids[0]}/series/{ids[1]}/stats?slice=1&roi=8,8,24,20", timeout=10) as r:
        assert json.loads(r.read())["mean"] == pytest.approx(float(m["mean"]))
    page.el('[data-tool="probe"]').click()
    click_at(page, (30.5, 40.5))
    page.wait(lambda d: len(measures(page)) == 3 and "mean" in measures(page)[-1], message="no probe")
    m = measures(page)[-1]
    assert float(m["mean"]) == float(hu(1)[40, 30]) and "(30, 40)" in m["text"], m
    page.shot("measurements")
    # On another slice the list stays, the drawing follows the slice; on the scout (no pixel spacing) a length is in px.
    page.js("document.querySelector('#thumbs .thumb-series[data-localizer=\"1\"] .thumb-pick').click()")
    page.wait(lambda d: page.el('#thumbs .thumb.active').get_attribute("data-localizer") == "1")
    page.el('[data-tool="length"]').click()
    drag(page, (4, 4), (4, 34))
    page.wait(lambda d: measures(page) and "lengthPx" in measures(page)[-1], message="no length on the scout")
    m = measures(page)[-1]
    assert "lengthMm" not in m and float(m["lengthPx"]) == pytest.approx(30) and "px" in m["text"], m


def test_asking_about_a_series_sends_a_study_reference(asking_page):
    page = asking_page
    assert page.el("#scope").is_displayed() and page.el("#scope-volume-label").is_displayed()
    assert not page.el("#scope-all-label").is_displayed()
    assert page.text("#scope-preview") == f"The model will see slice 1 of {SLICES}."
    page.el("#scope-slices").click()
    field = page.el("#scope-slices-input")
    field.clear()
    field.send_keys("2-3")
    page.wait(lambda d: page.text("#scope-preview") == "The model will see 2 slices: 2, 3.")
    assert overlay(page, "slice") == f"Slice 1/{SLICES}"  # typing "2-3" moved nothing
    page.js("document.getElementById('max-tokens').value = '4'")
    page.el("#question").send_keys("Is there a nodule?")
    page.el("#ask").click()
    page.wait(lambda d: page.js("return document.getElementById('answer-state').dataset.state") in ("stateDone", "stateFailed"), 240)
    assert page.js("return document.getElementById('answer-state').dataset.state") == "stateDone", page.text("#error")
    assert page.text("#answer").strip()
    body = [r for r in net(page) if r["url"].endswith("api/predict")][-1]["json"]
    assert "image" not in body and "images" not in body
    assert body["study"]["slices"] == [1, 2] and len(body["study"]["id"]) == 32 and len(body["study"]["series"]) == 32
    # The whole series: the recipe's slices are said before asking, and the answer names them.
    page.el("#scope-volume").click()
    page.wait(lambda d: page.text("#scope-preview").startswith(f"The model will see {SLICES} of {SLICES} slices"))
    assert page.text("#scope-preview").endswith(f": 1–{SLICES}.")
    page.el("#ask").click()
    page.wait(lambda d: len([r for r in net(page) if r["url"].endswith("api/predict")]) == 2)
    page.wait(lambda d: page.js("return document.getElementById('answer-state').dataset.state") in ("stateDone", "stateFailed"), 240)
    assert page.js("return document.getElementById('answer-state').dataset.state") == "stateDone", page.text("#error")
    body = [r for r in net(page) if r["url"].endswith("api/predict")][-1]["json"]
    assert body["study"]["volume"] is True and "slices" not in body["study"] and "image" not in body
    assert f"{SLICES} of {SLICES} slices" in page.text("#stats") and f"slices 1–{SLICES}" in page.text("#stats")
    page.shot("asked")
    assert_nothing_sent_again(page)


def test_a_study_the_server_dropped_says_upload_again(study_page):
    page = study_page
    in_page(page, "(s) => { for (const e of s.entries) if (e.study) e.study.id = '0'.repeat(32); return true; }")
    keys(page, Keys.ARROW_DOWN)
    page.wait(lambda d: page.el("#error").is_displayed(), message="no error for a study the server does not hold")
    assert "upload it again" in page.text("#error")
    assert not page.el("#viewer-busy").is_displayed()


def unzip_to(archive: Path, folder: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return sorted((folder / "study").glob("*.dcm"))


def test_loose_dicom_files_and_a_folder_are_one_study_each_upload(page, tmp_path, needs_imaging):
    files = unzip_to(build_zip(tmp_path / "study.zip"), tmp_path / "loose")
    page.open()
    page.js(WATCH)
    page.upload(*files)  # the picker with several DICOM files
    page.wait(lambda d: len(page.els("#thumbs .thumb-series")) == 2, 60, "several DICOM files did not become a study")
    uploads = [r for r in net(page) if r["url"].endswith("api/studies")]
    assert len(uploads) == 1 and uploads[0]["bytes"] == sum(f.stat().st_size for f in files)
    assert not [r for r in net(page) if r["url"].endswith("api/render")]
    # The same files again (as a folder this time) are the same series: listed once.
    page.el("#folder-input").send_keys(str(tmp_path / "loose" / "study"))
    page.wait(lambda d: len([r for r in net(page) if r["url"].endswith("api/studies")]) == 2, 30, "the folder was not uploaded")
    page.wait(lambda d: not page.el("#study-busy").is_displayed())
    assert len(page.els("#thumbs .thumb-series")) == 2
    assert "notes.txt" in page.text("#study-note")


def test_a_zip_without_images_and_a_refused_upload_say_why(browser, small_lab, tmp_path):
    page = Page(browser, small_lab, tmp_path, "study-errors").open()
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "just text")
    page.upload(archive)
    page.wait(lambda d: page.el("#error").is_displayed(), 30, "no error for a ZIP without images")
    # The server's own words (415: no image among the files).
    assert page.text("#error").startswith("The study could not be read: ") and "is an image" in page.text("#error"), page.text("#error")
    assert not page.el("#study-busy").is_displayed() and not page.thumbs()
    # Past --study-max-upload-mb (1 here): the server's 413, said as it is.
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
        z.writestr("noise.dcm", np.random.default_rng(1).bytes(3 << 20))
    page.upload(big)
    page.wait(lambda d: "too large" in page.text("#error"), 30, "no error for a study over the limit")
    assert not page.el("#study-busy").is_displayed()
    page.shot("too-large")


@pytest.fixture(scope="module")
def small_lab():
    """A lab without a model whose studies may be at most 1 MB."""
    yield from own_lab("--no-demo", "--study-max-upload-mb", "1", wanted=("no_model",), no_models=True)


@pytest.fixture(scope="module")
def asking_lab():
    """A demo lab with a record of its own: the questions here stay out of the session lab's History."""
    yield from own_lab("--demo")


def pointer_drag(page, button, a, b):
    """A drag with the middle (1) or right (2) button, as Chromium's pointer events carry it."""
    page.js("""
        const [button, a, b] = arguments; const c = document.getElementById('canvas'); const r = c.getBoundingClientRect();
        const at = (p, type, buttons) => c.dispatchEvent(new PointerEvent(type, {bubbles: true, cancelable: true, pointerId: 7,
            button: type === 'pointermove' ? -1 : button, buttons, clientX: r.left + p[0], clientY: r.top + p[1]}));
        at(a, 'pointerdown', button === 1 ? 4 : 2);
        for (let i = 1; i <= 4; i++) at([a[0] + (b[0] - a[0]) * i / 4, a[1] + (b[1] - a[1]) * i / 4], 'pointermove', button === 1 ? 4 : 2);
        at(b, 'pointerup', 0);
    """, button, a, b)


def test_mouse_buttons_ellipse_and_a_marked_slice_question(asking_page):
    page = asking_page
    zoom = in_page(page, "(s) => s.viewer.zoomPercent")
    pointer_drag(page, 2, [300, 200], [300, 120])  # right drag up: zoom in
    page.wait(lambda d: in_page(page, "(s) => s.viewer.zoomPercent") > zoom, message="right drag did not zoom")
    page.wait(lambda d: overlay(page, "zoom") == f"Zoom {in_page(page, '(s) => s.viewer.zoomPercent')}%")
    origin = in_page(page, "(s) => [s.viewer.tx, s.viewer.ty]")
    pointer_drag(page, 1, [300, 200], [340, 230])  # middle drag: pan
    moved = in_page(page, "(s) => [s.viewer.tx, s.viewer.ty]")
    assert moved[0] == pytest.approx(origin[0] + 40) and moved[1] == pytest.approx(origin[1] + 30)
    keys(page, "=")
    # Left drag with the W/L tool: a custom window, rendered from the cache.
    page.el('[data-tool="window"]').click()
    drag(page, (20, 20), (40, 30))
    page.wait(lambda d: overlay(page, "window").startswith("W/L C ") and page.el("#preset").get_attribute("value") == "custom")
    page.wait(lambda d: any("window=" in r["url"] and "%2C" in r["url"] for r in net(page)), message="no C,W render")
    keys(page, " ")
    page.wait(lambda d: overlay(page, "window") == "W/L file default")
    page.el('[data-tool="ellipse"]').click()
    drag(page, (8, 8), (24, 24))
    page.wait(lambda d: measures(page) and "mean" in measures(page)[-1], message="no ellipse")
    m = measures(page)[-1]
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    inside = ((x + 0.5 - 16) / 8) ** 2 + ((y + 0.5 - 16) / 8) ** 2 <= 1
    assert int(m["pixels"]) == int(inside.sum()) and float(m["mean"]) == pytest.approx(hu(0)[inside].mean(), abs=1e-6)
    # A marked point on the slice shown goes with the reference.
    page.el('[data-tool="mark"]').click()
    click_at(page, (20, 30))
    page.js("document.getElementById('max-tokens').value = '4'")
    page.el("#question").send_keys("What is in the marked region?")
    page.el("#ask").click()
    page.wait(lambda d: page.js("return document.getElementById('answer-state').dataset.state") in ("stateDone", "stateFailed"), 240)
    assert page.js("return document.getElementById('answer-state').dataset.state") == "stateDone", page.text("#error")
    body = [r for r in net(page) if r["url"].endswith("api/predict")][-1]["json"]
    assert body["study"]["slices"] == [0] and body["region"] == {"points": [[20, 30]]} and "image" not in body


def test_an_enhanced_multi_frame_steps_along_the_slice_normal(page, tmp_path, needs_imaging):
    """An enhanced CT whose frames are stored out of order steps through them along the slice
    normal, as radiology viewers stack them: uploaded as a study (in a ZIP) and as a single file
    alike. Frame k holds 100·k HU under a fixed window, so the canvas brightens at every step;
    in stored order it would jump back and forth."""
    data = enhanced_ct([3, 0, 4, 1, 2], size=64, WindowCenter=200, WindowWidth=800)
    single = tmp_path / "enhanced.dcm"
    single.write_bytes(data)
    archive = tmp_path / "enhanced.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("study/enhanced.dcm", data)
    for path in (archive, single):
        page.open()
        page.upload(path)
        page.wait(lambda d: overlay(page, "slice") == "Frame 1/5", 60, f"{path.name}: the frames are not on screen")
        page.wait(lambda d: page.canvas_signature()[1] > 100)
        sums = [page.canvas_signature()[0]]
        for k in range(2, 6):
            keys(page, Keys.ARROW_DOWN)
            page.wait(lambda d: overlay(page, "slice") == f"Frame {k}/5", message=f"{path.name}: no frame {k}")
            page.wait(lambda d: page.canvas_signature()[0] != sums[-1], message=f"{path.name}: frame {k} looks like frame {k - 1}")
            sums.append(page.canvas_signature()[0])
        assert sums == sorted(sums), (path.name, sums)
