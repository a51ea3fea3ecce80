"""Browser tests of the lab page: Debian's chromium + chromium-driver, headless, via selenium,
against a real `medlab serve` started here on a free port.

Environment:
  MEDLAB_BIN         path of the `medlab` executable (required)
  MEDLAB_SERVE_ARGS  extra arguments for `medlab serve` (default: `--demo`)
  MEDLAB_URL         test an already running lab at this URL instead of starting one
  CHROMIUM / CHROMEDRIVER  override /usr/bin/chromium and /usr/bin/chromedriver
Screenshots of every state go to Tests/browser/screenshots/ (git-ignored).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHOTS = HERE / "screenshots"
sys.path.insert(0, str(HERE))

import sample_images as fixtures  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc: subprocess.Popen | None, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"medlab serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "api/health", timeout=2) as r:
                body = json.loads(r.read())
                if body.get("status") in ("ok", "ready"):
                    return body
                last = body
        except urllib.error.HTTPError as e:  # 503 while loading
            try:
                last = json.loads(e.read())
            except Exception:  # noqa: BLE001
                last = str(e)
        except Exception as e:  # noqa: BLE001
            last = str(e)
        time.sleep(0.3)
    raise RuntimeError(f"the lab did not become ready: {last}")


@pytest.fixture(scope="session")
def lab_url(tmp_path_factory):
    """Base URL (ending in /) of a running lab: the real `medlab serve` unless told otherwise."""
    if os.environ.get("MEDLAB_URL"):
        url = os.environ["MEDLAB_URL"].rstrip("/") + "/"
        wait_for_health(url, None, 30)
        yield url
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    binary = os.environ.get("MEDLAB_BIN")
    if not binary or not Path(binary).exists():
        pytest.fail("MEDLAB_BIN is not set to a built `medlab`: the page is tested against the real server")
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    extra = shlex.split(os.environ.get("MEDLAB_SERVE_ARGS", "--demo"))
    cmd = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    # A lab record of its own (the default one lives under $XDG_DATA_HOME), not the user's.
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path_factory.mktemp("data"))}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        wait_for_health(url, proc)
    except Exception:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{' '.join(cmd)} did not start:\n{log.read_text(errors='replace')[-3000:]}")
    with urllib.request.urlopen(url, timeout=5) as r:
        assert "MedGemma Vision Lab" in r.read(4096).decode("utf-8", "replace"), "medlab serve does not serve the page"
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def own_lab(*args, wanted=("ok", "ready"), no_models=False):
    """A lab of its own (its own record; with `no_models`, empty model folders too), as long as the generator runs."""
    binary = os.environ.get("MEDLAB_BIN")
    if not binary or not os.path.exists(binary):
        pytest.fail("MEDLAB_BIN is not set to a built `medlab`")
    empty = tempfile.mkdtemp()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "XDG_DATA_HOME": empty}
    if no_models:
        env.update(MEDLAB_CACHE=empty, MEDLAB_MODELS_DIR=empty)
    log = open(os.path.join(empty, "serve.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "api/health", timeout=2) as r:
                if json.loads(r.read())["status"] in wanted:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.time() < deadline, open(log.name, errors="replace").read()
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


def make_driver(lang: str = "en-US", width: int = 1366, height: int = 768):
    if not Path(CHROMEDRIVER).exists():
        pytest.fail("chromium-driver is not installed (scripts/setup.sh installs chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", f"--lang={lang}", "--force-device-scale-factor=1",
                "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    # --window-size sets the outer window; make the page itself 1366×768.
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))
    return driver


@pytest.fixture(scope="session")
def browser():
    driver = make_driver()
    yield driver
    driver.quit()


class Page:
    """The lab page in a browser, with the waits and helpers the tests share."""

    def __init__(self, driver, url, tmp: Path, name: str):
        self.d = driver
        self.url = url
        self.tmp = tmp
        self.name = name

    def open(self, clear_storage=True):
        self.console_errors()  # reading drains the log: an earlier test's errors are not this page's
        self.d.get(self.url)
        if clear_storage:
            self.d.execute_script("localStorage.clear(); sessionStorage.clear();")
            self.d.get(self.url)
        self.wait(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        return self

    def wait(self, cond, timeout=30, message=""):
        return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(cond, message)

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def els(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def text(self, css):
        return self.el(css).text

    def shot(self, state: str):
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{self.name}-{state}.png"
        self.d.save_screenshot(str(path))
        return path

    def upload(self, *paths: Path):
        self.el("#file-input").send_keys("\n".join(str(p) for p in paths))

    def thumbs(self):
        return self.els("#thumbs .thumb")

    def canvas_signature(self):
        """A cheap fingerprint of what the preview canvas shows."""
        return self.js("""
            const c = document.getElementById('canvas');
            const ctx = c.getContext('2d');
            const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let sum = 0, lit = 0;
            for (let i = 0; i < d.length; i += 4 * 13) { sum += d[i] + d[i+1] + d[i+2]; if (d[i] > 8) lit++; }
            return [sum, lit];
        """)

    def record_requests(self):
        """Wraps fetch so tests can read what the page sent to /api/predict and /api/render."""
        self.js("""
            if (window.__sent) return;
            window.__sent = [];
            const orig = window.fetch;
            window.fetch = function(url, init) {
                try { window.__sent.push({url: String(url), body: init && typeof init.body === 'string' ? JSON.parse(init.body) : null}); }
                catch (e) { window.__sent.push({url: String(url), body: null}); }
                return orig.apply(this, arguments);
            };
        """)

    def sent(self, path):
        return [r["body"] for r in self.js("return window.__sent || []") if r["url"].endswith(path)]

    def console_errors(self):
        try:
            logs = self.d.get_log("browser")
        except Exception:  # noqa: BLE001
            return []
        return [e for e in logs if e.get("level") == "SEVERE"]


@pytest.fixture(scope="session")
def imaging(lab_url):
    """Skips-as-xfail the DICOM/NIfTI tests when this server build cannot decode them yet."""
    import base64
    body = json.dumps({"image": base64.b64encode(fixtures.ct_dicom_bytes(16, 16)).decode()}).encode()
    req = urllib.request.Request(lab_url + "api/render", data=body, headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30).read()
        return True
    except urllib.error.HTTPError as e:
        message = e.read().decode("utf-8", "replace")
        if e.code == 415:
            return message
        return True


@pytest.fixture
def needs_imaging(imaging):
    if imaging is not True:
        pytest.xfail(f"this `medlab serve` cannot render DICOM/NIfTI yet: {imaging}")


@pytest.fixture
def page(browser, lab_url, tmp_path, request):
    browser.get("about:blank")
    return Page(browser, lab_url, tmp_path, request.node.name.replace("test_", ""))


@pytest.fixture
def images(tmp_path):
    class Images:
        png = fixtures.chest_png(tmp_path / "chest.png")
        png_current = fixtures.chest_png(tmp_path / "current.png", 480, 384)
        dicom = fixtures.ct_dicom(tmp_path / "ct-slice.dcm")
        broken_dicom = fixtures.broken_dicom(tmp_path / "broken.dcm")
        broken_png = fixtures.broken_png(tmp_path / "broken.png")
        text = fixtures.not_an_image(tmp_path / "notes.txt")
        multiframe = fixtures.ct_dicom(tmp_path / "multiframe.dcm", width=96, height=96, frames=3)
        nifti = fixtures.ct_nifti(tmp_path / "volume.nii")
    return Images
