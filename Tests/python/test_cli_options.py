"""CLI options with fixed values are types: a negative window centre is a value, not an option,
and a bad value is refused by the parser with the allowed ones."""
import subprocess

from test_batch import png
from test_server_fixture import medlab_bin


def convert(tmp_path, *window):
    source = tmp_path / "in.png"
    source.write_bytes(png(40, 30, seed=1))
    return subprocess.run([medlab_bin(), "convert", str(source), str(tmp_path / "out.png"), *window],
                          capture_output=True, text=True, timeout=60)


def test_negative_window_centre_in_both_spellings(tmp_path):
    for window in (["--window", "-600,1500"], ["--window=-600,1500"], ["--window", "lung"]):
        result = convert(tmp_path, *window)
        assert result.returncode == 0, (window, result.stderr)
        assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")


def test_bad_values_are_refused_by_the_parser(tmp_path):
    result = convert(tmp_path, "--window", "nonsense")
    assert result.returncode == 64 and "--window" in result.stderr
    result = subprocess.run([medlab_bin(), "serve", "--kv-cache", "bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 64 and "'auto', 'shared' or 'separate'" in result.stderr
    result = subprocess.run([medlab_bin(), "ask", "--demo", "--packing", "sideways", "hi"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 64 and "--packing" in result.stderr
    result = convert(tmp_path, "--plane", "oblique")
    assert result.returncode == 64 and "'axial', 'coronal' or 'sagittal'" in result.stderr
    result = subprocess.run([medlab_bin(), "record", "export", "--format", "xml"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 64 and "'jsonl' and 'csv'" in result.stderr
    result = subprocess.run([medlab_bin(), "compare", "--window", "nonsense", "-q", "a", "--image", "x.png"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 64 and "--window" in result.stderr
