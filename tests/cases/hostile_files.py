"""Hostile and broken input files for the bad-input tests, built from real files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from tests.verify.test_video import write_video


def png_bomb(path: Path, side: int = 100_000) -> Path:
    """A few-hundred-byte PNG whose header declares side x side pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def absurd_exif_jpeg(path: Path, real_jpeg: bytes) -> Path:
    """A real JPEG with an EXIF block claiming 65535 tags, each with absurd counts and offsets."""
    entries = b"".join(
        struct.pack("<HHII", 0x010F + n, 2, 0xFFFFFFFF, 0x7FFFFFF0) for n in range(40)
    )
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF) + entries + b"\0\0\0\0"
    app1 = b"Exif\0\0" + tiff
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    path.write_bytes(real_jpeg[:2] + segment + real_jpeg[2:])
    return path


def video_declaring_frames(path: Path, declared: int) -> Path:
    """A real 10-frame MP4 whose sample tables claim `declared` frames."""
    frames = [
        (np.random.default_rng(i).random((64, 64, 3)) * 255).astype("uint8") for i in range(10)
    ]
    write_video(path, frames, 10.0)
    data = bytearray(path.read_bytes())
    i = data.find(b"stsz")
    struct.pack_into(">II", data, i + 8, 100, declared)  # constant sample size, huge count
    i = data.find(b"stts")
    struct.pack_into(">I", data, i + 12, declared)
    path.write_bytes(bytes(data))
    return path
