"""Prompt comparison grids and regression sets (issue #14) through the real CLI, the tiny
real model and a real record file; verdicts are re-derived here from the answers the record
kept."""
import json
import re
import sqlite3
import subprocess

import pytest

from test_batch import TINY, png
from test_server_fixture import medlab_bin

PARAMS = ["--max-new-tokens", "6"]


def medlab(*args, timeout=600):
    return subprocess.run([medlab_bin(), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def images(tmp_path):
    folder = tmp_path / "cxr"
    folder.mkdir()
    paths = []
    for n, (w, h) in enumerate([(64, 48), (40, 40), (80, 30)]):
        path = folder / f"img{n}.png"
        path.write_bytes(png(w, h, seed=n * 17))
        paths.append(path)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    return paths


SET = """\
name: tiny-basics
params: {max_new_tokens: 6, temperature: 0}
cases:
  - id: anything
    images: [cxr/img0.png]
    question: Describe the image.
    expect:
      regex: "(?s)."
  - id: impossible
    images: [cxr/img1.png]
    question: Is there a pleural effusion?
    expect:
      contains_all: [zzzunlikelyzzz]
  - id: never-says
    image: cxr/img2.png
    question: Any consolidation?
    context: "Prior report: clear lungs."
    expect:
      not_contains: [qqqneverqqq]
      contains_any: [qqqneverqqq, "{first}"]
  - id: unreadable
    images: [cxr/broken.png]
    question: What is this?
"""


def judge(case, answer):
    """The set's rules, applied here to an answer the record kept."""
    text = answer.lower()
    e = case["expect"]
    ok = True
    if "contains_any" in e:
        ok &= any(w.lower() in text for w in e["contains_any"])
    ok &= all(w.lower() in text for w in e.get("contains_all", []))
    ok &= not any(w.lower() in text for w in e.get("not_contains", []))
    if "regex" in e:
        ok &= re.search(e["regex"], answer) is not None
    return ok


def test_regression_runs_judge_compare_and_set_exit_codes(images, tmp_path):
    record = tmp_path / "lab.sqlite"
    # The word the model is sure to write, taken from `ask` on the same image and settings.
    first = json.loads(medlab("ask", *TINY, *PARAMS, "--no-record", "--json", "--image", str(images[2]),
                              "--context", "Prior report: clear lungs.", "Any consolidation?").stdout)["answer"].split()[0]
    set_file = tmp_path / "set.yaml"
    set_file.write_text(SET.replace("{first}", first.replace('"', "")))
    args = ["regress", str(set_file), *TINY, "--record", str(record)]

    run = medlab(*args, "--json", str(tmp_path / "r1.json"), "--report", str(tmp_path / "r1.html"))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "r1.json").read_text())
    assert report["set"] == "tiny-basics" and report["model"]["sha256"] and len(report["model"]["sha256"]) == 64
    cases = {c["id"]: c for c in report["cases"]}
    assert set(cases) == {"anything", "impossible", "never-says", "unreadable"}
    with sqlite3.connect(record) as db:
        stored = dict(db.execute("SELECT id, answer FROM analysis WHERE run_id = ?", (report["run_id"],)))
    for case in report["cases"]:
        if case["id"] == "unreadable":
            continue
        assert stored[case["analysis_id"]] == case["answer"]
        assert case["passed"] == judge(case, stored[case["analysis_id"]]), case
    assert cases["anything"]["passed"] and cases["never-says"]["passed"]
    assert not cases["impossible"]["passed"] and cases["impossible"]["failed_expectations"]
    assert not cases["unreadable"]["passed"] and cases["unreadable"]["error"]
    assert report["passed"] == 2 and report["failed"] == 2 and report["pass_rate"] == 0.5
    assert all(c["previous"] is None for c in report["cases"])

    # A second run names the first for every case; greedy answers do not change.
    strict = medlab(*args, "--json", str(tmp_path / "r2.json"), "--min-pass", "1.0")
    assert strict.returncode == 1, strict.stderr
    second = json.loads((tmp_path / "r2.json").read_text())
    assert second["previous_run_id"] == report["run_id"]
    for case in second["cases"]:
        assert case["previous"] == {"passed": cases[case["id"]]["passed"], "answer_changed": False}
    assert medlab(*args, "--json", str(tmp_path / "r3.json"), "--min-pass", "0.5").returncode == 0

    # A case that passed now fails: a regression, exit 1 with --no-regressions.
    set_file.write_text(SET.replace("{first}", first.replace('"', "")).replace('regex: "(?s)."', "contains_all: [zzznope]"))
    regressed = medlab(*args, "--json", str(tmp_path / "r4.json"), "--no-regressions")
    assert regressed.returncode == 1
    assert json.loads((tmp_path / "r4.json").read_text())["newly_failing"] == ["anything"]
    assert "newly failing: anything" in regressed.stderr


@pytest.mark.parametrize("text, message", [
    ("name: x\ncases: [\n", "bad.yaml:3"),
    ("name: x\ncases: []\n", "`cases` must list at least one case"),
    ("name: x\ncases:\n  - id: a\n    question: q\n    expect: {contains: [x]}\n", "bad.yaml:5: case a: expect: unknown key `contains`"),
    ("name: x\ncases:\n  - {id: a, question: q}\n  - {id: a, question: r}\n", "case a: the id is used twice"),
    ("name: x\ncases:\n  - id: a\n    images: [missing.png]\n    question: q\n", "case a: image missing.png does not exist"),
    ("cases:\n  - {id: a, question: q}\n", "name is missing"),
    ("name: x\ncases:\n  - {id: a, question: q, expect: {regex: '(['}}\n", "not a valid regular expression"),
    ("name: x\nparams:\n  schema: {type: object, patternProperties: {a: {}}}\ncases:\n  - {id: a, question: q}\n",
     "bad.yaml:3: params.schema:"),
])
def test_a_set_that_cannot_be_used_exits_2_naming_file_case_and_field(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    record = tmp_path / "lab.sqlite"
    result = medlab("regress", str(tmp_path / "bad.yaml"), *TINY, "--record", str(record))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not record.exists()  # nothing half-stored


def test_a_json_set_is_accepted(images, tmp_path):
    (tmp_path / "set.json").write_text(json.dumps({"name": "json-set", "params": {"max_new_tokens": 4},
                                                   "cases": [{"id": "one", "images": ["cxr/img0.png"], "question": "Describe."}]}))
    result = medlab("regress", str(tmp_path / "set.json"), *TINY, "--no-record")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cases"][0]["passed"] is True


def test_compare_grid_cells_equal_ask_on_the_same_inputs(images, tmp_path):
    record = tmp_path / "lab.sqlite"
    questions = ["Describe the image.", "Is there a pleural effusion?"]
    result = medlab("compare", *TINY, *PARAMS, "--record", str(record), *sum([["--image", str(p)] for p in images], []),
                    *sum([["-q", q] for q in questions], []), "--json", str(tmp_path / "grid.json"),
                    "--report", str(tmp_path / "grid.html"))
    assert result.returncode == 0, result.stderr
    grid = json.loads((tmp_path / "grid.json").read_text())
    assert grid["questions"] == questions and [i["name"] for i in grid["images"]] == [p.name for p in images]
    assert len(grid["cells"]) == 6 and grid["model"]["file"] == "tiny-gemma3.gguf"
    for cell in grid["cells"]:
        path = next(p for p in images if p.name == cell["image"])
        ask = medlab("ask", *TINY, *PARAMS, "--no-record", "--json", "--image", str(path), cell["question"])
        assert ask.returncode == 0, ask.stderr
        assert cell["answer"] == json.loads(ask.stdout)["answer"], cell
    with sqlite3.connect(record) as db:
        kept = db.execute("SELECT COUNT(*), MIN(source) FROM analysis WHERE run_id = ?", (grid["experiment_id"],)).fetchone()
        stored = db.execute("SELECT kind FROM experiment WHERE id = ?", (grid["experiment_id"],)).fetchone()
    assert kept == (6, "compare") and stored == ("compare",)
    html = (tmp_path / "grid.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert not re.search(r"<script|<link|(src|href)=\"https?:", html)


def test_a_set_with_a_schema_constrains_answers_and_judges_fields(images, tmp_path):
    # Under params.schema every answer is an object of the schema; `fields` compares its values.
    (tmp_path / "set.yaml").write_text("""\
name: fields
params:
  max_new_tokens: 40
  schema:
    type: object
    properties: {effusion: {type: boolean}}
    required: [effusion]
cases:
  - id: says-yes
    images: [cxr/img0.png]
    question: Is there a pleural effusion?
    expect: {fields: {effusion: true}}
  - id: says-no
    images: [cxr/img0.png]
    question: Is there a pleural effusion?
    expect: {fields: {effusion: false}}
""")
    result = medlab("regress", str(tmp_path / "set.yaml"), *TINY, "--no-record")
    assert result.returncode == 0, result.stderr
    cases = {c["id"]: c for c in json.loads(result.stdout)["cases"]}
    # Each verdict is judged on its own case's answer. (The two cases ask the same thing, but they
    # decode side by side in batches of different sizes, and on the tiny random model's near-ties
    # that can flip a greedy token: the answers need not be equal.)
    answers = {case_id: json.loads(c["answer"]) for case_id, c in cases.items()}
    assert all(isinstance(a["effusion"], bool) for a in answers.values()), answers
    assert cases["says-yes"]["passed"] == answers["says-yes"]["effusion"]
    assert cases["says-no"]["passed"] == (not answers["says-no"]["effusion"])
