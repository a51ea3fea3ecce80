"""Shared by every Python test folder: the lab record goes to a fresh folder for this test
session (XDG_DATA_HOME), never to the user's own ~/.local/share/medlab/lab.sqlite."""
import os
import tempfile

os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="medlab-test-data-")
