"""Fuzzing the ingest path with mutations of real files (issue 7).

Every mutated file must either be refused with a typed one-line error or be stored with its
analysis (metadata, hashes) done or explained; anything else is a crash. Bounded: a fixed
number of examples with a per-example deadline, so the suite stays fast. Crashes found are
kept as regression tests below the fuzzer.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.errors import CaseError
from cases.ingest import add_evidence
from cases.workflow import open_case
from evidence_store.db import init_workspace
from evidence_store.errors import StoreError
from tests.cases.hostile_files import video_declaring_frames

# Longer runs: CLAIMCHECK_FUZZ_EXAMPLES=2000 python -m pytest tests/cases/test_ingest_fuzz.py
FUZZ_EXAMPLES = int(os.environ.get("CLAIMCHECK_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def seeds(shared_data: Path, tmp_path_factory) -> list[bytes]:
    video = video_declaring_frames(tmp_path_factory.mktemp("seed") / "v.mp4", 10)
    from PIL import Image

    png = tmp_path_factory.mktemp("seed") / "p.png"
    Image.new("RGB", (40, 30), (10, 120, 200)).save(png)
    return [
        (shared_data / "exif" / "gps" / "DSCN0010.jpg").read_bytes(),
        (shared_data / "exif" / "orientation" / "landscape_6.jpg").read_bytes()
        if (shared_data / "exif" / "orientation" / "landscape_6.jpg").exists()
        else (shared_data / "exif" / "gps" / "DSCN0012.jpg").read_bytes(),
        png.read_bytes(),
        video.read_bytes(),
    ]


@pytest.fixture(scope="module")
def fuzz_ws():
    root = Path(tempfile.mkdtemp(prefix="cc-fuzz-"))
    ws = init_workspace(root / "ws")
    open_case(ws, "fuzz", title="Fuzz", incident_date=date(2020, 1, 1))
    yield ws, root
    ws.dispose()


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("ff"), st.integers(0, 1 << 20), st.integers(1, 64)),
)


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, pos, value in edits:
        # Mutations in the first 64 KiB hit headers, EXIF and sample tables, where parsers live.
        pos = pos % min(len(buf), 65536) if buf else 0
        if op == "flip" and buf:
            buf[pos] ^= value
        elif op == "cut":
            del buf[max(pos, 1) :]
        elif op == "insert":
            buf[pos:pos] = bytes([value]) * 16
        elif op == "ff" and buf:
            buf[pos : pos + value] = b"\xff" * value
    return bytes(buf)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=5000,
    derandomize=not os.environ.get("CLAIMCHECK_FUZZ_EXAMPLES"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 3), edits=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_real_files_never_crash_ingest(seeds, fuzz_ws, seed, edits):
    ws, root = fuzz_ws
    data = mutate(seeds[seed], edits)
    path = root / f"mutant-{seed}.bin"
    path.write_bytes(data)
    kind = "video" if seed == 3 else "photo"
    try:
        [result] = add_evidence(ws, "fuzz", "C-0001", [path], kind=kind)
    except (CaseError, StoreError) as exc:
        assert "\n" not in str(exc)
        return
    assert result.item.startswith("E-")
