"""The web page is served by `medlab serve` itself: right types, no key needed, nothing outside web/."""
import os

import requests

from test_server_fixture import Server

MODELS = os.environ.get("MEDLAB_TEST_MODELS", os.path.expanduser("~/.cache/medlab/test-models"))
TINY = ["--model", os.path.join(MODELS, "tiny-gemma3.gguf"), "--mmproj", os.path.join(MODELS, "tiny-mmproj.gguf")]


def test_page_and_modules_are_served_without_the_api_key():
    server = Server(*TINY, "--api-key", "secret-key", wait_ready=False)
    try:
        page = requests.get(server.url + "/", timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "not for diagnosis" in page.text.lower() or "仅供科研与教学使用" in page.text
        module = requests.get(server.url + "/js/main.js", timeout=10)
        assert module.status_code == 200
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.headers["cache-control"] == "no-cache"
        again = requests.get(server.url + "/js/main.js", headers={"If-None-Match": module.headers["etag"]}, timeout=10)
        assert again.status_code == 304
        # The API behind the page still wants the key.
        assert requests.post(server.url + "/api/predict", json={"question": "x"}, timeout=10).status_code == 401
        # Paths outside web/ are never served: they fall through to the API (which wants the key).
        for path in ["/../Package.swift", "/js/../../Package.swift", "/.gitignore", "/no-such-file.js"]:
            response = requests.get(server.url + path, timeout=10)
            assert response.status_code in (401, 404), path
            assert "PackageDescription" not in response.text
    finally:
        server.stop()
