"""Crash safety and concurrency through the real CLI, on SQLite and PostgreSQL (issue 7).

Processes are SIGKILLed at random points during a large ingest and during verify; afterwards
fsck must find a consistent store, every blob under a final name must hash to that name, and
re-running the interrupted command must finish the job without duplicates. Several processes
ingest into one workspace at once (the same files and different files) while verify runs.
The loops are bounded for the suite; benchmarks/bench_soak.py runs the long version.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evidence_store.blobs import sha256_file
from evidence_store.db import open_workspace
from evidence_store.fsck import check_store
from evidence_store.models import Blob, EvidenceItem
from tests.cases.cli_helpers import run_cli, start_cli

# Kills per test: enough to land in different phases (copy, analysis, commit) across runs,
# few enough to keep each test to a few seconds. The soak benchmark does hundreds.
KILLS = 2


def make_documents(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"doc {n:03d}.bin"
        path.write_bytes(rng.randbytes(size))
        paths.append(path)
    return paths


def assert_store_consistent(home: Path, db_url: str | None) -> None:
    ws = open_workspace(home, db_url)
    try:
        report = check_store(ws)
        assert report.ok, [str(p) for p in report.problems]
        # No partial blob is visible under a final name, referenced or not.
        for sha in ws.blobs.iter_stored():
            assert sha256_file(ws.blobs.path(sha)) == sha
    finally:
        ws.dispose()


def item_shas(home: Path, db_url: str | None, case: str) -> list[str]:
    ws = open_workspace(home, db_url)
    try:
        with ws.reading() as s:
            return list(
                s.scalars(
                    select(EvidenceItem.sha256)
                    .join(EvidenceItem.case)
                    .where(EvidenceItem.case.property.mapper.class_.code == case)
                )
            )
    finally:
        ws.dispose()


def new_case(home: Path, db_url: str | None) -> str:
    assert run_cli(home, db_url, "init").returncode == 0
    r = run_cli(home, db_url, "case", "open", "Strike", "--date", "2019-07-22")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def kill_after(proc, delay: float) -> bool:
    """SIGKILL `proc` after `delay` seconds; True when it was still running (a real crash)."""
    try:
        proc.wait(timeout=delay)
        return False
    except Exception:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def test_sigkill_during_ingest_loses_nothing(tmp_path: Path, db_url):
    home = tmp_path / "ws"
    case = new_case(home, db_url)
    docs = make_documents(tmp_path / "in", 30, 256 * 1024, seed=7)
    args = ("evidence", "add", case, *map(str, docs), "--kind", "document")
    rng = random.Random(1)
    crashes = 0
    for _ in range(KILLS):
        crashes += kill_after(start_cli(home, db_url, *args), rng.uniform(0.9, 3.0))
        assert_store_consistent(home, db_url)
    assert crashes >= 1, "no kill landed while the ingest was running"
    final = run_cli(home, db_url, *args)
    assert final.returncode == 0, final.stderr
    shas = item_shas(home, db_url, case)
    assert sorted(shas) == sorted(sha256_file(p) for p in docs)  # all there, none twice
    assert_store_consistent(home, db_url)


def test_sigkill_during_verify_then_rerun(tmp_path: Path, db_url, sites_dir: Path):
    home = tmp_path / "ws"
    case = new_case(home, db_url)
    refs = sorted((sites_dir / "ettlingen_castle").glob("*.jpg"))[:2]
    footage = sorted((sites_dir / "ettlingen_castle").glob("*.jpg"))[2:4]
    r = run_cli(
        home, db_url, "site", "add", case, "castle", "--lat", "48.94", "--lon", "8.41", "--claimed"
    )
    assert r.returncode == 0, r.stderr
    add = ("evidence", "add", case, *map(str, refs), "--kind", "photo", "--site", "castle")
    r = run_cli(home, db_url, *add)
    assert r.returncode == 0, r.stderr
    r = run_cli(home, db_url, "evidence", "add", case, *map(str, footage), "--kind", "photo")
    assert r.returncode == 0, r.stderr
    rng = random.Random(2)
    for _ in range(2):
        kill_after(start_cli(home, db_url, "verify", case), rng.uniform(1.0, 3.0))
        assert_store_consistent(home, db_url)
    r = run_cli(home, db_url, "verify", case, "--json")
    assert r.returncode == 0, r.stderr
    assert_store_consistent(home, db_url)


@pytest.mark.parametrize("writers", [3])
def test_concurrent_ingest_same_and_different_files_with_verify(
    tmp_path: Path, db_url, writers: int
):
    home = tmp_path / "ws"
    case = new_case(home, db_url)
    shared = make_documents(tmp_path / "shared", 4, 32 * 1024, seed=11)
    procs = []
    own: list[Path] = []
    for w in range(writers):
        mine = make_documents(tmp_path / f"w{w}", 2, 32 * 1024, seed=100 + w)
        own += mine
        # Each writer adds the shared files (in its own order) and its own files.
        files = list(shared)
        random.Random(w).shuffle(files)
        procs.append(
            start_cli(home, db_url, "evidence", "add", case, *map(str, files + mine), "--kind",
                      "document")
        )  # fmt: skip
    procs.append(start_cli(home, db_url, "verify", case))
    # fsck while they write: it reads one consistent snapshot, so it must never see a row
    # without its custody event or a chain that ends early.
    ws = open_workspace(home, db_url)
    try:
        while any(p.poll() is None for p in procs):
            report = check_store(ws)
            assert report.ok, [str(x) for x in report.problems]
    finally:
        ws.dispose()
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err and "busy" not in err
    expected = sorted(sha256_file(p) for p in shared + own)
    assert sorted(item_shas(home, db_url, case)) == expected
    ws = open_workspace(home, db_url)
    try:
        with ws.reading() as s:
            assert s.scalar(select(func.count()).select_from(Blob)) == len(expected)
    finally:
        ws.dispose()
    assert_store_consistent(home, db_url)
    assert len(set(expected)) == len(expected)
