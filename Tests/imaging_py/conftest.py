"""Shared fixtures for the imaging comparison tests: where `medlab` is and which files to use."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def medlab_binary():
    """`MEDLAB_BIN`, else the first built `medlab` found under the package's build folders."""
    env = os.environ.get("MEDLAB_BIN")
    if env:
        return env
    for build in (".build", ".build-imaging"):
        for config in ("release", "debug"):
            p = ROOT / build / config / "medlab"
            if p.exists():
                return str(p)
    return None


@pytest.fixture(scope="session")
def medlab():
    binary = medlab_binary()
    if binary is None:
        pytest.fail("no medlab binary: run `swift build` or set MEDLAB_BIN")
    probe = subprocess.run([binary, "convert", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"{binary} convert --help failed: {probe.stderr[-300:]}")
    return binary
