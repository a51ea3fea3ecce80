"""The medlab binary links no FoundationNetworking (and so no libcurl): a static release link
(bench/gpu/prepare.sh, for the GPU machine) has no libcurl to find, so one HTTP client
(AsyncHTTPClient) serves the whole code base."""
import subprocess

from test_server_fixture import medlab_bin


def test_medlab_needs_neither_foundation_networking_nor_curl():
    libraries = subprocess.run(["ldd", medlab_bin()], capture_output=True, text=True, check=True).stdout
    assert "libswiftCore" in libraries or "libFoundation" in libraries  # ldd did list the dynamic libraries
    assert "FoundationNetworking" not in libraries and "libcurl" not in libraries, libraries
