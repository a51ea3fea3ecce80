"""Enhanced multi-frame CT and MR (functional groups) rendered by `medlab convert` and DCMTK's `dcm2pnm`.

pydicom writes three enhanced files (and pydicom-data's real `eCT_Supplemental.dcm` is checked too): a CT (signed 16-bit, 5 frames) and an MR (12-bit, 4 frames,
sagittal) whose frames each carry their own Pixel Value Transformation (rescale), Frame VOI
LUT (window) and Plane Position, given out of order, with non-square Pixel Measures; and a CT
whose rescale, window and Pixel Measures sit in the Shared Functional Groups.

What DCMTK 3.6.7 (Debian 12) honours, as its dcmimgle debug log says and
`test_what_dcmtk_honours` keeps checking: Pixel Value Transformation and Pixel Spacing from the
*Shared* Functional Groups only. It ignores every per-frame group, the Frame VOI LUT (shared or
per-frame: "0 VOI windows in file") and Plane Position (dcm2pnm orders nothing). Hence:

- rendering with the frame's rescale: dcm2pnm renders a copy of the file in which frame F's
  Pixel Value Transformation item is moved into the Shared Functional Groups, so DCMTK applies
  the very rescale medlab must pick for frame F; the shared-groups CT goes to DCMTK unchanged;
- the default window: DCMTK is given frame F's Frame VOI LUT window (`+Ww C W`, values read
  by pydicom) and must match medlab's default rendering of frame F; an explicit window is
  given to both;
- every frame is also checked against numpy computed from pydicom's values (rescale, then
  C.11.2.1.2 LINEAR), independent of DCMTK;
- Pixel Measures: `medlab info` against pydicom's values, and DCMTK's pixel aspect ratio;
- Plane Position: `medlab info`'s `sliceOrder` against numpy's order along the slice normal.

Tolerance as in `test_vs_pydicom.py`: at most 1 grey level.
"""
import json
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"

# name: frames' (slope, intercept), Frame VOI LUT (center, width), position along the normal,
# Pixel Measures [row, column] mm, orientation, explicit window, and where the groups sit.
SPECS = {
    "ct": dict(sop=ENHANCED_CT, modality="CT", signed=True, bits=16, rows=24, cols=32,
               rescale=[(1, -1024), (0.5, 0), (2, -500), (1.25, 10), (0.75, -2048)],
               windows=[(40, 400), (100, 800), (-600, 1500), (300, 1000), (0, 2000)],
               positions=[20, 0, 40, 10, 30], spacing=[0.5, 0.8], thickness=2.0,
               orientation=[1, 0, 0, 0, 1, 0], explicit=(200, 1500), shared=False),
    "mr": dict(sop=ENHANCED_MR, modality="MR", signed=False, bits=12, rows=20, cols=28,
               rescale=[(1, 0), (2.5, -100), (0.5, 50), (1.75, 0)],
               windows=[(2000, 4000), (5000, 9000), (1000, 1500), (3500, 5000)],
               positions=[-12, 6, -30, 0], spacing=[0.9, 1.2], thickness=3.0,
               orientation=[0, 1, 0, 0, 0, -1], explicit=(1500, 3000), shared=False),
    "ct_shared": dict(sop=ENHANCED_CT, modality="CT", signed=True, bits=16, rows=16, cols=20,
                      rescale=[(0.5, -1024)] * 3, windows=[(50, 350)] * 3, positions=[5, 0, 10],
                      spacing=[0.7, 0.35], thickness=1.0, orientation=[1, 0, 0, 0, 1, 0],
                      explicit=(-600, 1500), shared=True),
}


def item(**values):
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def plane_position(spec, f):
    """Patient position of frame f: the spec's distance along the orientation's normal."""
    o = np.array(spec["orientation"], dtype=float)
    normal = np.cross(o[:3], o[3:])
    return list(np.array([-100.0, -90.0, 15.0]) + spec["positions"][f] * normal)


def build(name, path):
    """Writes the spec's enhanced file with pydicom; returns the stored values per frame."""
    spec = SPECS[name]
    n = len(spec["rescale"])
    rng = np.random.default_rng(18)
    shape = (n, spec["rows"], spec["cols"])
    ramp = np.linspace(0, 1, spec["rows"] * spec["cols"]).reshape(shape[1:])
    if spec["signed"]:
        pixels = (ramp * 4000 - 1000 + rng.integers(-200, 200, shape)).clip(-32768, 32767).astype(np.int16)
    else:
        pixels = (ramp * 4095 * 0.9 + rng.integers(0, 400, shape)).clip(0, 4095).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = spec["sop"]
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = spec["sop"], meta.MediaStorageSOPInstanceUID
    ds.Modality = spec["modality"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.NumberOfFrames, ds.Rows, ds.Columns = n, spec["rows"], spec["cols"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, spec["bits"], spec["bits"] - 1
    ds.PixelRepresentation = 1 if spec["signed"] else 0
    rescale_type = "HU" if spec["modality"] == "CT" else "US"

    def pvt(f):
        slope, intercept = spec["rescale"][f]
        return Sequence([item(RescaleIntercept=intercept, RescaleSlope=slope, RescaleType=rescale_type)])

    def voi(f):
        center, width = spec["windows"][f]
        return Sequence([item(WindowCenter=center, WindowWidth=width, WindowCenterWidthExplanation=f"FRAME {f + 1}")])

    measures = Sequence([item(PixelSpacing=spec["spacing"], SliceThickness=spec["thickness"])])
    shared = item(PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=spec["orientation"])]))
    if spec["shared"]:
        shared.PixelValueTransformationSequence, shared.FrameVOILUTSequence = pvt(0), voi(0)
    if spec["shared"] or spec["modality"] == "CT":
        shared.PixelMeasuresSequence = measures
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for f in range(n):
        own = item(PlanePositionSequence=Sequence([item(ImagePositionPatient=plane_position(spec, f))]))
        if not spec["shared"]:
            own.PixelValueTransformationSequence, own.FrameVOILUTSequence = pvt(f), voi(f)
        if spec["modality"] == "MR":
            own.PixelMeasuresSequence = measures  # per-frame Pixel Measures (the MR's placement)
        frames.append(own)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return pixels


def groups(ds, f, macro):
    """Frame f's item of a functional group macro, per-frame first, then shared (what medlab must do)."""
    for level in (ds.PerFrameFunctionalGroupsSequence[f], ds.SharedFunctionalGroupsSequence[0]):
        if macro in level:
            return level[macro].value[0]
    return None


def promoted(ds, f, path):
    """A copy whose Shared Functional Groups hold frame f's rescale, the one place DCMTK reads it."""
    copy = pydicom.dcmread(ds.filename)
    copy.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence = Sequence(
        [groups(ds, f, "PixelValueTransformationSequence")])
    for own in copy.PerFrameFunctionalGroupsSequence:
        if "PixelValueTransformationSequence" in own:
            del own.PixelValueTransformationSequence
    copy.save_as(path)
    return path


def numpy_render(pixels, ds, f, window):
    """Frame f by the standard: rescale from pydicom's values, LINEAR window (C.11.2.1.2.1), 8-bit."""
    pvt = groups(ds, f, "PixelValueTransformationSequence")
    values = pixels[f].astype(np.float64) * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept)
    center, width = window
    y = np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0, 1) * 255
    return np.rint(y)


def frame_window(ds, f):
    voi = groups(ds, f, "FrameVOILUTSequence")
    return float(voi.WindowCenter), float(voi.WindowWidth)


def read_grey(path):
    img = np.asarray(Image.open(path)).astype(np.float64)
    return img[:, :, 0] if img.ndim == 3 else img


@pytest.fixture(scope="session")
def dcm2pnm():
    binary = shutil.which("dcm2pnm")
    if binary is None:
        pytest.fail("dcm2pnm is missing: `apt-get install dcmtk` (scripts/setup.sh installs it)")
    return binary


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("enhanced")
    out = {}
    for name in SPECS:
        path = root / f"{name}.dcm"
        pixels = build(name, path)
        out[name] = (str(path), pixels, pydicom.dcmread(path))
    return out


def medlab_frame(medlab, path, frame, out, window=None):
    args = [medlab, "convert", path, str(out), "--frame", str(frame + 1)]
    if window is not None:
        args += ["--window", f"{window[0]:g},{window[1]:g}"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return read_grey(out)


def dcmtk_frame(dcm2pnm, path, frame, out, window):
    args = [dcm2pnm, "--write-raw-pnm", "--frame", str(frame + 1), "--set-window", f"{window[0]:g}", f"{window[1]:g}",
            str(path), str(out)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return read_grey(out)


CASES = [(name, f) for name, spec in SPECS.items() for f in range(len(spec["rescale"]))]


@pytest.mark.parametrize("name,frame", CASES, ids=[f"{n}-frame{f + 1}" for n, f in CASES])
@pytest.mark.parametrize("window", ["default", "explicit"])
def test_frame_matches_dcmtk_and_numpy(medlab, dcm2pnm, files, tmp_path, name, frame, window):
    path, pixels, ds = files[name]
    chosen = frame_window(ds, frame) if window == "default" else SPECS[name]["explicit"]
    got = medlab_frame(medlab, path, frame, tmp_path / "medlab.png", None if window == "default" else chosen)
    source = path if SPECS[name]["shared"] else promoted(ds, frame, tmp_path / "promoted.dcm")
    dcmtk = dcmtk_frame(dcm2pnm, source, frame, tmp_path / "dcmtk.pgm", chosen)
    expected = numpy_render(pixels, ds, frame, chosen)
    assert got.shape == dcmtk.shape == expected.shape
    vs_dcmtk = np.abs(got - dcmtk)
    vs_numpy = np.abs(got - expected)
    assert vs_dcmtk.max() <= 1, f"DCMTK: max {vs_dcmtk.max()}, mean {vs_dcmtk.mean():.3f}"
    assert vs_numpy.max() <= 1, f"numpy: max {vs_numpy.max()}, mean {vs_numpy.mean():.3f}"
    # The frame's own rescale and window must matter: another frame's would render differently.
    assert np.unique(got).size > 16


def dcmtk_facts(dcm2pnm, path, frame):
    """dcm2pnm's verbose image details of one frame: windows in file, min/max modality value, aspect."""
    run = subprocess.run([dcm2pnm, "-v", "-im", "--frame", str(frame + 1), str(path), "/dev/null"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    text = run.stderr  # the log goes to stderr

    def number(label):
        return float(re.search(rf"{label}\s*:\s*(-?[\d.]+)", text).group(1))

    return dict(windows=number("VOI windows in file"), maximum=number("maximum pixel value"),
                minimum=number("minimum pixel value"), aspect=number("pixel aspect ratio"))


def test_what_dcmtk_honours(dcm2pnm, files):
    """Keeps docs/imaging.md's account of DCMTK 3.6.7 true: shared rescale and spacing yes, per-frame and VOI no."""
    path, pixels, ds = files["ct"]
    facts = dcmtk_facts(dcm2pnm, path, 1)
    assert facts["windows"] == 0, "DCMTK now reads the Frame VOI LUT: compare against it directly"
    assert (facts["minimum"], facts["maximum"]) == (pixels[1].min(), pixels[1].max()), \
        "DCMTK now applies the per-frame rescale: compare against the file directly"
    path, pixels, ds = files["ct_shared"]
    facts = dcmtk_facts(dcm2pnm, path, 0)
    assert facts["windows"] == 0
    # The log prints whole numbers.
    assert facts["minimum"] == pytest.approx(pixels[0].min() * 0.5 - 1024, abs=1)
    assert facts["maximum"] == pytest.approx(pixels[0].max() * 0.5 - 1024, abs=1)


@pytest.mark.parametrize("name", list(SPECS))
def test_pixel_measures(medlab, dcm2pnm, files, name):
    path, pixels, ds = files[name]
    info = json.loads(subprocess.run([medlab, "info", path], capture_output=True, text=True, check=True).stdout)
    measures = groups(ds, 0, "PixelMeasuresSequence")
    assert info["pixelSpacing"] == [float(v) for v in measures.PixelSpacing]
    assert info["sliceThickness"] == float(measures.SliceThickness)
    spacing = SPECS[name]["spacing"]
    aspect = dcmtk_facts(dcm2pnm, path, 0)["aspect"]  # printed to 2 decimals
    if name == "mr":  # DCMTK reads Pixel Spacing from the shared groups only; the MR has it per frame
        assert aspect == 1.0
    else:
        assert abs(aspect - spacing[0] / spacing[1]) <= 0.005 + 1e-9


@pytest.mark.parametrize("name", list(SPECS))
def test_slice_order(medlab, files, name):
    """`sliceOrder`: stored frame numbers along the slice normal, as numpy computes from pydicom's values."""
    path, pixels, ds = files[name]
    info = json.loads(subprocess.run([medlab, "info", path], capture_output=True, text=True, check=True).stdout)
    o = np.array(groups(ds, 0, "PlaneOrientationSequence").ImageOrientationPatient, dtype=float)
    normal = np.cross(o[:3], o[3:])
    distance = [float(np.dot(groups(ds, f, "PlanePositionSequence").ImagePositionPatient, normal))
                for f in range(int(ds.NumberOfFrames))]
    assert info["sliceOrder"] == [int(i) + 1 for i in np.argsort(distance, kind="stable")]
    assert info["sliceOrder"] != sorted(info["sliceOrder"]), "the test files store their frames out of order"
    # Frame 1's values describe the file: its rescale and window, not a top-level one (there is none).
    slope, intercept = SPECS[name]["rescale"][0]
    assert (info["rescaleSlope"], info["rescaleIntercept"]) == (slope, intercept)
    assert info["rescaleType"] == ("HU" if SPECS[name]["modality"] == "CT" else "US")
    assert (info["window"]["center"], info["window"]["width"]) == SPECS[name]["windows"][0]


def supplemental():
    """pydicom-data's eCT_Supplemental.dcm: a real enhanced CT, rescale, window and Pixel Measures shared."""
    try:
        import data_store
    except ImportError:
        pytest.fail("pydicom-data is missing (scripts/requirements.txt installs it)")
    return str(pathlib.Path(data_store.__file__).parent / "data" / "eCT_Supplemental.dcm")


@pytest.mark.parametrize("frame", [0, 1], ids=["frame1", "frame2"])
@pytest.mark.parametrize("window", ["default", "explicit"])
def test_real_enhanced_ct_matches_dcmtk(medlab, dcm2pnm, tmp_path, frame, window):
    path = supplemental()
    ds = pydicom.dcmread(path)
    chosen = frame_window(ds, frame) if window == "default" else (-600, 1500)
    got = medlab_frame(medlab, path, frame, tmp_path / "medlab.png", None if window == "default" else chosen)
    dcmtk = dcmtk_frame(dcm2pnm, path, frame, tmp_path / "dcmtk.pgm", chosen)
    expected = numpy_render(ds.pixel_array, ds, frame, chosen)
    assert np.abs(got - dcmtk).max() <= 1 and np.abs(got - expected).max() <= 1
    info = json.loads(subprocess.run([medlab, "info", path], capture_output=True, text=True, check=True).stdout)
    assert info["pixelSpacing"] == [0.388672, 0.388672] and info["sliceOrder"] == [2, 1]  # z −159 then −149, normal −z


def test_implicit_vr_copy_reads_the_same(medlab, files, tmp_path):
    """pydicom writes implicit VR with defined-length nested sequences: the macros must still be read."""
    path, pixels, ds = files["ct"]
    copy = pydicom.dcmread(path)
    copy.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    implicit = tmp_path / "implicit.dcm"
    copy.save_as(implicit, implicit_vr=True, little_endian=True)
    infos = [json.loads(subprocess.run([medlab, "info", str(p)], capture_output=True, text=True, check=True).stdout)
             for p in (path, implicit)]
    for key in ("sliceOrder", "pixelSpacing", "window", "rescaleSlope", "rescaleIntercept", "imagePosition"):
        assert infos[0][key] == infos[1][key], key
    for frame in range(int(ds.NumberOfFrames)):
        a = medlab_frame(medlab, path, frame, tmp_path / "a.png")
        b = medlab_frame(medlab, str(implicit), frame, tmp_path / "b.png")
        assert np.array_equal(a, b)
