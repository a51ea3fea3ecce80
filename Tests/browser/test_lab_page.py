"""The lab page in a real headless Chromium against `medlab serve` (issue 5)."""
from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from conftest import make_driver, Page

NOTICE_EN = "Research and teaching use only — not for diagnosis"
NOTICE_ZH = "仅供科研与教学使用——不可用于诊断"


def watch_answer(page):
    """Counts how often the answer text changes while it streams."""
    page.js("""
        window.__changes = 0;
        new MutationObserver(() => { window.__changes++; })
            .observe(document.getElementById('answer'), {childList: true, subtree: true, characterData: true});
    """)


def set_max_tokens(page, n):
    """Short answers keep the tests quick on a busy CPU (the demo model writes gibberish anyway)."""
    page.js("document.getElementById('max-tokens').value = arguments[0]", str(n))


def ask_briefly(page, question, max_tokens):
    """Asks with a short answer while recording what the page sends; returns when the answer ends."""
    page.record_requests()
    set_max_tokens(page, max_tokens)
    page.el("#question").send_keys(question)
    page.el("#ask").click()
    page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)


def type_advanced(page, field_id, value):
    """Opens the advanced settings and types into one of them, as a user would."""
    page.el(".advanced summary").click()
    field = page.el(f"#{field_id}")
    field.clear()
    field.send_keys(value)


def answer_state(page):
    return page.js("return document.getElementById('answer-state').dataset.state || ''")


def test_page_loads_offline_with_notice_and_status(page):
    page.open()
    assert page.text("#notice") == NOTICE_EN
    page.wait(lambda d: page.js("return document.getElementById('status').dataset.state") not in ("unknown", ""))
    state = page.js("return document.getElementById('status').dataset.state")
    assert state in ("ok", "demo"), state
    if state == "demo":
        assert "demo" in page.text("#status-detail").lower()
    # Everything the page loaded came from the lab itself: no CDN, no external fonts.
    urls = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls, "no resources recorded"
    assert all(u.startswith(page.url) for u in urls), [u for u in urls if not u.startswith(page.url)]
    # Three columns side by side at 1366×768, nothing wider than the window.
    widths = page.js("""return [document.documentElement.scrollWidth, innerWidth,
        ...['.col-left', '.col-mid', '.col-right'].map(s => document.querySelector(s).getBoundingClientRect().left)]""")
    assert widths[0] <= widths[1]
    assert widths[2] < widths[3] < widths[4]
    assert page.el("#notice").is_displayed()
    assert not page.console_errors()
    page.shot("ready")


def test_upload_png_shows_preview_thumbnail_and_metadata(page, images):
    page.open()
    page.upload(images.png)
    page.wait(lambda d: len(page.thumbs()) == 1)
    page.wait(lambda d: page.canvas_signature()[1] > 100, message="preview stays empty")
    assert "chest.png" in page.text("#thumbs")
    assert page.el("#window-bar").get_attribute("hidden") is not None  # photos have no window
    page.el("#meta-box summary").click()
    assert "320" in page.text("#meta") and "256" in page.text("#meta")
    # Zoom with the keyboard on the focused canvas.
    before = page.text("#zoom-level")
    page.el("#canvas").send_keys("+")
    page.wait(lambda d: page.text("#zoom-level") != before)
    page.shot("png")


def test_upload_dicom_and_switch_window_preset(page, images, needs_imaging):
    page.open()
    page.upload(images.dicom)
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100, message="no DICOM preview")
    assert page.el("#window-bar").is_displayed()
    page.el("#meta-box summary").click()
    meta = page.text("#meta")
    assert "128" in meta
    assert "TEST^PATIENT" not in meta and "ID12345" not in meta  # identifiers never shown
    page.shot("dicom-default")
    before = page.canvas_signature()
    page.record_requests()
    page.js("const s = document.getElementById('preset'); s.value = 'lung'; s.dispatchEvent(new Event('change'));")
    page.wait(lambda d: page.canvas_signature() != before, message="the lung window did not change the preview")
    assert any(b and b.get("window") == "lung" for b in page.sent("api/render"))
    assert "-600" in page.text("#wl-readout") or "−600" in page.text("#wl-readout")
    page.shot("dicom-lung")
    # Window/level by dragging in the window tool.
    page.el('[data-tool="window"]').click()
    lung = page.canvas_signature()
    ActionChains(page.d).move_to_element(page.el("#canvas")).click_and_hold().move_by_offset(-60, 40).release().perform()
    page.wait(lambda d: page.canvas_signature() != lung, message="dragging did not change the window")
    assert page.el("#preset").get_attribute("value") == "custom"
    page.shot("dicom-drag")


def test_mark_region_and_ask_streams_to_the_end(page, images):
    page.open()
    page.upload(images.png)
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    page.el('[data-tool="mark"]').click()
    canvas = page.el("#canvas")
    ActionChains(page.d).move_to_element_with_offset(canvas, -60, -40).click_and_hold() \
        .move_by_offset(90, 70).release().perform()
    page.wait(lambda d: page.el("#clear-mark").is_displayed())
    assert page.el("#insert-region").is_displayed()
    page.el("#examples summary").click()
    assert "marked region" in page.text("#example-list")
    page.shot("marked")
    page.record_requests()
    watch_answer(page)
    set_max_tokens(page, 16)
    page.el("#question").send_keys("What is in ")
    page.el("#insert-region").click()
    page.el("#question").send_keys("?")
    assert page.el("#question").get_attribute("value") == "What is in the marked region?"
    page.el("#ask").click()
    page.wait(lambda d: answer_state(page) in ("stateStreaming", "stateDone"), 60)
    page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)
    assert answer_state(page) == "stateDone", page.text("#error")
    assert page.text("#answer").strip(), "empty answer"
    assert page.js("return window.__changes") >= 2, "the answer did not arrive in pieces"
    assert page.text("#stats")
    body = page.sent("api/predict")[-1]
    assert body["stream"] is True and body["question"] == "What is in the marked region?"
    x0, y0, x1, y1 = body["region"]["rect"]
    assert x1 > x0 >= 0 and y1 > y0 >= 0
    assert x1 <= 320 and y1 <= 256  # original pixel coordinates
    assert body["image"].startswith("data:image/png;base64,")
    # The history (the server's lab record, newest first) lists it on top and restores it with one click.
    page.wait(lambda d: page.js("const q = document.querySelector('#history-list .history-q'); return q && q.textContent")
              == "What is in the marked region?")
    page.shot("answered")
    page.el("#question").clear()
    page.el("#history-list .history-item").click()
    assert page.el("#question").get_attribute("value") == "What is in the marked region?"
    # Clearing the mark.
    page.el("#clear-mark").click()
    assert not page.el("#insert-region").is_displayed()


def test_stop_a_generation(page, images):
    page.open()
    page.upload(images.png)
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    type_advanced(page, "max-tokens", "4096")
    page.el("#question").send_keys("Describe this image in great detail, slowly.")
    page.el("#ask").click()
    page.wait(lambda d: page.el("#stop").is_enabled(), 30)
    page.wait(lambda d: answer_state(page) in ("stateStreaming", "stateDone"), 60)
    page.el("#stop").click()
    page.wait(lambda d: answer_state(page) in ("stateStopped", "stateDone"), 30)
    assert answer_state(page) == "stateStopped", "the generation finished before Stop took effect"
    assert page.el("#ask").is_enabled() and not page.el("#stop").is_enabled()
    assert not page.el("#error").is_displayed()
    page.shot("stopped")


def test_broken_files_show_readable_errors(page, images):
    page.open()
    page.upload(images.broken_dicom)
    page.wait(lambda d: page.el("#error").is_displayed(), 30, "no error for a broken DICOM")
    assert "broken.dcm" in page.text("#error")
    assert len(page.thumbs()) == 0
    page.shot("broken-dicom")
    page.upload(images.text)
    page.wait(lambda d: "notes.txt" in page.text("#error"))
    page.upload(images.broken_png)
    page.wait(lambda d: "broken.png" in page.text("#error"))
    # Asking without an image or question says so.
    page.el("#ask").click()
    page.wait(lambda d: page.text("#error") in ("Load an image first.",))


def test_language_switch_is_remembered(page, images):
    page.open()
    page.el('[data-lang="zh"]').click()
    assert page.text("#notice") == NOTICE_ZH
    assert page.js("return document.documentElement.lang") == "zh-CN"
    assert page.text("#ask") == "提问"
    page.upload(images.png)
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100)
    page.shot("zh")
    page.open(clear_storage=False)
    assert page.text("#notice") == NOTICE_ZH
    page.el('[data-lang="en"]').click()
    assert page.text("#notice") == NOTICE_EN


def test_default_language_follows_the_browser(lab_url, tmp_path):
    driver = make_driver(lang="zh-CN")
    try:
        page = Page(driver, lab_url, tmp_path, "browser-zh").open()
        assert page.text("#notice") == NOTICE_ZH
        page.shot("default")
    finally:
        driver.quit()


def test_keyboard_only_upload_zone_and_tools(page):
    page.open()
    # The upload zone, the tools and the question are reachable with Tab.
    reached = set()
    body = page.el("body")
    body.send_keys(Keys.TAB)
    for _ in range(40):
        reached.add(page.js("const a = document.activeElement; return a.id || a.dataset.tool || a.dataset.lang || a.className"))
        page.d.switch_to.active_element.send_keys(Keys.TAB)
    for wanted in ("drop", "question", "ask", "zh", "pan", "mark"):
        assert wanted in reached, (wanted, reached)


def test_event_stream_parser_survives_odd_chunking(page):
    """The page's SSE reader (fetch + ReadableStream): CRLF, split lines, split UTF-8, comments."""
    page.open()
    events = page.d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('./js/api.js').then(async ({ serverSentEvents }) => {
            const text = ': keep-alive\\r\\n\\r\\ndata: {"delta": "肺野"}\\r\\n\\r\\n'
                + 'event: message\\ndata: {"delta":\\ndata: " clear"}\\n\\n'
                + 'data: {"reasoning": "r"}\\r\\rdata: {"done": true, "answer": "肺野 clear"}\\n\\n';
            const bytes = new TextEncoder().encode(text);
            const stream = new ReadableStream({ start(c) {
                for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
                c.close();
            } });
            const out = [];
            for await (const ev of serverSentEvents(stream)) out.push(ev.data);
            done(out);
        }).catch((e) => done(String(e)));
    """)
    assert events == ['{"delta": "肺野"}', '{"delta":\n" clear"}', '{"reasoning": "r"}', '{"done": true, "answer": "肺野 clear"}']


def move_slider(page, value):
    page.js("const s = document.getElementById('slice'); s.value = arguments[0]; s.dispatchEvent(new Event('input'));", str(value))


def test_volume_slice_slider(page, images, needs_imaging):
    page.open()
    page.upload(images.nifti)
    page.wait(lambda d: page.canvas_signature()[1] > 100, message="no NIfTI preview")
    page.wait(lambda d: page.el("#slice-box").is_displayed(), message="no slice slider for a volume")
    assert page.el("#slice").get_attribute("max") == "5"
    page.record_requests()
    move_slider(page, 0)
    first = page.canvas_signature()
    page.wait(lambda d: page.sent("api/render") and page.sent("api/render")[-1].get("slice") == 0)
    move_slider(page, 4)
    page.wait(lambda d: page.canvas_signature() != first, message="another slice looks the same")
    assert page.sent("api/render")[-1]["slice"] == 4
    assert page.text("#slice-out") == "5 / 6"
    # PageDown on the focused canvas steps through the slices.
    page.el("#canvas").send_keys(Keys.PAGE_UP)
    page.wait(lambda d: page.text("#slice-out") == "4 / 6")
    page.shot("volume")


def test_whole_volume_question(page, images, needs_imaging):
    page.open()
    page.upload(images.nifti)
    page.wait(lambda d: page.el("#slice-box").is_displayed(), message="no slice slider for a volume")
    page.wait(lambda d: page.el("#scope").is_displayed() and page.el("#scope-volume-label").is_displayed(),
              message="a volume offers the whole-volume question")
    page.el("#scope-volume").click()
    ask_briefly(page, "Is there a mass?", 4)
    assert answer_state(page) == "stateDone", page.text("#error")
    body = page.sent("api/predict")[-1]
    assert body["volume"] is True and "slice" not in body and "region" not in body
    assert "6 of 6 slices" in page.text("#stats")
    page.shot("whole-volume")
    # A flat PNG offers no volume, and the choice falls back to the image shown.
    page.el("#clear-images").click()
    page.upload(images.png)
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100)
    assert not page.el("#scope").is_displayed()


def test_multiframe_dicom_frame_slider(page, images, needs_imaging):
    page.open()
    page.upload(images.multiframe)
    page.wait(lambda d: page.el("#slice-box").is_displayed(), message="no frame slider for a multi-frame file")
    assert page.el("#slice").get_attribute("max") == "2"
    page.record_requests()
    move_slider(page, 2)
    page.wait(lambda d: page.sent("api/render") and page.sent("api/render")[-1].get("frame") == 2)


def test_prior_and_current_are_sent_in_order(page, images):
    page.open()
    page.upload(images.png, images.png_current)
    page.wait(lambda d: len(page.thumbs()) == 2 and page.canvas_signature()[1] > 100)
    assert page.el("#scope").is_displayed()
    page.js("document.querySelector('#thumbs .thumb .thumb-pick').click()")  # show the prior: it goes last
    page.el('#scope input[value="all"]').click()
    ask_briefly(page, "Compare the prior and the current study.", 8)
    body = page.sent("api/predict")[-1]
    assert "image" not in body and len(body["images"]) == 2
    # The other image first, the one on screen (the prior, here) last: region and boxes belong to it.
    sizes = [len(i) for i in body["images"]]
    assert sizes[1] < sizes[0], sizes  # chest.png (320×256) is smaller than current.png (480×384)
    assert answer_state(page) == "stateDone", page.text("#error")
    page.shot("two-images")


def test_server_errors_are_readable(page, images):
    page.open()
    page.upload(images.png)
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    type_advanced(page, "temperature", "5")
    page.el("#question").send_keys("What is this?")
    page.el("#ask").click()
    page.wait(lambda d: page.el("#error").is_displayed(), 30)
    assert "temperature" in page.text("#error") and "400" in page.text("#error")
    assert answer_state(page) == "stateFailed"
    page.shot("server-error")


def test_drag_and_drop_adds_images(page):
    page.open()
    page.d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const c = document.createElement('canvas'); c.width = 64; c.height = 48;
        const g = c.getContext('2d'); g.fillStyle = '#888'; g.fillRect(8, 8, 40, 30);
        c.toBlob((blob) => {
            const dt = new DataTransfer();
            dt.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
            document.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
            const overlay = !document.getElementById('drop-overlay').hidden;
            document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
            done(overlay);
        }, 'image/png');
    """)
    page.wait(lambda d: len(page.thumbs()) == 1)
    assert "dropped.png" in page.text("#thumbs")
    assert not page.el("#drop-overlay").is_displayed()
