"""The Ask view's "Answer as JSON fields": the field editor, the schema the page sends, the answer
as a field | value table, and the errors (a duplicate name inline, json_error, a server 400)."""
from __future__ import annotations

import json
import urllib.request

from selenium.webdriver.support.ui import Select

EXAMPLE_SCHEMA = {
    "type": "object",
    "properties": {
        "effusion": {"type": "boolean", "description": "Is there a pleural effusion?"},
        "side": {"type": "string", "enum": ["left", "right", "none"]},
    },
    "required": ["effusion", "side"],
}
QUESTION = "Is there a pleural effusion? Which side?"


def answer_state(page):
    return page.js("return document.getElementById('answer-state').dataset.state || ''")


def load_image(page, images):
    page.upload(images.png)
    page.wait(lambda d: len(page.thumbs()) == 1 and page.canvas_signature()[1] > 100, message="no preview")


def fields_on(page):
    page.el("#fields-on").click()
    page.wait(lambda d: page.el("#fields-editor").is_displayed())


def set_max_tokens(page, value):
    """Types into "Max new tokens" under the advanced settings, as a user would."""
    if not page.el(".advanced").get_attribute("open"):
        page.el(".advanced summary").click()
    field = page.el("#max-tokens")
    field.clear()
    field.send_keys(str(value))


def rows(page):
    return page.js("""return [...document.querySelectorAll('#fields-rows .field-row')].map(li => ({
        name: li.querySelector('.field-name').value, type: li.querySelector('.field-type').value,
        description: li.querySelector('.field-desc').value, options: li.querySelector('.field-options').value,
        optionsShown: !li.querySelector('.field-options').hidden}))""")


def table(page):
    return page.js("""return [...document.querySelectorAll('#fields-table tbody tr')].map(tr =>
        [tr.querySelector('th').textContent, tr.querySelector('td').textContent])""")


def ask(page, question=QUESTION):
    page.el("#question").clear()
    page.el("#question").send_keys(question)
    page.el("#ask").click()
    page.wait(lambda d: answer_state(page) in ("stateDone", "stateFailed"), 240)


def latest_analysis(page):
    with urllib.request.urlopen(page.url + "api/analyses?limit=1", timeout=10) as r:
        return json.loads(r.read())["analyses"][0]


def test_answer_as_json_fields_shows_a_table(page, images):
    page.open()
    load_image(page, images)
    page.record_requests()
    assert not page.el("#fields-editor").is_displayed()
    fields_on(page)
    # The two example rows; the choice row shows its options.
    assert rows(page) == [
        {"name": "effusion", "type": "boolean", "description": "Is there a pleural effusion?", "options": "", "optionsShown": False},
        {"name": "side", "type": "enum", "description": "", "options": "left, right, none", "optionsShown": True},
    ]
    set_max_tokens(page, 80)
    page.shot("editor")
    ask(page)
    assert answer_state(page) == "stateDone", page.text("#error")
    assert not page.el("#error").is_displayed()

    # What was sent: the schema built from the rows, streamed, with the typed token budget.
    body = page.sent("api/predict")[-1]
    assert body["schema"] == EXAMPLE_SCHEMA
    assert body["stream"] is True and body["max_new_tokens"] == 80 and body["question"] == QUESTION

    # The table: one row per field, in the editor's order; the raw JSON folded away.
    page.wait(lambda d: page.el("#fields-table").is_displayed())
    got = table(page)
    assert [name for name, _ in got] == ["effusion", "side"], got
    values = dict(got)
    assert values["side"] in ("left", "right", "none"), got
    assert values["effusion"] in ("✓ yes", "✗ no"), got
    assert not page.el("#answer").is_displayed()
    assert not page.el("#fields-json-error").is_displayed()
    page.shot("table")
    toggle = page.el("#fields-raw-toggle")
    assert toggle.text == "Show JSON" and toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    page.wait(lambda d: page.el("#answer").is_displayed())
    assert toggle.text == "Hide JSON"
    raw = page.text("#answer")
    parsed = json.loads(raw)
    # The table says what the JSON text says.
    assert set(parsed) == {"effusion", "side"}
    assert values["side"] == parsed["side"]
    assert values["effusion"] == ("✓ yes" if parsed["effusion"] is True else "✗ no")
    page.shot("raw")

    # The server's record has this analysis, with the same question and JSON text.
    record = latest_analysis(page)
    assert record["question"] == QUESTION
    assert json.loads(record["answer"]) == parsed
    assert record["params"]["max_new_tokens"] == 80

    # In Chinese: the editor, the table's header and its yes/no.
    page.el('[data-lang="zh"]').click()
    assert page.text(".fields-toggle") == "以 JSON 字段作答"
    assert page.text("#fields-editor legend") == "回答的字段(均为必填)"
    assert page.text(".fields-head").split() == ["名称", "类型", "说明"]
    assert page.text("#fields-add") == "+ 添加字段"
    type_names = page.js("return [...document.querySelector('#fields-rows .field-type').options].map(o => o.textContent)")
    assert type_names == ["文本", "是/否", "整数", "数字", "选项", "文本列表"]
    assert page.el("#fields-rows .field-name").get_attribute("aria-label") == "字段 1 的名称"
    assert page.text("#fields-table thead").split() == ["字段", "值"]
    assert dict(table(page))["effusion"] == ("✓ 是" if parsed["effusion"] is True else "✗ 否")
    assert page.text("#fields-raw-toggle") == "隐藏 JSON"
    page.shot("zh")
    page.el('[data-lang="en"]').click()
    assert page.text(".fields-toggle") == "Answer as JSON fields"
    assert dict(table(page))["effusion"] in ("✓ yes", "✗ no")


def test_duplicate_field_name_is_refused_inline_and_rows_are_remembered(page, images):
    page.open()
    load_image(page, images)
    page.record_requests()
    fields_on(page)
    second = page.els("#fields-rows .field-name")[1]
    second.clear()
    second.send_keys("effusion")
    page.el("#question").send_keys(QUESTION)
    page.el("#ask").click()
    page.wait(lambda d: page.el("#fields-error").is_displayed())
    assert "effusion" in page.text("#fields-error") and "unique" in page.text("#fields-error")
    invalid = page.js("return [...document.querySelectorAll('#fields-rows .field-name')].map(i => i.getAttribute('aria-invalid'))")
    assert invalid == ["true", "true"]
    assert page.js("return document.activeElement") == second  # the later one is to be renamed
    # Nothing was sent and nothing changed below.
    assert page.sent("api/predict") == []
    assert not page.el("#answer-box").is_displayed()
    assert not page.el("#error").is_displayed()
    assert answer_state(page) == ""
    page.shot("duplicate")
    # The message follows the language.
    page.el('[data-lang="zh"]').click()
    assert "effusion" in page.text("#fields-error") and "不能重复" in page.text("#fields-error")
    page.el('[data-lang="en"]').click()

    # An empty name is refused too; fixing the names clears the error as one types.
    second.clear()
    page.el("#ask").click()
    page.wait(lambda d: page.text("#fields-error") == "Field 2 needs a name.")
    second.send_keys("side")
    page.wait(lambda d: not page.el("#fields-error").is_displayed())
    assert page.sent("api/predict") == []

    # A new row of type choice, a list of text; one removed. The rows survive a reload.
    page.el("#fields-add").click()
    third = page.els("#fields-rows .field-row")[2]
    assert page.js("return document.activeElement") == third.find_element("css selector", ".field-name")
    third.find_element("css selector", ".field-name").send_keys("findings")
    Select(third.find_element("css selector", ".field-type")).select_by_value("array")
    third.find_element("css selector", ".field-desc").send_keys("Every finding, briefly")
    page.el("#fields-add").click()
    page.els("#fields-rows .field-remove")[3].click()
    expected = [
        {"name": "effusion", "type": "boolean", "description": "Is there a pleural effusion?", "options": "", "optionsShown": False},
        {"name": "side", "type": "enum", "description": "", "options": "left, right, none", "optionsShown": True},
        {"name": "findings", "type": "array", "description": "Every finding, briefly", "options": "", "optionsShown": False},
    ]
    assert rows(page) == expected
    page.open(clear_storage=False)
    assert rows(page) == expected
    assert not page.el("#fields-editor").is_displayed()  # the rows are kept, the option starts off


def test_json_error_and_a_refused_schema_are_shown(page, images):
    page.open()
    load_image(page, images)
    page.record_requests()
    fields_on(page)
    # Too few tokens to close the object: the final event carries json_error, the raw text stays visible.
    set_max_tokens(page, 4)
    ask(page)
    assert answer_state(page) == "stateDone", page.text("#error")
    page.wait(lambda d: page.el("#fields-json-error").is_displayed())
    assert "max_new_tokens" in page.text("#fields-json-error")
    assert page.text("#fields-json-error").startswith("The answer is not the JSON object asked for:")
    assert not page.el("#fields-table").is_displayed() and not page.el("#fields-raw-toggle").is_displayed()
    assert page.el("#answer").is_displayed() and page.text("#answer").startswith("{")
    page.shot("json-error")
    # A schema the server refuses (400) reads like any other server error. The page never writes
    # `not`, so the test slips it into the request on its way out.
    page.js("""
        const orig = window.fetch;
        window.fetch = function(url, init) {
            if (String(url).endsWith('api/predict')) {
                const body = JSON.parse(init.body);
                body.schema.not = {};
                init = {...init, body: JSON.stringify(body)};
            }
            return orig.call(this, url, init);
        };
    """)
    set_max_tokens(page, 80)
    ask(page)
    assert answer_state(page) == "stateFailed"
    page.wait(lambda d: page.el("#error").is_displayed())
    assert page.text("#error").startswith("The server answered 400:")
    assert "`not`" in page.text("#error") and "not supported" in page.text("#error")
    assert not page.el("#answer-box").is_displayed()
    page.shot("refused")
