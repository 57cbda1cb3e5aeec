"""Perceptual hashes of images and the decision whether two pictures are the same picture.

Recycled footage and re-circulated photos are re-encoded, resized, cropped, watermarked and
mirrored; a perceptual hash survives those edits where a SHA-256 does not. We compute pHash and
dHash (bit for bit the values `imagehash` gives, so stored hashes stay comparable with other tools),
imagehash's colour hash, and PDQ (the 256-bit hash shared across industry for the same job), each
also for the horizontally mirrored picture, and `compare` turns their distances into one decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pdqhash
from PIL import Image

from verify.errors import InvalidValueError, UnreadableMediaError
from verify.media import load_image


class HashKind(StrEnum):
    """The perceptual hash algorithms we compute; the value is the name stored beside a hash."""

    PHASH = "phash"
    DHASH = "dhash"
    COLORHASH = "colorhash"
    PDQ = "pdq"


HASH_BITS: dict[HashKind, int] = {
    HashKind.PHASH: 64,
    HashKind.DHASH: 64,
    # imagehash.colorhash with binbits=3: 14 bins x 3 bits.
    HashKind.COLORHASH: 42,
    HashKind.PDQ: 256,
}


@dataclass(frozen=True)
class PerceptualHash:
    """One hash value: `a - b` is the Hamming distance, `str(h)` is hex (imagehash's and PDQ's
    canonical text form, most significant bit first) and round-trips through `from_hex`."""

    kind: HashKind
    value: int

    def __post_init__(self) -> None:
        if self.value < 0 or self.value.bit_length() > self.bits:
            raise InvalidValueError(f"{self.kind} hash value does not fit in {self.bits} bits")

    @property
    def bits(self) -> int:
        return HASH_BITS[self.kind]

    def __sub__(self, other: PerceptualHash) -> int:
        if not isinstance(other, PerceptualHash):
            return NotImplemented
        if other.kind != self.kind:
            raise InvalidValueError(f"cannot compare a {self.kind} hash with a {other.kind} hash")
        return (self.value ^ other.value).bit_count()

    def __str__(self) -> str:
        return f"{self.value:0{math.ceil(self.bits / 4)}x}"

    @classmethod
    def from_hex(cls, kind: HashKind | str, text: str) -> PerceptualHash:
        """Parse the hex form written by `str(h)` (or by imagehash / PDQ tools)."""
        kind = HashKind(kind)
        width = math.ceil(HASH_BITS[kind] / 4)
        if len(text) != width:
            raise InvalidValueError(f"{kind} hash must be {width} hex digits, got {len(text)}")
        try:
            value = int(text, 16)
        except ValueError as exc:
            raise InvalidValueError(f"{kind} hash is not hex: {text!r}") from exc
        return cls(kind, value)

    @classmethod
    def from_bits(cls, kind: HashKind | str, bits: np.ndarray) -> PerceptualHash:
        """Build a hash from its bits, first bit most significant (imagehash's order)."""
        kind = HashKind(kind)
        flat = np.asarray(bits, dtype=bool).ravel()
        if flat.size != HASH_BITS[kind]:
            raise InvalidValueError(f"{kind} hash needs {HASH_BITS[kind]} bits, got {flat.size}")
        return cls(kind, int.from_bytes(_pack_bits(flat), "big") >> (-flat.size % 8))

    def to_words(self) -> np.ndarray:
        """The value as big-endian uint64 words (1 for 64 bits or less, 4 for PDQ): the form the
        hash index stores."""
        n_words = math.ceil(self.bits / 64)
        raw = self.value.to_bytes(8 * n_words, "big")
        return np.frombuffer(raw, dtype=">u8").astype(np.uint64)

    @classmethod
    def from_words(cls, kind: HashKind | str, words: np.ndarray) -> PerceptualHash:
        """Inverse of `to_words`."""
        kind = HashKind(kind)
        raw = np.asarray(words, dtype=np.uint64).astype(">u8").tobytes()
        return cls(kind, int.from_bytes(raw, "big"))


def _pack_bits(flat: np.ndarray) -> bytes:
    return np.packbits(flat).tobytes()


@dataclass(frozen=True)
class ImageHashes:
    """Every hash of one picture, and of its horizontal mirror (a common evasion).

    The colour hash counts pixels per hue/saturation bin, so mirroring cannot change it.
    `pdq_quality` (0-100) is PDQ's own measure of how much structure the picture has; PDQ hashes
    of near-flat pictures (quality below `PDQ_MIN_QUALITY`) are noise and not used to decide.
    """

    phash: PerceptualHash
    dhash: PerceptualHash
    colorhash: PerceptualHash
    pdq: PerceptualHash
    pdq_quality: int
    phash_mirrored: PerceptualHash
    dhash_mirrored: PerceptualHash
    pdq_mirrored: PerceptualHash
    # The same hashes of the picture with uniform bars removed from its edges (a screenshot's UI
    # bars, letterboxing, a padded frame), when there are bars; None otherwise.
    without_bars: ImageHashes | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for storage: hashes as hex, `without_bars` nested or None."""
        out: dict[str, object] = {name: str(getattr(self, name)) for name in _HASH_FIELDS}
        out["pdq_quality"] = self.pdq_quality
        out["without_bars"] = None if self.without_bars is None else self.without_bars.as_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImageHashes:
        """Inverse of `as_dict`."""
        try:
            fields = {
                name: PerceptualHash.from_hex(kind, str(data[name]))
                for name, kind in _HASH_FIELDS.items()
            }
            quality = int(data["pdq_quality"])  # type: ignore[call-overload]
            inner = data.get("without_bars")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValueError(f"not a stored set of image hashes: {exc}") from exc
        nested = None if inner is None else cls.from_dict(inner)  # type: ignore[arg-type]
        return cls(**fields, pdq_quality=quality, without_bars=nested)


_HASH_FIELDS: dict[str, HashKind] = {
    "phash": HashKind.PHASH,
    "dhash": HashKind.DHASH,
    "colorhash": HashKind.COLORHASH,
    "pdq": HashKind.PDQ,
    "phash_mirrored": HashKind.PHASH,
    "dhash_mirrored": HashKind.DHASH,
    "pdq_mirrored": HashKind.PDQ,
}

# Hashes need only a small picture: imagehash resizes to 32x32 (pHash) and 9x8 (dHash), PDQ to
# 64x64. Decoding JPEGs at reduced DCT scale to about this long side, and pre-shrinking larger
# arrays to it, changed hashes by at most pHash 2, dHash 3 and PDQ 14 bits against a full decode
# on 85 real photos (benchmarks/bench_hashing.py, "reduced decode"), far inside the match radii.
HASH_WORKING_SIDE = 256
# The same-picture comparison runs ORB, whose 8-level pyramid (scale 1.2) shrinks a side under
# 4 pixels to 0 and OpenCV aborts (measured on random pictures: 3 px fails, 4 px works, anchors
# included). Every picture is hashed before it is compared, so the hashes refuse it first.
MIN_PICTURE_SIDE = 4

_PHASH_SIZE = 32
_PHASH_LOW = 8


def _dct_matrix() -> np.ndarray:
    # The low 8 rows of scipy.fftpack.dct's unnormalised type-II DCT on 32 samples, which is what
    # imagehash.phash uses: X[k] = 2 * sum_n x[n] cos(pi k (2n + 1) / 2N).
    n = np.arange(_PHASH_SIZE)
    k = np.arange(_PHASH_LOW)[:, None]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * _PHASH_SIZE))


_DCT_LOW = _dct_matrix()


def phash_of_gray(gray: Image.Image) -> PerceptualHash:
    """imagehash.phash of a mode-L image, bit for bit, without scipy (a dev-only dependency)."""
    return PerceptualHash.from_bits(HashKind.PHASH, _phash_bits(_phash_grid(gray)))


def _phash_grid(gray: Image.Image) -> np.ndarray:
    small = gray.resize((_PHASH_SIZE, _PHASH_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(small).astype(np.float64)


def _phash_bits(pixels: np.ndarray) -> np.ndarray:
    low = _DCT_LOW @ pixels @ _DCT_LOW.T
    return low > np.median(low)


def dhash_of_gray(gray: Image.Image) -> PerceptualHash:
    """imagehash.dhash of a mode-L image, bit for bit."""
    return PerceptualHash.from_bits(HashKind.DHASH, _dhash_bits(_dhash_grid(gray)))


def _dhash_grid(gray: Image.Image) -> np.ndarray:
    return np.asarray(gray.resize((9, 8), Image.Resampling.LANCZOS)).astype(np.int16)


def _dhash_bits(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, 1:] > pixels[:, :-1]


# The colour hash is a histogram of hue/saturation fractions, so a thumbnail gives the same
# fractions at a tenth of the cost of imagehash.colorhash on the working-size picture.
_COLORHASH_SIDE = 64


def hash_image(image: np.ndarray) -> ImageHashes:
    """All hashes of an RGB uint8 picture (EXIF orientation already applied).

    Pictures larger than `HASH_WORKING_SIDE` are first shrunk to it with area averaging, which
    is what makes hashing a 4K video frame cost the same as a thumbnail.
    """
    rgb = _as_rgb(image)
    long_side = max(rgb.shape[:2])
    if long_side > HASH_WORKING_SIDE:
        scale = HASH_WORKING_SIDE / long_side
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(rgb)
    hashes = _hash_working(rgb)
    box = _content_box(rgb)
    if box is None:
        return hashes
    top, bottom, left, right = box
    inner = _hash_working(np.ascontiguousarray(rgb[top:bottom, left:right]))
    return replace(hashes, without_bars=inner)


def _hash_working(rgb: np.ndarray) -> ImageHashes:
    gray = Image.fromarray(rgb).convert("L")
    # Mirrored pHash/dHash flip the resized grids: the Lanczos kernel is symmetric, so this is
    # the hash of the mirrored picture without resizing it again.
    phash_grid = _phash_grid(gray)
    dhash_grid = _dhash_grid(gray)
    pdq_bits, quality = pdqhash.compute(rgb)
    pdq_bits_mirrored, _ = pdqhash.compute(np.ascontiguousarray(rgb[:, ::-1]))
    return ImageHashes(
        phash=PerceptualHash.from_bits(HashKind.PHASH, _phash_bits(phash_grid)),
        dhash=PerceptualHash.from_bits(HashKind.DHASH, _dhash_bits(dhash_grid)),
        colorhash=_colorhash(rgb),
        pdq=PerceptualHash.from_bits(HashKind.PDQ, pdq_bits),
        pdq_quality=int(quality),
        phash_mirrored=PerceptualHash.from_bits(HashKind.PHASH, _phash_bits(phash_grid[:, ::-1])),
        dhash_mirrored=PerceptualHash.from_bits(HashKind.DHASH, _dhash_bits(dhash_grid[:, ::-1])),
        pdq_mirrored=PerceptualHash.from_bits(HashKind.PDQ, pdq_bits_mirrored),
    )


# Bars: an edge strip counts as a bar while at least BAR_MIN_SHARE of each of its rows (columns)
# is within BAR_TOLERANCE grey levels of the outermost row's median. Bars thinner than
# BAR_MIN_DEPTH of the side are ignored (JPEG edges, a dark vignette), and the content left must
# keep half of each side. Measured on the screenshot transform of bench_hashing.py, where UI bars
# carry text: 60% of a text row is still bar colour.
BAR_TOLERANCE = 8
BAR_MIN_SHARE = 0.6
BAR_MIN_DEPTH = 0.02


def _content_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside uniform edge bars, or None."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    h, w = gray.shape
    top = _bar_depth(gray)
    bottom = _bar_depth(gray[::-1])
    left = _bar_depth(gray.T)
    right = _bar_depth(gray.T[::-1])
    top, bottom = (d if d >= BAR_MIN_DEPTH * h else 0 for d in (top, bottom))
    left, right = (d if d >= BAR_MIN_DEPTH * w else 0 for d in (left, right))
    inner_h, inner_w = h - top - bottom, w - left - right
    if top + bottom + left + right == 0 or inner_h < max(8, h / 2) or inner_w < max(8, w / 2):
        return None
    return top, h - bottom, left, w - right


def _bar_depth(lines: np.ndarray) -> int:
    reference = np.median(lines[0])
    is_bar = (np.abs(lines - reference) <= BAR_TOLERANCE).mean(axis=1) >= BAR_MIN_SHARE
    return int(is_bar.argmin()) if not is_bar.all() else len(is_bar)


def _colorhash(rgb: np.ndarray) -> PerceptualHash:
    long_side = max(rgb.shape[:2])
    if long_side > _COLORHASH_SIDE:
        scale = _COLORHASH_SIDE / long_side
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    value = _imagehash_value(imagehash.colorhash(Image.fromarray(rgb)))
    return PerceptualHash(HashKind.COLORHASH, value)


def hash_file(path: Path) -> ImageHashes:
    """All hashes of an image file, decoded at reduced scale with EXIF orientation applied."""
    return hash_image(load_image(Path(path), max_side=HASH_WORKING_SIDE))


def _imagehash_value(h: imagehash.ImageHash) -> int:
    flat = np.asarray(h.hash, dtype=bool).ravel()
    return int("".join("1" if b else "0" for b in flat), 2)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise InvalidValueError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidValueError(f"expected an RGB image, got shape {image.shape}")
    if image.shape[0] < MIN_PICTURE_SIDE or image.shape[1] < MIN_PICTURE_SIDE:
        raise UnreadableMediaError(
            f"image of {image.shape[1]}x{image.shape[0]} is too small (a side under "
            f"{MIN_PICTURE_SIDE} pixels cannot be compared)"
        )
    return image


# Match rule, calibrated by benchmarks/bench_hashing.py on the 68 distinct photos of
# ../shared/data under 14 transforms (grid search over the three thresholds; among the rules with
# zero false matches we kept the one that still had zero false matches with every threshold
# widened by a safety margin of pHash +4, dHash +4, PDQ +12, and took its smallest thresholds).
# Nearest non-duplicates seen: PDQ 66 (a 5-degree rotation of a neighbouring castle photo),
# dHash 10 and pHash 2 (a 25% crop of one church photo against the next, zoomed-in, view).
PDQ_MATCH_DISTANCE = 42
PHASH_MATCH_DISTANCE = 16
DHASH_MATCH_DISTANCE = 5
# PDQ's authors' cut-off: below quality 50 a PDQ hash describes too little structure to be used.
PDQ_MIN_QUALITY = 50

# The radius each index must be searched at so that every match of `compare` is among the
# candidates: a match needs PDQ within its radius or dHash (and pHash) within theirs.
INDEX_SEARCH_RADII: dict[HashKind, int] = {
    HashKind.PDQ: PDQ_MATCH_DISTANCE,
    HashKind.DHASH: DHASH_MATCH_DISTANCE,
}


@dataclass(frozen=True)
class HashDistances:
    """Hamming distances between two pictures, one per hash kind."""

    phash: int
    dhash: int
    pdq: int
    colorhash: int

    def as_dict(self) -> dict[str, int]:
        return {
            HashKind.PHASH.value: self.phash,
            HashKind.DHASH.value: self.dhash,
            HashKind.PDQ.value: self.pdq,
            HashKind.COLORHASH.value: self.colorhash,
        }


@dataclass(frozen=True)
class HashMatch:
    """Whether two pictures are the same picture, the distances behind it, and whether the match
    is between one picture and the mirror image of the other (or needed edge bars removed)."""

    is_match: bool
    distances: HashDistances
    mirrored: bool
    reason: str
    # True when the match holds only once uniform edge bars are removed (screenshot, letterbox).
    bars_removed: bool = False


def compare(a: ImageHashes, b: ImageHashes) -> HashMatch:
    """Decide whether `a` and `b` show the same picture (re-encoded, resized, edited, mirrored,
    or padded with bars as in a screenshot).

    Both orientations are tried; the direct one wins unless only the mirrored one matches (or,
    when neither matches, unless the mirrored one is closer). When the whole pictures do not
    match, their versions without edge bars are tried. The colour hash is reported but not used:
    on the calibration suite it separated nothing the other three did not.
    """
    whole = _compare_whole(a, b)
    if whole.is_match:
        return whole
    for x, y, which in (
        (a.without_bars, b, "the first picture"),
        (a, b.without_bars, "the second picture"),
        (a.without_bars, b.without_bars, "both pictures"),
    ):
        if x is None or y is None:
            continue
        match = _compare_whole(x, y)
        if match.is_match:
            reason = f"{match.reason}, with edge bars removed from {which}"
            return replace(match, bars_removed=True, reason=reason)
    return whole


def _compare_whole(a: ImageHashes, b: ImageHashes) -> HashMatch:
    direct = HashDistances(
        phash=a.phash - b.phash,
        dhash=a.dhash - b.dhash,
        pdq=a.pdq - b.pdq,
        colorhash=a.colorhash - b.colorhash,
    )
    mirrored = HashDistances(
        phash=a.phash_mirrored - b.phash,
        dhash=a.dhash_mirrored - b.dhash,
        pdq=a.pdq_mirrored - b.pdq,
        colorhash=direct.colorhash,
    )
    pdq_usable = min(a.pdq_quality, b.pdq_quality) >= PDQ_MIN_QUALITY
    direct_reason = _match_reason(direct, pdq_usable)
    if direct_reason is not None:
        return HashMatch(True, direct, False, direct_reason)
    mirrored_reason = _match_reason(mirrored, pdq_usable)
    if mirrored_reason is not None:
        return HashMatch(True, mirrored, True, f"mirror image: {mirrored_reason}")
    closest_is_mirror = _closeness(mirrored) < _closeness(direct)
    closest = mirrored if closest_is_mirror else direct
    reason = (
        f"no hash within its match distance (closest{' mirrored' if closest_is_mirror else ''}: "
        f"PDQ {closest.pdq} > {PDQ_MATCH_DISTANCE}"
        f"{'' if pdq_usable else ' (PDQ quality too low to use)'}, "
        f"pHash {closest.phash} / dHash {closest.dhash} not both <= "
        f"{PHASH_MATCH_DISTANCE} / {DHASH_MATCH_DISTANCE})"
    )
    return HashMatch(False, closest, closest_is_mirror, reason)


def _match_reason(d: HashDistances, pdq_usable: bool) -> str | None:
    if pdq_usable and d.pdq <= PDQ_MATCH_DISTANCE:
        return f"PDQ distance {d.pdq} <= {PDQ_MATCH_DISTANCE}"
    if d.phash <= PHASH_MATCH_DISTANCE and d.dhash <= DHASH_MATCH_DISTANCE:
        return (
            f"pHash distance {d.phash} <= {PHASH_MATCH_DISTANCE} and "
            f"dHash distance {d.dhash} <= {DHASH_MATCH_DISTANCE}"
        )
    return None


def _closeness(d: HashDistances) -> float:
    # Distances as fractions of each hash's length, summed: only used to pick which orientation
    # to report when neither matches.
    return d.phash / 64 + d.dhash / 64 + d.pdq / 256
