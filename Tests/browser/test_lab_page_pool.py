"""The lab page once against a remote pool: `medlab serve --backend` in front of two real
llama-server processes (tiny Gemma 3 + projector). A marked image question must stream to the
end, as it does in process (the defect: every image question was refused with 422)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from conftest import ROOT, Page, free_port, wait_for_health
from test_lab_page import answer_state, set_max_tokens

sys.path.insert(0, str(ROOT / "Tests" / "python"))
from test_scaleout import BACKEND_FLAGS, LlamaServer  # noqa: E402
from test_server_fixture import medlab_bin  # noqa: E402


@pytest.fixture(scope="module")
def pool_url(tmp_path_factory):
    servers = [LlamaServer(), LlamaServer()]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("pool") / "serve.log"
    args = [medlab_bin(), "serve", "--host", "127.0.0.1", "--port", str(port), *BACKEND_FLAGS]
    for server in servers:
        args += ["--backend", server.url]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for_health(url, proc)
        yield url, servers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for server in servers:
            server.kill()


def test_marked_image_question_through_a_remote_pool(browser, pool_url, images, tmp_path):
    url, servers = pool_url
    before = sum(s.predicted_tokens() for s in servers)
    page = Page(browser, url, tmp_path, "pool").open()
    page.wait(lambda d: page.el("#status").get_attribute("data-state") == "ok")
    page.upload(images.png)
    page.wait(lambda d: page.canvas_signature()[1] > 100)
    page.el('[data-tool="mark"]').click()
    ActionChains(page.d).move_to_element_with_offset(page.el("#canvas"), -60, -40).click_and_hold() \
        .move_by_offset(90, 70).release().perform()
    page.wait(lambda d: page.el("#clear-mark").is_displayed())
    page.record_requests()
    set_max_tokens(page, 8)
    page.el("#question").send_keys("What is in the marked region?")
    page.el("#ask").click()
    page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)
    page.shot("answered")
    assert answer_state(page) == "stateDone", page.text("#error")
    assert page.text("#answer").strip(), "empty answer"
    body = page.sent("api/predict")[-1]
    assert body["region"]["rect"] and body["image"].startswith("data:image/png;base64,")
    # The servers themselves generated the answer.
    assert sum(s.predicted_tokens() for s in servers) > before
