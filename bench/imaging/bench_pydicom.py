"""Writes the benchmark inputs (512×512 CT, 2048×2048 CR, 16-bit native DICOM) and times
pydicom + numpy doing decode + window + letterbox on them (nearest-neighbour resize in numpy:
cheaper than MedImaging's area resampling, so the comparison flatters pydicom)."""
import sys
import time

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def write(path, rows, cols, modality):
    rng = np.random.default_rng(0)
    arr = (rng.normal(1000, 300, (rows, cols))).clip(0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = modality
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = arr.tobytes()
    ds.save_as(path, enforce_file_format=True)


def letterbox(img, side=896):
    h, w = img.shape[:2]
    s = side / max(h, w)
    nh, nw = round(h * s), round(w * s)
    ys = (np.arange(nh) / s).astype(int)
    xs = (np.arange(nw) / s).astype(int)
    small = img[ys][:, xs]
    out = np.zeros((side, side, 3), np.uint8)
    top, left = (side - nh) // 2, (side - nw) // 2
    out[top:top + nh, left:left + nw] = small[..., None]
    return out


def run(path, runs=7):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ds = pydicom.dcmread(path)
        hu = apply_modality_lut(ds.pixel_array, ds)
        c, w = -600.0, 1500.0
        grey = (np.clip((hu - (c - 0.5)) / (w - 1) + 0.5, 0, 1) * 255).astype(np.uint8)
        letterbox(grey)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(f"pydicom  {path.split('/')[-1]:<28} {times[runs // 2]:8.1f} ms (median of {runs})")


if __name__ == "__main__":
    out = sys.argv[1]
    write(f"{out}/ct_512.dcm", 512, 512, "CT")
    write(f"{out}/cr_2048.dcm", 2048, 2048, "CR")
    for name in ("ct_512.dcm", "cr_2048.dcm"):
        run(f"{out}/{name}")
