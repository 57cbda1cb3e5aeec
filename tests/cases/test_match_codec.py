"""The pair caches' codec: what `decode_match` reads is exactly what `np.load` reads, and a
damaged entry is None (verified again), never an error."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from cases.checks.match_codec import decode_match, encode_match, flipped
from verify.geometry import GeometryModel, PairMatch


def _by_numpy(data: bytes) -> PairMatch:
    """The decoding this codec used before (np.load), as the reference."""
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


def _same(a: PairMatch, b: PairMatch) -> bool:
    return (
        (a.inliers, a.tentative, a.model, a.size_a, a.size_b)
        == (b.inliers, b.tentative, b.model, b.size_a, b.size_b)
        and all(type(getattr(a, f)) is type(getattr(b, f)) for f in ("inliers", "model"))
        and all(
            x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
            for x, y in ((a.points_a, b.points_a), (a.points_b, b.points_b))
        )
    )


def _match(seed: int, count: int, model: GeometryModel) -> PairMatch:
    rng = np.random.default_rng(seed)
    return PairMatch(
        count,
        count + int(rng.integers(0, 50)),
        model,
        (rng.random((count, 2)) * 640).astype(np.float32),
        (rng.random((count, 2)) * 1024).astype(np.float32),
        (640, 480),
        (1024, 768),
    )


@pytest.mark.parametrize("model", list(GeometryModel))
@pytest.mark.parametrize("count", [0, 1, 37])
def test_decodes_what_numpy_decodes(model: GeometryModel, count: int):
    match = _match(count, count, model)
    for keep in (True, False):
        data = encode_match(match, keep_points=keep)
        got = decode_match(data)
        assert got is not None and _same(got, _by_numpy(data))
        assert got.points_a.flags.writeable and got.points_b.flags.writeable
    assert _same(decode_match(encode_match(match)), match)  # type: ignore[arg-type]
    assert _same(decode_match(encode_match(flipped(match))), flipped(match))  # type: ignore[arg-type]


def test_arrays_numpy_writes_otherwise_are_read_by_numpy():
    # Big-endian and Fortran-ordered arrays are not the codec's own plain header: read as
    # np.load reads them.
    match = _match(3, 12, GeometryModel.HOMOGRAPHY)
    buf = io.BytesIO()
    np.savez(
        buf,
        inliers=np.array(12, ">i8"),
        tentative=np.array(20, np.int64),
        model=np.array("homography"),
        points_a=np.asfortranarray(match.points_a),
        points_b=match.points_b.astype(">f4"),
        size_a=np.array(match.size_a, np.int64),
        size_b=np.array(match.size_b, np.int64),
    )
    got = decode_match(buf.getvalue())
    assert got is not None and _same(got, _by_numpy(buf.getvalue()))
    assert got.inliers == 12 and np.array_equal(got.points_b, match.points_b)


def test_damaged_entries_are_none():
    data = encode_match(_match(5, 20, GeometryModel.FUNDAMENTAL))
    assert decode_match(data[: len(data) // 2]) is None
    assert decode_match(b"") is None and decode_match(b"not a zip") is None
    # A flipped byte inside an array: the zip CRC catches it, as with np.load.
    offset = data.index(b"\x93NUMPY") + 200
    assert decode_match(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]) is None
    # A member missing, or one holding a pickled object array: unreadable.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, np.load(io.BytesIO(data)) as npz:
        for name in npz.files:
            if name != "model":
                arr = io.BytesIO()
                np.save(arr, npz[name])
                z.writestr(f"{name}.npy", arr.getvalue())
    assert decode_match(buf.getvalue()) is None
    pickled = io.BytesIO()
    np.savez(pickled, **{"inliers": np.array([object()], dtype=object)})
    assert decode_match(pickled.getvalue()) is None
