"""Experiments over HTTP (issue #14): comparison grids and regression runs against a real
`medlab serve --demo` with a real record file; files travel in the requests, never as paths."""
import base64
import io
import json
import zipfile

import pandas
import pytest
import requests

from test_batch import png
from test_server_fixture import Server


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Server("--demo", "--record", str(tmp_path_factory.mktemp("exp") / "lab.sqlite"))
    yield server
    server.stop()


def images(n=2):
    return [{"name": f"img{i}.png", "data": base64.b64encode(png(40 + 8 * i, 32, seed=i)).decode()} for i in range(n)]


def test_a_grid_over_http_is_kept_and_exported(lab):
    body = {"images": images(), "questions": ["Describe the image.", "Any effusion?"], "max_new_tokens": 3}
    response = requests.post(lab.url + "/api/experiments/compare", json=body, timeout=300)
    assert response.status_code == 200, response.text
    grid = response.json()
    assert len(grid["cells"]) == 4 and all(c["answer"] is not None and c["analysis_id"] for c in grid["cells"])
    assert {(c["question"], c["image"]) for c in grid["cells"]} == {(q, i["name"]) for q in body["questions"] for i in body["images"]}
    stored = requests.get(f"{lab.url}/api/experiments/{grid['experiment_id']}").json()
    assert stored["cells"] == grid["cells"]
    kept = requests.get(lab.url + "/api/analyses", params={"run_id": grid["experiment_id"]}).json()["analyses"]
    assert {a["id"] for a in kept} == {c["analysis_id"] for c in grid["cells"]} and {a["source"] for a in kept} == {"compare"}
    csv = requests.get(f"{lab.url}/api/experiments/{grid['experiment_id']}", params={"format": "csv"})
    assert len(pandas.read_csv(io.StringIO(csv.text))) == 4
    html = requests.get(f"{lab.url}/api/experiments/{grid['experiment_id']}", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<script" not in html.text
    for cell in grid["cells"]:
        assert cell["question"] in html.text
    listed = requests.get(lab.url + "/api/experiments", params={"kind": "compare"}).json()["experiments"]
    assert listed[0]["id"] == grid["experiment_id"]


def test_a_streamed_grid_sends_each_cell_then_the_grid(lab):
    body = {"images": images(3), "questions": ["One?"], "max_new_tokens": 2, "stream": True}
    with requests.post(lab.url + "/api/experiments/compare", json=body, stream=True, timeout=300) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    cells, final = events[:-1], events[-1]
    assert sorted(e["index"] for e in cells) == [0, 1, 2] and [e["done"] for e in cells] == [1, 2, 3]
    assert final["done"] is True and len(final["grid"]["cells"]) == 3
    assert {e["cell"]["analysis_id"] for e in cells} == {c["analysis_id"] for c in final["grid"]["cells"]}


@pytest.mark.parametrize("body, status", [
    ({"images": [], "questions": ["q"]}, 400),
    ({"images": images(1), "questions": [" "]}, 400),
    ({"images": images(1) * 11, "questions": ["q"] * 10}, 400),
    ({"images": [{"name": "x", "data": "!!!not base64!!!"}], "questions": ["q"]}, 400),
    ({"images": images(1), "questions": ["q"], "window": "purple"}, 400),
])
def test_bad_comparisons_are_refused_before_any_work(lab, body, status):
    response = requests.post(lab.url + "/api/experiments/compare", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def set_zip(text, files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("chest/set.yaml", text)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SET = """name: api-set
params: {max_new_tokens: 3}
cases:
  - {id: passes, images: [img/a.png], question: Describe., expect: {regex: "(?s)."}}
  - {id: fails, images: [img/b.png], question: Effusion?, expect: {contains_all: [zzzz]}}
"""


def test_a_regression_set_uploaded_as_zip_runs_and_remembers_its_runs(lab):
    archive = set_zip(SET, {"chest/img/a.png": png(30, 30), "chest/img/b.png": png(50, 20, seed=3)})
    first = requests.post(lab.url + "/api/regression-runs", data=archive, headers={"Content-Type": "application/zip"}, timeout=300)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["file"] == "chest/set.yaml" and report["passed"] == 1 and report["failed"] == 1
    assert {c["id"]: c["passed"] for c in report["cases"]} == {"passes": True, "fails": False}
    second = requests.post(lab.url + "/api/regression-runs", data=archive, headers={"Content-Type": "application/zip"}, timeout=300).json()
    assert second["previous_run_id"] == report["run_id"]
    assert all(c["previous"] == {"passed": c["passed"], "answer_changed": False} for c in second["cases"])
    runs = requests.get(lab.url + "/api/regression-runs", params={"set": "api-set"}).json()["runs"]
    assert [r["id"] for r in runs] == [second["run_id"], report["run_id"]] and runs[0]["pass_rate"] == 0.5
    html = requests.get(f"{lab.url}/api/experiments/{second['run_id']}", params={"format": "html"}).text
    assert "1 of 2 passed" in html


@pytest.mark.parametrize("archive, message", [
    (b"not a zip at all", "send the set as a ZIP"),
    (set_zip(SET.replace("regex", "regexp"), {"chest/img/a.png": png(8, 8), "chest/img/b.png": png(8, 8)}), "chest/set.yaml:4"),
    (set_zip(SET, {"chest/img/a.png": png(8, 8)}), "image img/b.png does not exist"),
    (set_zip(SET, {"../evil.png": png(8, 8)}), "outside the set"),
])
def test_a_bad_set_upload_is_a_400_naming_the_problem(lab, archive, message):
    response = requests.post(lab.url + "/api/regression-runs", data=archive, headers={"Content-Type": "application/zip"}, timeout=60)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_unknown_experiments_are_404(lab):
    assert requests.get(lab.url + "/api/experiments/nope").status_code == 404
    assert requests.get(lab.url + "/api/experiments", params={"kind": "other"}).status_code == 400
