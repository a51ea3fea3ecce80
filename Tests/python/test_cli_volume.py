"""`medlab ask --volume` on a real CT series folder (pydicom) and a NIfTI file (nibabel)."""
import json
import os
import random
import subprocess

import nibabel
import numpy as np

from test_server_fixture import medlab_bin
from test_server_volume import ct_slice, recipe_numbers


def ask(*args):
    result = subprocess.run([medlab_bin(), "ask", "--demo", "--json", "--max-new-tokens", "2", *args, "Is there a mass?"],
                            capture_output=True, text=True, timeout=300)
    return result


def test_series_folder_is_one_volume(tmp_path):
    names = [f"IM{n:04d}" for n in random.Random(1).sample(range(1000), 100)]  # names say nothing of the order
    for index, name in enumerate(names):
        (tmp_path / name).write_bytes(ct_slice(index + 1, index * 1.25))
    result = ask("--volume", "--image", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["volume"] == {"packing": "ct", "slices_shown": 85, "slices_total": 100,
                                "slice_numbers": recipe_numbers(100)}
    assert report["usage"]["image_tokens"] == 85 * 4
    few = json.loads(ask("--volume", "--max-slices", "6", "--image", str(tmp_path)).stdout)
    assert few["volume"]["slice_numbers"] == recipe_numbers(100, 6)


def test_nifti_volume_and_clear_errors(tmp_path):
    path = tmp_path / "brain.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.arange(16 * 16 * 9, dtype=np.float32).reshape(16, 16, 9), np.eye(4)), str(path))
    report = json.loads(ask("--volume", "--packing", "grey", "--window", "minmax", "--image", str(path)).stdout)
    assert report["volume"]["packing"] == "grey" and report["volume"]["slices_total"] == 9
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.dcm").write_bytes(ct_slice(1, 0))
    single = ask("--volume", "--image", str(one))
    assert single.returncode != 0 and "more than one slice" in single.stderr
    missing = ask("--volume", "--image", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "no such file" in missing.stderr
    assert os.path.exists(path)
