"""Test images written from scratch (no imaging libraries): a PNG, a CT DICOM, broken files.

The DICOM is a small but valid Part 10 file (explicit VR little endian, CT, signed 16-bit,
rescale slope/intercept, a window in the header) with a synthetic "chest": air outside, soft
tissue, two lungs at -800 HU and a bright spine, so that window presets visibly change it.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGB PNG; `pixel(x, y)` returns (r, g, b)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + _png_chunk(b"IEND", b""))


def chest_png(path: Path, width: int = 320, height: int = 256) -> Path:
    """A grey 'chest X-ray'-like picture: dark lungs, brighter mediastinum, ribs."""
    def pixel(x, y):
        cx, cy = width / 2, height / 2
        v = 40
        for sx in (-1, 1):
            dx = (x - (cx + sx * width * 0.22)) / (width * 0.17)
            dy = (y - cy) / (height * 0.36)
            if dx * dx + dy * dy < 1:
                v = 70
        if abs(x - cx) < width * 0.06:
            v = 200
        if (y // 18) % 2 == 0 and v == 70:
            v = 110
        return (v, v, v)
    path.write_bytes(png_bytes(width, height, pixel))
    return path


def _element(group: int, element: int, vr: str, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr in ("UI", "OB", "OW") else b" "
    tag = struct.pack("<HH", group, element)
    if vr in ("OB", "OW", "OF", "SQ", "UT", "UN"):
        return tag + vr.encode() + b"\x00\x00" + struct.pack("<I", len(value)) + value
    return tag + vr.encode() + struct.pack("<H", len(value)) + value


def ct_hu(x: int, y: int, width: int, height: int) -> int:
    cx, cy = width / 2, height / 2
    body = ((x - cx) / (width * 0.46)) ** 2 + ((y - cy) / (height * 0.40)) ** 2
    if body > 1:
        return -1000
    hu = 40  # soft tissue
    for sx in (-1, 1):
        dx = (x - (cx + sx * width * 0.2)) / (width * 0.15)
        dy = (y - cy) / (height * 0.28)
        if dx * dx + dy * dy < 1:
            hu = -820 + int(60 * math.sin(x * 0.3) * math.sin(y * 0.3))
    if math.hypot(x - cx, y - (cy + height * 0.28)) < width * 0.06:
        hu = 700  # vertebra
    if math.hypot(x - cx, y - (cy - height * 0.05)) < width * 0.07:
        hu = 45  # heart / vessels
    return hu


def ct_dicom_bytes(width: int = 128, height: int = 128, frames: int = 1) -> bytes:
    """A CT image in HU stored as signed 16-bit with slope 1, intercept -1024."""
    sop_class = b"1.2.840.10008.5.1.4.1.1.2"
    sop_instance = b"1.2.826.0.1.3680043.10.999.1.1"
    transfer = b"1.2.840.10008.1.2.1"
    meta_body = (_element(0x0002, 0x0001, "OB", b"\x00\x01")
                 + _element(0x0002, 0x0002, "UI", sop_class)
                 + _element(0x0002, 0x0003, "UI", sop_instance)
                 + _element(0x0002, 0x0010, "UI", transfer)
                 + _element(0x0002, 0x0012, "UI", b"1.2.826.0.1.3680043.10.999"))
    meta = _element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    pixels = bytearray()
    for f in range(frames):
        for y in range(height):
            for x in range(width):
                stored = ct_hu(x, y, width, height) + 1024 + f * 20
                pixels.extend(struct.pack("<h", stored))
    ds = (_element(0x0008, 0x0016, "UI", sop_class)
          + _element(0x0008, 0x0018, "UI", sop_instance)
          + _element(0x0008, 0x0060, "CS", b"CT")
          + _element(0x0010, 0x0010, "PN", b"TEST^PATIENT")
          + _element(0x0010, 0x0020, "LO", b"ID12345")
          + _element(0x0018, 0x0050, "DS", b"1.0")
          + _element(0x0020, 0x0013, "IS", b"1")
          + _element(0x0028, 0x0002, "US", struct.pack("<H", 1))
          + _element(0x0028, 0x0004, "CS", b"MONOCHROME2")
          + (_element(0x0028, 0x0008, "IS", str(frames).encode()) if frames > 1 else b"")
          + _element(0x0028, 0x0010, "US", struct.pack("<H", height))
          + _element(0x0028, 0x0011, "US", struct.pack("<H", width))
          + _element(0x0028, 0x0030, "DS", b"0.7\\0.7")
          + _element(0x0028, 0x0100, "US", struct.pack("<H", 16))
          + _element(0x0028, 0x0101, "US", struct.pack("<H", 16))
          + _element(0x0028, 0x0102, "US", struct.pack("<H", 15))
          + _element(0x0028, 0x0103, "US", struct.pack("<H", 1))
          + _element(0x0028, 0x1050, "DS", b"40")
          + _element(0x0028, 0x1051, "DS", b"400")
          + _element(0x0028, 0x1052, "DS", b"-1024")
          + _element(0x0028, 0x1053, "DS", b"1")
          + _element(0x7FE0, 0x0010, "OW", bytes(pixels)))
    return b"\x00" * 128 + b"DICM" + meta + ds


def ct_dicom(path: Path, **kwargs) -> Path:
    path.write_bytes(ct_dicom_bytes(**kwargs))
    return path


def broken_dicom(path: Path) -> Path:
    """Starts like a DICOM file (preamble + DICM) and then stops: undecodable."""
    path.write_bytes(ct_dicom_bytes(64, 64)[:300])
    return path


def broken_png(path: Path) -> Path:
    """A PNG signature followed by garbage."""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    return path


def not_an_image(path: Path) -> Path:
    path.write_text("hello, this is a text file\n")
    return path


def ct_nifti_bytes(width: int = 96, height: int = 80, depth: int = 6) -> bytes:
    """A NIfTI-1 CT volume (int16 HU): the same 'chest' with the spine moving slice by slice."""
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, width, height, depth, 1, 1, 1, 1)
    struct.pack_into("<hh", header, 70, 4, 16)  # datatype int16, bitpix
    struct.pack_into("<8f", header, 76, 1.0, 0.8, 0.8, 2.5, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)  # vox_offset
    struct.pack_into("<ff", header, 112, 1.0, 0.0)  # scl_slope, scl_inter
    struct.pack_into("<h", header, 252, 1)  # qform_code
    header[344:348] = b"n+1\x00"
    voxels = bytearray()
    for z in range(depth):
        for y in range(height):
            for x in range(width):
                hu = ct_hu(x, y, width, height)
                if z and math.hypot(x - width * (0.2 + 0.12 * z), y - height * 0.5) < width * 0.05:
                    hu = 900  # a bright dot that moves through the volume
                voxels.extend(struct.pack("<h", hu))
    return bytes(header) + b"\x00" * 4 + bytes(voxels)


def ct_nifti(path: Path, **kwargs) -> Path:
    path.write_bytes(ct_nifti_bytes(**kwargs))
    return path
