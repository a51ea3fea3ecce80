"""A model file cut short (an interrupted download) is named at start: in the log, in /api/health
and in every generation's 503, with the bytes missing, never a crash or a hang."""
import os

import requests

from test_server_fixture import Server

MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))


def test_a_truncated_model_is_named_at_start(tmp_path):
    whole = open(os.path.join(MODELS, "tiny-gemma3.gguf"), "rb").read()
    cut = tmp_path / "medgemma-cut.gguf"
    cut.write_bytes(whole[: len(whole) - 4096])
    server = Server("--no-demo", "--model", str(cut), "--log-format", "json", wait_ready=False)
    try:
        health = server.wait_status("error")
        expected = f"the file has {len(whole) - 4096} bytes, its tensors end at {len(whole)}"
        assert "truncated" in health["message"] and expected in health["message"], health
        assert "medlab pull" in health["message"]
        answer = requests.post(server.url + "/api/predict", json={"question": "q"}, timeout=10)
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "model_error", answer.text
        log = server.log()
        assert "the model could not be loaded" in log and expected in log, log[-2000:]
        # The server stays up for health checks and ends cleanly.
        assert server.stop() == 0
    finally:
        server.stop()
