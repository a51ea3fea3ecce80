"""Benchmark (not a test): one window/level step on a 512×512 CT slice through the study cache
(`GET /api/studies/{study}/series/{series}/render?window=C,W`) against today's re-upload path
(`POST /api/render` with the whole file as a data URL, as web/js/api.js sends it), in one run
against one `medlab serve` with no model loaded (nothing else competes for the CPU).

    .venv/bin/python bench/studies/wl_step.py [--medlab PATH] [--steps 60] [--json OUT]

Prints the median and 90th percentile of the client's wall time per step, and the ratio. The
target (issue #18) is a median of at most 50 ms on the 2-core machine.
"""
import argparse
import base64
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "python"))
from ct_dicom import ct_dataset, dicom_bytes  # noqa: E402


def ct_slice():
    """A 512×512 signed CT slice: air around a water disc with lung-like and bone-like regions, plus noise."""
    ys, xs = np.mgrid[0:512, 0:512]
    hu = np.full((512, 512), -1000.0)
    hu[(xs - 256) ** 2 + (ys - 256) ** 2 < 220 ** 2] = 40
    hu[((xs - 180) ** 2 + (ys - 240) ** 2 < 70 ** 2) | ((xs - 330) ** 2 + (ys - 240) ** 2 < 70 ** 2)] = -800
    hu[(xs - 256) ** 2 + (ys - 380) ** 2 < 25 ** 2] = 900
    hu += np.random.default_rng(0).normal(0, 20, hu.shape)
    ds = ct_dataset(512, 512, signed=True, intercept=-1024, PixelSpacing=[0.7, 0.7], WindowCenter=40, WindowWidth=400)
    ds.PixelData = np.clip(hu + 1024, -32768, 32767).astype(np.int16).tobytes()
    return dicom_bytes(ds)


def default_binary():
    for build in ("release", "debug"):
        path = os.path.join(ROOT, ".build", build, "medlab")
        if os.path.exists(path):
            return path
    sys.exit("no medlab binary: swift build -c release (or pass --medlab)")


def start(binary):
    port_socket = __import__("socket").socket()
    port_socket.bind(("127.0.0.1", 0))
    port = port_socket.getsockname()[1]
    port_socket.close()
    env = dict(os.environ, MEDLAB_MODELS_DIR=tempfile.mkdtemp(prefix="medlab-bench-nomodel-"))
    process = subprocess.Popen([binary, "serve", "--port", str(port), "--no-demo", "--log-format", "json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/api/health", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    sys.exit("medlab serve did not start")


def timed(call, steps):
    """Milliseconds per call, after two warm-up calls."""
    for _ in range(2):
        call(0)
    times = []
    for step in range(steps):
        start = time.perf_counter()
        call(step)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times):
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(times), 1), "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
            "min_ms": round(ordered[0], 1), "steps": len(times)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--medlab", default=os.environ.get("MEDLAB_BIN") or default_binary())
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    data = ct_slice()
    process, url = start(args.medlab)
    session = requests.Session()
    try:
        study = session.post(url + "/api/studies", files=[("files", ("ct.dcm", data, "application/dicom"))], timeout=60)
        study.raise_for_status()
        study = study.json()
        series = study["series"][0]
        base = f"{url}/api/studies/{study['study_id']}/series/{series['series_id']}/render"

        def window(step):  # a drag: the centre and width move a little each step
            return f"{-600 + 7 * step},{1500 - 11 * step}"

        def cached(step):
            response = session.get(base, params={"window": window(step)}, timeout=30)
            assert response.status_code == 200 and response.content[:4] == b"\x89PNG", response.text

        def reupload(step):
            body = {"image": "data:application/dicom;base64," + base64.b64encode(data).decode(), "window": window(step)}
            response = session.post(url + "/api/render", json=body, timeout=30)
            assert response.status_code == 200, response.text
            base64.b64decode(response.json()["image"].split(",", 1)[1])

        results = {"cached": summary(timed(cached, args.steps)), "reupload": summary(timed(reupload, args.steps))}
    finally:
        process.terminate()
        process.wait(timeout=30)
    results["speedup_median"] = round(results["reupload"]["median_ms"] / results["cached"]["median_ms"], 1)
    results["binary"] = args.medlab
    results["file_bytes"] = len(data)
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(f"W/L step on a 512×512 CT slice ({len(data) >> 10} KiB), {args.steps} steps, {results['machine']}, {args.medlab}")
    for name, label in [("cached", "study cache  GET …/render"), ("reupload", "re-upload    POST /api/render")]:
        r = results[name]
        print(f"  {label}: median {r['median_ms']} ms, p90 {r['p90_ms']} ms, min {r['min_ms']} ms")
    print(f"  the cache is {results['speedup_median']}× faster (median); target: median ≤ 50 ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
