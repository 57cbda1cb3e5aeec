"""PairMatch to bytes and back, for the derived store's caches of verified pairs.

Both caches (footage against references, footage against footage) hold the inlier count, the
tentative count, the model and, where a match picture may be drawn from it, the inlier points.
Entries are rebuildable: an unreadable one is treated as absent and verified again.
"""

from __future__ import annotations

import io
import math
import re
import zipfile

import numpy as np

from verify.geometry import GeometryModel, PairMatch

_NO_POINTS = np.zeros((0, 2), np.float32)


def encode_match(match: PairMatch, *, keep_points: bool = True) -> bytes:
    """The match as .npz bytes; without its points when `keep_points` is False."""
    buf = io.BytesIO()
    np.savez(
        buf,
        inliers=np.array(match.inliers, np.int64),
        tentative=np.array(match.tentative, np.int64),
        model=np.array(str(match.model)),
        points_a=match.points_a if keep_points else _NO_POINTS,
        points_b=match.points_b if keep_points else _NO_POINTS,
        size_a=np.array(match.size_a, np.int64),
        size_b=np.array(match.size_b, np.int64),
    )
    return buf.getvalue()


def decode_match(data: bytes) -> PairMatch | None:
    """The cached PairMatch, or None for an unreadable entry."""
    try:
        arrays = _read_npz(data)
        return PairMatch(
            inliers=int(arrays["inliers"]),
            tentative=int(arrays["tentative"]),
            model=GeometryModel(str(arrays["model"])),
            points_a=np.asarray(arrays["points_a"], np.float32).reshape(-1, 2),
            points_b=np.asarray(arrays["points_b"], np.float32).reshape(-1, 2),
            size_a=(int(arrays["size_a"][0]), int(arrays["size_a"][1])),
            size_b=(int(arrays["size_b"][0]), int(arrays["size_b"][1])),
        )
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, zipfile.BadZipFile):
        return None


# The header `np.save` writes for a plain C-order array (every array `encode_match` writes).
_PLAIN_HEADER = re.compile(
    rb"\{'descr': '([<>|=][a-zA-Z]\d+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}"
)


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of .npz bytes, as `np.load` reads them (zip CRCs checked, no pickles).

    A re-run reads every cached pair back (~25,000 in a 1,000-frame case) and `np.load` spent
    most of its ~0.5 ms per entry parsing each array's header with `ast.literal_eval`; the
    plain headers `np.savez` writes are parsed here with a pattern instead, anything else by
    numpy itself.
    """
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            out[info.filename.removesuffix(".npy")] = _read_npy(archive.read(info))
    return out


def _read_npy(raw: bytes) -> np.ndarray:
    if raw[:6] == b"\x93NUMPY" and raw[6] in (1, 2, 3):
        start = 10 if raw[6] == 1 else 12
        length = int.from_bytes(raw[8:start], "little")
        plain = _PLAIN_HEADER.fullmatch(raw[start : start + length].rstrip(b" \n"))
        if plain is not None:
            dtype = np.dtype(plain[1].decode("ascii"))
            shape = tuple(int(n) for n in plain[2].split(b",") if n.strip())
            count = math.prod(shape)
            if not dtype.hasobject and len(raw) - start - length == count * dtype.itemsize:
                array = np.frombuffer(raw, dtype, count, offset=start + length)
                return array.reshape(shape).copy()  # writable, as np.load returns it
    return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)


def flipped(match: PairMatch) -> PairMatch:
    """The same match seen from the other image."""
    return PairMatch(
        match.inliers,
        match.tentative,
        match.model,
        match.points_b,
        match.points_a,
        match.size_b,
        match.size_a,
    )
