"""The loopback load test of bench/load (issue #19) in a short, bounded form: the same script and
pass criteria as the 64-client minute, with 12 clients for 8 s against the demo model, and its
memory rule checked on made-up samples."""
import json
import os
import subprocess
import sys
import tempfile

from test_server_fixture import ROOT, medlab_bin

sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
import load  # noqa: E402


def test_a_short_load_run_passes_every_criterion():
    out = tempfile.NamedTemporaryFile(prefix="medlab-load-", suffix=".json", delete=False).name
    # Queue 2 < 12 clients: most generation requests are refused, so 429s are exercised too.
    command = [sys.executable, os.path.join(ROOT, "bench", "load", "load.py"), "--medlab", medlab_bin(),
               "--seconds", "8", "--clients", "12", "--queue", "2", "--max-new-tokens", "8", "--json", out]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    print(run.stdout[-4000:], run.stderr[-2000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    with open(out) as f:
        figures = json.load(f)
    assert figures["verdicts"] and all(v["pass"] for v in figures["verdicts"]), figures["verdicts"]
    kinds = figures["kinds"]
    assert all(kinds[kind]["statuses"].get("200", 0) >= 1 for kind in load.KINDS), kinds
    refused = sum(k["statuses"].get("429", 0) for k in kinds.values())
    assert refused >= 1, "the queue bound was never reached"
    assert figures["health_probe"]["count"] >= 50
    assert figures["server"]["exit_code"] == 0


def test_the_memory_rule_compares_the_end_with_the_level_after_warm_up():
    # 1 GiB during warm-up's burst, 400 MiB after it, 420 MiB at the end: +5 % exactly.
    samples = [(t, 1 << 20) for t in range(0, 60, 2)]
    samples += [(t, 400 << 10) for t in range(60, 590, 2)] + [(t, 420 << 10) for t in range(590, 601, 2)]
    rss = load.rss_figures(samples, warmup=60, window=10, load_seconds=600)
    assert rss["after_warmup"] == 400 << 10 and rss["end"] == 420 << 10
    assert abs(rss["growth_pct"] - 5.0) < 1e-9
    assert rss["peak_after_warmup"] == 420 << 10
    # One high sample in the last window does not decide the verdict; a level change does.
    spiky = samples[:-6] + [(590, 400 << 10), (592, 400 << 10), (594, 600 << 10), (596, 400 << 10), (598, 400 << 10)]
    assert load.rss_figures(spiky, warmup=60, window=10, load_seconds=600)["growth_pct"] == 0
