"""PairMatch to bytes and back, for the derived store's caches of verified pairs.

Both caches (footage against references, footage against footage) hold the inlier count, the
tentative count, the model and, where a match picture may be drawn from it, the inlier points.
Entries are rebuildable: an unreadable one is treated as absent and verified again.
"""

from __future__ import annotations

import io
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
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return PairMatch(
                inliers=int(npz["inliers"]),
                tentative=int(npz["tentative"]),
                model=GeometryModel(str(npz["model"])),
                points_a=np.asarray(npz["points_a"], np.float32).reshape(-1, 2),
                points_b=np.asarray(npz["points_b"], np.float32).reshape(-1, 2),
                size_a=(int(npz["size_a"][0]), int(npz["size_a"][1])),
                size_b=(int(npz["size_b"][0]), int(npz["size_b"][1])),
            )
    except (OSError, ValueError, EOFError, KeyError, IndexError, zipfile.BadZipFile):
        return None


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
