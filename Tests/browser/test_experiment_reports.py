"""The HTML reports of `medlab compare` and `medlab regress` are whole in one file: loaded in
real Chromium with the network off, every answer shows, every thumbnail decodes, and the page
asks for nothing else."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_driver

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from test_batch import TINY, png  # noqa: E402


def medlab(*args):
    binary = os.environ.get("MEDLAB_BIN")
    if not binary:
        pytest.fail("MEDLAB_BIN is not set to a built `medlab`")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr
    return result


@pytest.fixture(scope="module")
def offline():
    driver = make_driver()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    yield driver
    driver.quit()


def check(driver, html: Path, answers):
    driver.get(html.as_uri())
    text = driver.find_element("tag name", "body").text
    flat = " ".join(text.split())
    for answer in answers:
        assert " ".join(answer.split()) in flat, answer
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    sizes = driver.execute_script("return [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert sizes and all(width > 0 for width in sizes), sizes
    assert "not for diagnosis" in text


def test_grid_and_regression_reports_are_self_contained(offline, tmp_path):
    folder = tmp_path / "cxr"
    folder.mkdir()
    for n in range(2):
        (folder / f"img{n}.png").write_bytes(png(48 + n * 16, 40, seed=n))
    medlab("compare", *TINY, "--max-new-tokens", "5", "--no-record", "--image", str(folder / "img0.png"), "--image",
           str(folder / "img1.png"), "-q", "Describe <b>this</b> & that.", "-q", "Any effusion?", "--json",
           str(tmp_path / "grid.json"), "--report", str(tmp_path / "grid.html"))
    grid = json.loads((tmp_path / "grid.json").read_text())
    check(offline, tmp_path / "grid.html", [c["answer"] for c in grid["cells"]] + ["Describe <b>this</b> & that."])

    (tmp_path / "set.yaml").write_text("name: report-set\nparams: {max_new_tokens: 5}\ncases:\n"
                                       "  - {id: one, images: [cxr/img0.png], question: Describe., expect: {regex: '.'}}\n"
                                       "  - {id: two, images: [cxr/img1.png], question: Effusion?, expect: {contains_all: [zzz]}}\n")
    medlab("regress", str(tmp_path / "set.yaml"), *TINY, "--no-record", "--json", str(tmp_path / "report.json"),
           "--report", str(tmp_path / "report.html"))
    report = json.loads((tmp_path / "report.json").read_text())
    check(offline, tmp_path / "report.html", [c["answer"] for c in report["cases"]] + ["1 of 2 passed: 50%", "✗ not met", "✓ met"])
