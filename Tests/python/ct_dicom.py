"""One home for the synthetic CT DICOM files the tests write with pydicom."""
import io

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def ct_dataset(rows, columns, *, signed=False, bits_stored=16, intercept=0, **attributes):
    """An explicit-VR little-endian CT data set with one grey 16-bit sample per pixel; `attributes`
    (NumberOfFrames, PixelSpacing, PatientName, WindowCenter, ...) are set as given. PixelData is
    the caller's."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, intercept
    for name, value in attributes.items():
        setattr(ds, name, value)
    return ds


def dicom_bytes(ds):
    """The data set as a Part 10 file."""
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def enhanced_ct(order, size=16, **attributes):
    """An enhanced CT (functional groups) whose stored frame k lies at z = 10 * order[k] mm and
    holds the constant 100 * order[k] HU: out of slice order unless `order` is sorted."""

    def item(**values):
        ds = Dataset()
        for key, value in values.items():
            setattr(ds, key, value)
        return ds

    ds = ct_dataset(size, size, signed=True, NumberOfFrames=len(order), **attributes)
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelMeasuresSequence=Sequence([item(PixelSpacing=[0.5, 0.5], SliceThickness=10)]),
        PixelValueTransformationSequence=Sequence([item(RescaleSlope=1, RescaleIntercept=-1000, RescaleType="HU")]))])
    ds.PerFrameFunctionalGroupsSequence = Sequence([
        item(PlanePositionSequence=Sequence([item(ImagePositionPatient=[0, 0, 10.0 * z])])) for z in order])
    ds.PixelData = np.concatenate([np.full(size * size, 1000 + 100 * z, dtype=np.int16) for z in order]).tobytes()
    return dicom_bytes(ds)
