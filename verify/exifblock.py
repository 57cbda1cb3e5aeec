"""Bounded reading of raw EXIF tags with exifread.

exifread trusts the counts and offsets it reads, so a hostile IFD (65535 entries, 4 GB counts,
offsets past the end, loops of IFDs) could make it work for a very long time. Here it only ever
sees an in-memory buffer (for JPEG just the Exif APP1 block) through `_BudgetedReader`, which
counts reads and seeks and caps each read; past the budget the attempt ends with a recorded
problem. exifread's log warnings become problems too, and never reach stderr.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import exifread
from exifread.core.exceptions import ExifNotFound

from verify.errors import UnreadableMediaError

# The real photos of ../shared/data and calibration need at most 1,723 reads each; 200,000
# reads of an in-memory buffer take ~0.15 s (bench_metadata), so a hostile IFD gives up fast.
MAX_EXIF_READS = 200_000
# No EXIF value we use is larger than a thumbnail (JPEG APP1 is capped at 64 KiB); a 4 GiB
# count in a tag must not become a 4 GiB read.
MAX_SINGLE_READ = 4 * 1024 * 1024
# exifread sees at most this much of the file. JPEG EXIF sits in the first 64 KiB-segments; TIFF,
# PNG and HEIF may place it later, so the bound is generous but keeps memory flat.
MAX_EXIF_BYTES = 64 * 1024 * 1024
# At most this many distinct exifread warnings are kept as problems.
MAX_WARNINGS = 10


class _ReadBudgetExceeded(Exception):
    """exifread asked for more reads than any sane EXIF block needs."""


class _BudgetedReader(io.RawIOBase):
    """A read-only view of bytes that counts operations so no parser loop can run unbounded."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._buf = io.BytesIO(data)
        self.operations = 0

    def _spend(self) -> None:
        self.operations += 1
        if self.operations > MAX_EXIF_READS:
            raise _ReadBudgetExceeded

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._spend()
        if size is None or size < 0 or size > MAX_SINGLE_READ:
            size = MAX_SINGLE_READ
        return self._buf.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._spend()
        # Hostile offsets may point before the start; clamp instead of letting BytesIO raise.
        if whence == io.SEEK_SET and offset < 0:
            offset = 0
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()


def read_exif_tags(path: Path, problems: list[str]) -> dict[str, Any]:
    """exifread's tags (with "JPEGThumbnail" bytes when present) for a file, appending to
    `problems` why anything could not be read; raises only when the file cannot be opened."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_EXIF_BYTES)
    except OSError as exc:
        raise UnreadableMediaError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if data.startswith(b"\xff\xd8"):
        # exifread's own JPEG walk only looks 4000 bytes past the first segments and so misses
        # EXIF behind a large XMP segment (the files in exif/invalid/); the bounded walk in
        # `_jpeg_exif_block` finds it, and exifread then parses just that block as TIFF.
        block = _jpeg_exif_block(data, problems)
        if block is None:
            return {}
        data = block
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        # exifread assumes an "Exif\0\0" prefix in the WebP EXIF chunk; Pillow and others
        # write the bare TIFF structure. Both are accepted here.
        block = _webp_exif_block(data)
        if block is None:
            return {}
        data = block
    elif data[:3] == b"GIF" or data[:2] == b"BM":
        return {}  # these formats have no EXIF
    with _collect_exifread_warnings(problems):
        # Thumbnail extraction is exifread's most fragile step (it trusts strip offsets and
        # counts); if the first pass fails, a second without it salvages the tags.
        for with_thumbnail in (True, False):
            try:
                return exifread.process_file(
                    _BudgetedReader(data),  # type: ignore[arg-type]
                    details=False,
                    strict=False,
                    extract_thumbnail=with_thumbnail,
                    truncate_tags=True,
                )
            except _ReadBudgetExceeded:
                problems.append(
                    f"EXIF abandoned after {MAX_EXIF_READS} reads: corrupt or hostile IFD structure"
                )
                return {}
            except Exception as exc:
                # exifread raises assorted types on corrupt input (struct.error, IndexError,
                # KeyError, ValueError...). The file still gets a result; the reason is recorded.
                stage = "with thumbnail" if with_thumbnail else "without thumbnail"
                problems.append(f"EXIF unreadable {stage}: {type(exc).__name__}: {str(exc)[:120]}")
    return {}


def _jpeg_exif_block(data: bytes, problems: list[str]) -> bytes | None:
    """The TIFF structure inside a JPEG's "Exif" APP1 segment, found by walking the markers up
    to the start of scan; every step advances, so the walk ends on any input."""
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers carry no length
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no metadata after this
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and payload[:4] == b"Exif" and payload[6:8] in (b"II", b"MM"):
            if len(payload) < length - 2:
                problems.append(
                    f"Exif segment truncated: {len(payload)} of {length - 2} bytes present"
                )
            return payload[6:]
        pos += 2 + length
    return None


def _webp_exif_block(data: bytes) -> bytes | None:
    """The TIFF structure in a WebP's EXIF chunk (with or without an "Exif\0\0" prefix); each
    step of the RIFF walk advances at least 8 bytes."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if fourcc == b"EXIF":
            payload = data[pos + 8 : pos + 8 + size]
            if payload.startswith(b"Exif\x00\x00"):
                payload = payload[6:]
            return payload if payload[:2] in (b"II", b"MM") else None
        pos += 8 + size + (size & 1)
    return None


class _ThreadWarnings(logging.Handler):
    """Collects exifread's warnings from one thread only (the logger is process-global)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self._sink = sink
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:
            return
        # exifread logs "PNG file does not have exif data." as a warning: a file without EXIF
        # is not a reading problem (the metadata checks say "no EXIF" in their own words), and
        # as a recorded problem it showed library chatter in findings and reports.
        if isinstance(record.msg, ExifNotFound):
            return
        message = f"exifread: {record.getMessage()[:160]}"
        # Hostile files repeat the same warning thousands of times; keep each once, and few.
        if message not in self._sink and len(self._sink) < MAX_WARNINGS:
            self._sink.append(message)


_EXIFREAD_LOG = logging.getLogger("exifread")
# A library must not print: without a handler, Python's last-resort handler would write
# exifread's warnings to stderr.
_EXIFREAD_LOG.addHandler(logging.NullHandler())


@contextmanager
def _collect_exifread_warnings(problems: list[str]) -> Iterator[None]:
    handler = _ThreadWarnings(problems)
    _EXIFREAD_LOG.addHandler(handler)
    try:
        yield
    finally:
        _EXIFREAD_LOG.removeHandler(handler)


def index_tags(raw: dict[str, Any]) -> dict[tuple[str, int], Any]:
    """exifread's {"IFD Name": tag} as {(IFD, tag number): tag}; names of unknown tags vary."""
    out: dict[tuple[str, int], Any] = {}
    for key, tag in raw.items():
        if isinstance(tag, bytes | bytearray) or not hasattr(tag, "tag"):
            continue
        ifd = key.split(" ", 1)[0]
        out.setdefault((ifd, int(tag.tag)), tag)
    return out
