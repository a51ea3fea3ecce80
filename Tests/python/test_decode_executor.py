"""Image decoding runs on an executor of its own: while a 50 MB DICOM is decoded, the server
still answers `/api/health` at once."""
import statistics
import threading
import time

import numpy as np
import requests

from ct_dicom import ct_dataset, dicom_bytes
from test_server_fixture import Server


def big_ct(frames=100, size=512):
    """A multi-frame 16-bit CT of frames x size x size: 52 MB of pixel data, with texture."""
    ds = ct_dataset(size, size, bits_stored=12, intercept=-1024, NumberOfFrames=frames)
    rng = np.random.default_rng(5)
    ds.PixelData = rng.integers(0, 4096, size=(frames, size, size), dtype=np.uint16).tobytes()
    return dicom_bytes(ds)


def test_health_answers_while_a_50_mb_dicom_is_decoded():
    data = big_ct()
    assert len(data) > 50_000_000
    server = Server("--demo", "--max-body-mb", "128", "--log-format", "json")
    try:
        result = {}

        def render():
            start = time.perf_counter()
            response = requests.post(server.url + "/api/render", files={"image": ("big.dcm", data, "application/dicom")},
                                     data={"frame": "50"}, timeout=300)
            result["status"], result["seconds"] = response.status_code, time.perf_counter() - start

        worker = threading.Thread(target=render)
        worker.start()
        latencies = []
        session = requests.Session()
        while worker.is_alive():
            start = time.perf_counter()
            assert session.get(server.url + "/api/health", timeout=10).status_code == 200
            latencies.append(time.perf_counter() - start)
        worker.join()
        assert result["status"] == 200, result
        assert latencies, "the render ended before a health probe"
        median_ms = statistics.median(latencies) * 1000
        print(f"render {result['seconds'] * 1000:.0f} ms; {len(latencies)} health probes meanwhile: "
              f"median {median_ms:.1f} ms, max {max(latencies) * 1000:.1f} ms")
        assert median_ms <= 50, latencies
    finally:
        server.stop()
