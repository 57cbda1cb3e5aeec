"""Sniffing media types from content and decoding images safely.

Every analysis that needs pixels goes through `load_image`, so decompression-bomb limits, EXIF
orientation and reduced-scale JPEG decoding are applied once, the same way, everywhere.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from verify.errors import MediaTooLargeError, UnreadableMediaError, UnsupportedMediaError

# 200 megapixels covers every phone and drone camera we know of (the largest common sensors are
# ~108 MP) while refusing the classic bomb: a few-KB PNG declaring 100000x100000 pixels.
MAX_IMAGE_PIXELS = 200_000_000

# Pillow's own bomb check fires at MAX_IMAGE_PIXELS; ours is checked first with a clearer message.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# HEIC/HEIF photos (iPhones' default) decode through Pillow once pillow-heif registers its opener;
# it applies the container's rotation itself, as the camera app shows the photo.
register_heif_opener()

IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/heif", "image/bmp"}
)
VIDEO_TYPES = frozenset(
    {"video/mp4", "video/quicktime", "video/x-msvideo", "video/x-matroska", "video/webm"}
)

_FTYP_BRANDS = {
    b"heic": "image/heif",
    b"heix": "image/heif",
    b"heim": "image/heif",
    b"heis": "image/heif",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
}


def sniff_media_type(path: Path) -> str:
    """Return the media type of a file judged from its first bytes, never from its extension.

    Text that decodes as UTF-8 (or UTF-16 with a BOM) is `text/plain`; anything unrecognised is
    `application/octet-stream`.
    """
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return sniff_media_type_bytes(head)


def sniff_media_type_bytes(head: bytes) -> str:
    """`sniff_media_type` on the first bytes of a file (4 KiB is plenty)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:2] == b"BM" and len(head) >= 14:
        return "image/bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def require_media_type(path: Path, allowed: frozenset[str], noun: str) -> str:
    """Sniff a file and insist it is non-empty and one of `allowed`; returns its media type."""
    try:
        size = path.stat().st_size
        media_type = sniff_media_type(path)
    except OSError as exc:
        raise UnreadableMediaError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if size == 0:
        raise UnreadableMediaError(f"{path.name} is empty")
    if media_type not in allowed:
        raise UnsupportedMediaError(f"{path.name} is not {noun} (content is {media_type})")
    return media_type


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 4 KiB window is still text.
        if exc.start < len(head) - 4:
            return False
    return True


def open_image(path: Path, *, draft_side: int | None = None) -> Image.Image:
    """Open an image lazily, refusing bombs before any pixel is decoded.

    With `draft_side`, JPEGs are decoded by libjpeg at the smallest DCT scale (1/2, 1/4, 1/8)
    whose result still has its shorter side >= `draft_side`: the same pixels a full decode
    followed by a resize would average, at a fraction of the cost.
    """
    try:
        img = Image.open(path)
    except UnidentifiedImageError as exc:
        raise UnreadableMediaError(f"not a readable image: {path.name}") from exc
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(f"image {path.name} is a decompression bomb") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableMediaError(f"cannot open image {path.name}: {exc}") from exc
    except Exception as exc:
        # Pillow plugins raise assorted types on hostile headers (struct.error, IndexError);
        # none may escape untyped.
        raise UnreadableMediaError(f"cannot open image {path.name}: {exc!r}") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise UnreadableMediaError(f"image {path.name} declares no pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaTooLargeError(
            f"image {path.name} declares {width}x{height} pixels, more than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} MP limit"
        )
    if draft_side is not None and img.format == "JPEG":
        short = min(width, height)
        scale = max(1, min(8, short // max(1, draft_side)))
        img.draft("RGB", (width // scale, height // scale))
    return img


def load_image(path: Path, *, max_side: int | None = None) -> np.ndarray:
    """Decode an image to an RGB uint8 array, EXIF orientation applied.

    With `max_side`, the longest side of the result is at most `max_side` pixels (area
    resampling), and JPEGs are decoded at reduced DCT scale where that loses nothing.
    """
    draft = None if max_side is None else _draft_side(_size(path), max_side)
    with _quiet():
        img = open_image(path, draft_side=draft)
    return _shrunk(path, _decoded(path, img), max_side)


def load_image_sizes(path: Path, small: int, large: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`(load_image(path, max_side=small), load_image(path, max_side=large))` from one decode,
    when both decode the file alike (the same reduced JPEG scale; any other format); None when
    they would not, and only the two separate decodes give those arrays.

    A photo searched for is decoded for its hashes and again for the pixel check: for a phone's
    12 MP JPEG (1/8 scale for both) or a PNG screenshot, that second decode is the same work."""
    size = _size(path)
    with _quiet():
        opened = [open_image(path, draft_side=_draft_side(size, side)) for side in (small, large)]
    same = (
        opened[0].size == opened[1].size
        and opened[0].mode == opened[1].mode
        # `tile` (what the decoder will read) is ImageFile's; Image's type does not declare it.
        and getattr(opened[0], "tile", None) == getattr(opened[1], "tile", None)
        and getattr(opened[0], "decoderconfig", None) == getattr(opened[1], "decoderconfig", None)
    )
    opened[1].close()
    if not same:
        opened[0].close()
        return None
    rgb = _decoded(path, opened[0])
    return _shrunk(path, rgb, small), _shrunk(path, rgb, large)


def _size(path: Path) -> tuple[int, int]:
    with _quiet():
        probe = open_image(path)
        size = probe.size
        probe.close()
    return size


def _draft_side(size: tuple[int, int], max_side: int) -> int:
    w, h = size
    return max(1, int(max_side * min(w, h) / max(w, h)))


def _decoded(path: Path, img: Image.Image) -> Image.Image:
    """The opened image decoded, EXIF orientation applied, in RGB."""
    with _quiet(), _decode_errors(path):
        img = ImageOps.exif_transpose(img) or img
        return img.convert("RGB")


def _shrunk(path: Path, rgb: Image.Image, max_side: int | None) -> np.ndarray:
    with _quiet(), _decode_errors(path):
        if max_side is not None and max(rgb.size) > max_side:
            scale = max_side / max(rgb.size)
            size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
            rgb = rgb.resize(size, Image.Resampling.BOX)
        arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise UnsupportedMediaError(f"image {path.name} has unexpected shape {arr.shape}")
    return arr


@contextlib.contextmanager
def _decode_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(f"image {path.name} is a decompression bomb") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableMediaError(f"cannot decode image {path.name}: {exc}") from exc
    except Exception as exc:
        # Pillow's plugins raise assorted exception types on hostile input (struct.error,
        # IndexError, ZeroDivisionError); none of them may escape as a traceback.
        raise UnreadableMediaError(f"cannot decode image {path.name}: {exc!r}") from exc


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma of an RGB uint8 array (ITU-R BT.601 weights, as OpenCV uses)."""
    if rgb.ndim == 2:
        return rgb
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(rgb.astype(np.float32) @ weights + 0.5, 0, 255).astype(np.uint8)


class _quiet(warnings.catch_warnings):
    """Silence Pillow's warnings (truncated data, bomb warnings): errors are raised instead."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("ignore")
