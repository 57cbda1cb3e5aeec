"""Disk full and read-only workspace: a clear one-line error and an unchanged store (issue 7).

Two mechanisms, because root ignores file modes: ENOSPC injected at the OS-call boundary
in-process (runs everywhere), and a real size-limited tmpfs that is filled and then remounted
read-only, inside a private mount namespace (`unshare -m`) so nothing leaks to the host; that
test needs CAP_SYS_ADMIN and is skipped where mounting is not permitted.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from cases import workflow
from cases.ingest import add_evidence
from evidence_store.db import init_workspace
from evidence_store.errors import StoreUnavailableError
from evidence_store.fsck import check_store
from tests.cases.cli_helpers import ROOT, cli_args


def store_state(ws) -> tuple:
    """Everything a failed write must leave as it was: items, chain head, files on disk."""
    with ws.reading() as s:
        case = workflow.load_case(s, "C-0001")
        items = sorted(i.sha256 for i in case.items)
        head = (case.chain_seq, case.chain_head)
    files = sorted(str(p.relative_to(ws.home)) for p in ws.home.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith("claimcheck.db")]  # SQLite's own files
    return items, head, files


class _FullDisk:
    """A file object whose writes fail as a full disk would."""

    def __init__(self, real) -> None:
        self._real = real

    def write(self, _data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


def test_disk_full_while_storing_leaves_store_unchanged(tmp_path: Path, db_url, monkeypatch):
    ws = init_workspace(tmp_path / "ws", db_url)
    workflow.open_case(ws, "t", title="T", incident_date=date(2019, 7, 22))
    first = tmp_path / "first.txt"
    first.write_text("first document", encoding="utf-8")
    add_evidence(ws, "t", "C-0001", [first], kind="document")
    before = store_state(ws)
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k)))
    second = tmp_path / "second.txt"
    second.write_text("second document", encoding="utf-8")
    with pytest.raises(StoreUnavailableError, match="disk full"):
        add_evidence(ws, "t", "C-0001", [second], kind="document")
    monkeypatch.undo()
    assert store_state(ws) == before
    assert check_store(ws).ok
    ws.dispose()


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=20
    )
    return probe.returncode == 0


SCRIPT = r"""
set -u
mount -t tmpfs -o size=3m tmpfs "$MNT" || exit 99
cc() { "$PY" -m cases.cli --home "$MNT/ws" $DBARGS "$@"; }
out() { echo "$1 rc=$2" >> "$LOG"; }
cc init 2>/dev/null; out init $?
cc case open T --date 2019-07-22 >/dev/null 2>&1; out open $?
cc evidence add C-0001 "$SMALL" --kind document 2>/dev/null; out small $?
cc evidence list C-0001 --json > "$OUT/before.json"
cc evidence add C-0001 "$BIG" --kind document 2> "$OUT/full.err"; out full $?
cc evidence list C-0001 --json > "$OUT/after_full.json"
cc fsck --json > "$OUT/fsck_full.json"; out fsck_full $?
ls -A "$MNT/ws/blobs/tmp" > "$OUT/tmp_after_full.txt"
mount -o remount,ro "$MNT" || exit 98
cc evidence add C-0001 "$SMALL2" --kind document 2> "$OUT/ro.err"; out ro $?
cc statement add C-0001 --witness W --text "hello" 2> "$OUT/ro_statement.err"; out ro_st $?
cc verify C-0001 2> "$OUT/ro_verify.err"; out ro_verify $?
cc evidence list C-0001 --json > "$OUT/after_ro.json"; out list_ro $?
cc fsck --json > "$OUT/fsck_ro.json"; out fsck_ro $?
"""


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (unshare -m)")
def test_real_full_then_read_only_filesystem(tmp_path: Path):
    # SQLite only: the database file shares the filesystem with the blobs, the harder case.
    # (With PostgreSQL the same directory-level checks apply; the ENOSPC test covers both.)
    db_url = None
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    small, small2, big = tmp_path / "small.bin", tmp_path / "small2.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(10_000))
    small2.write_bytes(os.urandom(1_000))
    big.write_bytes(os.urandom(5_000_000))  # more than the 3 MB filesystem holds
    env = os.environ | {
        "MNT": str(mnt),
        "OUT": str(out),
        "LOG": str(out / "rc.txt"),
        "PY": cli_args(mnt, None)[0],
        "DBARGS": "" if db_url is None else f"--db {db_url}",
        "SMALL": str(small),
        "SMALL2": str(small2),
        "BIG": str(big),
    }
    r = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode in (98, 99):
        pytest.skip("mounting a tmpfs is not permitted here")
    rc = dict(line.split(" rc=") for line in (out / "rc.txt").read_text().splitlines())
    assert rc["init"] == rc["open"] == rc["small"] == "0", rc
    before = json.loads((out / "before.json").read_text())
    assert len(before["items"]) == 1

    full_err = (out / "full.err").read_text().strip().splitlines()
    assert rc["full"] == "1" and len(full_err) == 1 and "disk full" in full_err[0], full_err
    assert json.loads((out / "after_full.json").read_text()) == before
    assert json.loads((out / "fsck_full.json").read_text())["ok"]
    assert (out / "tmp_after_full.txt").read_text() == ""  # no partial blob left behind

    for name in ("ro.err", "ro_statement.err", "ro_verify.err"):
        err = (out / name).read_text().strip().splitlines()
        assert len(err) == 1 and "read-only" in err[0], err
    assert rc["ro"] == rc["ro_st"] == rc["ro_verify"] == "1"
    assert rc["list_ro"] == "0" and rc["fsck_ro"] == "0"
    assert json.loads((out / "after_ro.json").read_text()) == before
    assert json.loads((out / "fsck_ro.json").read_text())["ok"]
