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


def shown_plane(img, index):
    """Axial slice `index` in scaled values, as medlab orients it (see expected_axial)."""
    canonical = nibabel.as_closest_canonical(img)
    data = np.asarray(canonical.get_fdata(), dtype=np.float64)
    if data.ndim == 4:
        data = data[..., 0]
    data = np.nan_to_num(data, nan=np.nanmin(data))
    return data[:, :, index][::-1, ::-1].T


def default_window_expected(img, index):
    """docs/imaging.md's one rule for a NIfTI shown without a window: cal_min–cal_max when both are
    set and differ, else the minimum–maximum of the displayed slice."""
    shown = shown_plane(img, index)
    lo, hi = float(img.header["cal_min"]), float(img.header["cal_max"])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        lo, hi = shown.min(), shown.max()
    if hi <= lo:
        return np.zeros_like(shown)
    return np.round(np.clip((shown - lo) / (hi - lo), 0, 1) * 255)


def with_calibration(path, tmp_path):
    """The file again with cal_min/cal_max at its 20th and 80th percentiles (scaled values)."""
    img = nibabel.load(path)
    data = np.asarray(img.get_fdata(), dtype=np.float64)
    lo, hi = np.nanpercentile(data, [20, 80])
    if not hi > lo:
        return None
    copy = nibabel.Nifti1Image(data.astype(np.float32), img.affine)
    copy.header["cal_min"], copy.header["cal_max"] = lo, hi
    out = tmp_path / ("calibrated-" + os.path.basename(path).replace(".nii.gz", ".nii"))
    nibabel.save(copy, str(out))
    return str(out)


@pytest.mark.parametrize("calibrated", [False, True], ids=["no-cal", "cal"])
@pytest.mark.parametrize("path", [p for p in FILES if len(nibabel.load(p).shape) >= 3], ids=os.path.basename)
def test_the_default_window_is_one_rule(medlab, path, calibrated, tmp_path):
    if calibrated:
        path = with_calibration(path, tmp_path)
        if path is None:
            pytest.skip("a constant volume has no percentile window")
    img = nibabel.load(path)
    zooms = nibabel.as_closest_canonical(img).header.get_zooms()[:3]
    if abs(zooms[1] / zooms[0] - 1) >= 0.01:
        pytest.skip("non-square pixels are resampled; the window rule is checked on square ones")
    index = img.shape[2] // 2 if nibabel.aff2axcodes(img.affine)[2] in "SI" else nibabel.as_closest_canonical(img).shape[2] // 2
    out = tmp_path / "default.png"
    run = subprocess.run([medlab, "convert", path, str(out), "--slice", str(index + 1), "--plane", "axial"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    got = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    expected = default_window_expected(img, index)
    if calibrated:
        # The calibrated window must show differently from min–max, or this case proves nothing.
        plane = shown_plane(img, index)
        stretched = np.round((plane - plane.min()) / (plane.max() - plane.min()) * 255)
        assert np.abs(stretched - expected).max() > 8
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1, f"default window: {np.abs(got - expected).max()} grey levels off"
