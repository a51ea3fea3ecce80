"""The vision encoder's warm-up at load encodes a blank image (on a GPU by default; forced here on
the CPU with MEDLAB_VISION_WARMUP=1). It once looked at the probe prompt's first piece, which for
Gemma 3 is the `<start_of_image>` text, and so never encoded anything, silently."""
import os
import re
import subprocess

from test_batch import TINY, png
from test_server_fixture import medlab_bin


def ask(tmp_path, warmup):
    image = tmp_path / "a.png"
    image.write_bytes(png(32, 32))
    env = dict(os.environ, MEDLAB_TRACE="1", MEDLAB_VISION_WARMUP="1" if warmup else "0")
    result = subprocess.run([medlab_bin(), "ask", *TINY, "--no-record", "--max-new-tokens", "2", "--image", str(image), "What is it?"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return re.findall(r"warmup encode=(\S+)", result.stderr)


def test_the_warm_up_encodes_an_image(tmp_path):
    encoded = ask(tmp_path, warmup=True)
    assert len(encoded) == 1 and float(encoded[0]) > 0  # a time in ms, not "failed"
    assert ask(tmp_path, warmup=False) == []  # on a CPU, by default, there is nothing to warm
