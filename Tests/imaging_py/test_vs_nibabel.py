"""`medlab convert` / `medlab info` on the NIfTI files that ship inside PyPI's nibabel, against
nibabel's own reading: shape, scaling, and the orientation of docs/imaging.md (axial slices with
the patient's right on the image's left and anterior at the top, true proportions)."""
import glob
import json
import os
import subprocess

import nibabel
import numpy as np
import pytest
from PIL import Image

DATA = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data")
FILES = sorted(p for p in glob.glob(os.path.join(DATA, "*.nii*")) if ".dconn." not in p)  # CIFTI is not an image volume


def expected_axial(img, index):
    """nibabel's reading of axial slice `index`, in RAS+ (as_closest_canonical), shown as medlab shows it."""
    canonical = nibabel.as_closest_canonical(img)
    data = np.asarray(canonical.dataobj, dtype=np.float64)
    if data.ndim == 4:
        data = data[..., 0]  # the first volume of 4-D data
    data = np.nan_to_num(data, nan=np.nanmin(data))  # medlab reads NaN voxels as the volume's lowest value
    plane = data[:, :, index]                    # [x: left → right, y: posterior → anterior]
    shown = plane[::-1, ::-1].T                  # rows anterior → posterior, columns patient's right → left
    lo, hi = shown.min(), shown.max()
    scaled = np.round((shown - lo) / (hi - lo) * 255) if hi > lo else np.zeros_like(shown)
    return scaled, canonical.header.get_zooms()[:3]


def test_the_files_are_there():
    assert len(FILES) >= 6, f"nibabel's test data moved? {DATA}"


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_matches_nibabel(medlab, path, tmp_path):
    img = nibabel.load(path)
    info = subprocess.run([medlab, "info", path], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    meta = json.loads(info.stdout)
    assert sorted(meta["volumeShape"][:3]) == sorted(img.shape[:3])
    depth = img.shape[2] if nibabel.aff2axcodes(img.affine)[2] in "SI" else None
    index = (depth or img.shape[2]) // 2
    out = tmp_path / "slice.png"
    run = subprocess.run([medlab, "convert", path, str(out), "--slice", str(index + 1), "--plane", "axial", "--window", "minmax"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    got = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    expected, zooms = expected_axial(img, index)
    aspect = zooms[1] / zooms[0]
    if abs(aspect - 1) < 0.01:
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1, "pixels differ: orientation or scaling"
    else:
        # Non-square pixels are shown in true proportions: rows stretched by the aspect, then compared by row blocks.
        rows = round(expected.shape[0] * aspect)
        assert got.shape == (rows, expected.shape[1])
        k = round(aspect)
        assert abs(aspect - k) < 0.01, "test data with an integer aspect expected"
        blocks = got.reshape(expected.shape[0], k, expected.shape[1]).mean(axis=1)
        assert np.corrcoef(blocks.ravel(), expected.ravel())[0, 1] > 0.98
    # A flipped reading must not pass: the test can tell orientations apart on these files.
    if expected.shape[0] > 2 and got.shape == expected.shape and np.abs(expected - expected[::-1]).max() > 8:
        assert np.abs(got - expected[::-1]).max() > 1
