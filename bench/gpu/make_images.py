#!/usr/bin/env python3
"""Writes N synthetic 512x512 RGB PNGs (standard library only): a chest-radiograph-like
pattern (two darker lung fields, a brighter mediastinum, ribs, noise) that differs per image,
so no server can answer a request from a cache of an earlier identical image.

    make_images.py OUT_DIR [--n 20] [--size 512] [--seed 1000]
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import struct
import sys
import zlib


def png_bytes(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def image(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    cx_l, cx_r = 0.30 + rng.uniform(-0.03, 0.03), 0.70 + rng.uniform(-0.03, 0.03)
    heart = 0.12 + rng.uniform(0.0, 0.06)
    rib_phase = rng.uniform(0, math.pi)
    spot = (rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.7), rng.uniform(0.02, 0.06))
    rows = []
    for y in range(size):
        v = y / size
        row = bytearray(size * 3)
        for x in range(size):
            u = x / size
            g = 200.0
            for cx in (cx_l, cx_r):  # lung fields: dark ellipses
                d = ((u - cx) / 0.17) ** 2 + ((v - 0.48) / 0.33) ** 2
                if d < 1.0:
                    g -= 120.0 * (1.0 - d) ** 0.5
            d = ((u - 0.52) / heart) ** 2 + ((v - 0.62) / 0.16) ** 2  # heart shadow
            if d < 1.0:
                g += 60.0 * (1.0 - d)
            g += 18.0 * math.sin(v * 40.0 + rib_phase + 6.0 * abs(u - 0.5))  # ribs
            d = ((u - spot[0]) ** 2 + (v - spot[1]) ** 2) / spot[2] ** 2  # a focal opacity
            if d < 1.0:
                g += 50.0 * (1.0 - d)
            g += rng.uniform(-6.0, 6.0)
            c = 0 if g < 0 else 255 if g > 255 else int(g)
            row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = c
        rows.append(bytes(row))
    return png_bytes(size, size, rows)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1000, help="image i is drawn from seed + i")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    jobs = [(os.path.join(a.out, f"study-{i:03d}.png" if a.n > 100 else f"study-{i:02d}.png"), a.seed + i, a.size)
            for i in range(a.n)]
    jobs = [j for j in jobs if not os.path.exists(j[0])]
    with multiprocessing.Pool(min(len(jobs), os.cpu_count() or 1) or 1) as pool:
        pool.map(write, jobs)
    print(f"[make_images] {a.n} images of {a.size}x{a.size} in {a.out}")
    return 0


def write(job: tuple[str, int, int]) -> None:
    path, seed, size = job
    with open(path + ".tmp", "wb") as f:
        f.write(image(seed, size))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
