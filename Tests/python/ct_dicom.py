"""One home for the synthetic CT DICOM files the tests write with pydicom."""
import io

from pydicom.dataset import FileDataset, FileMetaDataset
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
