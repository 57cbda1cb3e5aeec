"""Reliability soak (issue 7): SIGKILL during ingest and verify, concurrent writers, on SQLite
and PostgreSQL; after every kill the store must pass fsck, and at the end nothing may be lost
or duplicated.

Run: /work/venv/bin/python benchmarks/bench_soak.py [--kills N] [--rounds N] [--writers N]
     [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
Prints a Markdown section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from evidence_store.blobs import sha256_file  # noqa: E402
from evidence_store.db import open_workspace  # noqa: E402
from evidence_store.fsck import check_store  # noqa: E402
from evidence_store.models import Blob, Case, EvidenceItem  # noqa: E402
from tests.cases.cli_helpers import run_cli, start_cli  # noqa: E402


@dataclass
class Tally:
    kills: int = 0
    kills_mid_run: int = 0
    fsck_runs: int = 0
    fsck_problems: list[str] = field(default_factory=list)
    partial_blobs: int = 0
    lost: int = 0
    duplicated: int = 0
    busy_errors: int = 0
    failed_commands: int = 0
    writers: int = 0
    seconds: float = 0.0


def documents(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n in range(count):
        p = folder / f"doc {seed}-{n:03d}.bin"
        p.write_bytes(rng.randbytes(size))
        out.append(p)
    return out


def fsck(home: Path, db: str | None, t: Tally) -> None:
    ws = open_workspace(home, db)
    try:
        report = check_store(ws)
        t.fsck_runs += 1
        t.fsck_problems += [str(p) for p in report.problems]
        t.partial_blobs += sum(
            sha256_file(ws.blobs.path(sha)) != sha for sha in ws.blobs.iter_stored()
        )
    finally:
        ws.dispose()


def tally_items(home: Path, db: str | None, case: str, expected: list[Path], t: Tally) -> None:
    ws = open_workspace(home, db)
    try:
        with ws.reading() as s:
            shas = list(s.scalars(select(EvidenceItem.sha256).join(Case).where(Case.code == case)))
            blobs = s.scalar(select(func.count()).select_from(Blob)) or 0
    finally:
        ws.dispose()
    want = {sha256_file(p) for p in expected}
    t.lost += len(want - set(shas))
    t.duplicated += (len(shas) - len(set(shas))) + max(0, blobs - len(set(shas)))


def kill_later(proc: subprocess.Popen[str], delay: float, t: Tally) -> None:
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        t.kills_mid_run += 1
    t.kills += 1


def new_case(home: Path, db: str | None) -> str:
    run_cli(home, db, "init")
    return run_cli(home, db, "case", "open", "Soak", "--date", "2019-07-22").stdout.strip()


def soak_ingest(work: Path, db: str | None, kills: int, t: Tally) -> None:
    home = work / "ingest"
    case = new_case(home, db)
    docs = documents(work / "in", 60, 256 * 1024, 1)
    args = ("evidence", "add", case, *map(str, docs), "--kind", "document")
    rng = random.Random(7)
    for _ in range(kills):
        kill_later(start_cli(home, db, *args), rng.uniform(0.8, 6.0), t)
        fsck(home, db, t)
    t.failed_commands += run_cli(home, db, *args).returncode != 0
    fsck(home, db, t)
    tally_items(home, db, case, docs, t)


def soak_verify(work: Path, db: str | None, kills: int, sites: Path, t: Tally) -> None:
    home = work / "verify"
    case = new_case(home, db)
    photos = sorted((sites / "ettlingen_castle").glob("*.jpg"))
    run_cli(home, db, "site", "add", case, "castle", "--lat", "48.9", "--lon", "8.4", "--claimed")
    run_cli(home, db, "evidence", "add", case, *map(str, photos[:3]), "--kind", "photo",
            "--site", "castle")  # fmt: skip
    run_cli(home, db, "evidence", "add", case, *map(str, photos[3:6]), "--kind", "photo")
    rng = random.Random(8)
    for _ in range(kills):
        kill_later(start_cli(home, db, "verify", case), rng.uniform(0.8, 8.0), t)
        fsck(home, db, t)
    t.failed_commands += run_cli(home, db, "verify", case).returncode != 0
    fsck(home, db, t)


def soak_concurrent(work: Path, db: str | None, rounds: int, writers: int, t: Tally) -> None:
    home = work / "concurrent"
    case = new_case(home, db)
    expected: list[Path] = []
    rng = random.Random(9)
    for r in range(rounds):
        shared = documents(work / f"shared{r}", 6, 64 * 1024, 100 + r)
        expected += shared
        procs, argv = [], []
        for w in range(writers):
            own = documents(work / f"own{r}-{w}", 3, 64 * 1024, 1000 + r * 50 + w)
            expected += own
            files = list(shared)
            rng.shuffle(files)
            a = ("evidence", "add", case, *map(str, files + own), "--kind", "document")
            argv.append(a)
            procs.append(start_cli(home, db, *a))
        procs.append(start_cli(home, db, "verify", case))
        argv.append(("verify", case))
        t.writers = max(t.writers, writers + 1)
        # One writer per round is killed part-way and re-run afterwards.
        victim = rng.randrange(writers)
        kill_later(procs[victim], rng.uniform(0.5, 3.0), t)
        for i, p in enumerate(procs):
            if i == victim:
                continue
            _out, err = p.communicate()
            t.busy_errors += ("locked" in err) or ("busy" in err)
            t.failed_commands += p.returncode != 0
        t.failed_commands += run_cli(home, db, *argv[victim]).returncode != 0
        fsck(home, db, t)
    tally_items(home, db, case, expected, t)


def with_pg_database(server: str):
    url = make_url(server)
    name = f"cc_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def run_backend(label: str, server: str | None, args: argparse.Namespace, sites: Path) -> Tally:
    t = Tally()
    start = time.monotonic()
    for phase in ("ingest", "verify", "concurrent"):
        db, drop = (None, None) if server is None else with_pg_database(server)
        try:
            with tempfile.TemporaryDirectory(prefix=f"soak-{label}-") as tmp:
                work = Path(tmp)
                if phase == "ingest":
                    soak_ingest(work, db, args.kills, t)
                elif phase == "verify":
                    soak_verify(work, db, max(1, args.kills // 2), sites, t)
                else:
                    soak_concurrent(work, db, args.rounds, args.writers, t)
        finally:
            if drop is not None:
                drop()
        print(f"[{label}] {phase} done after {time.monotonic() - start:.0f} s", file=sys.stderr)
    t.seconds = time.monotonic() - start
    return t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    sites = Path(os.environ.get("CLAIMCHECK_SHARED", ROOT.parent / "shared")) / "data" / "sites"
    load = os.getloadavg()
    results = {
        "SQLite": run_backend("sqlite", None, args, sites),
        "PostgreSQL": run_backend("postgres", args.pg, args, sites),
    }
    print("## Reliability soak (issue 7)\n")
    print(
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or 'x86_64'}"
        f", {os.cpu_count()} cores, load average at start {load[0]:.2f} (shared machine), by "
        f"`benchmarks/bench_soak.py --kills {args.kills} --rounds {args.rounds} "
        f"--writers {args.writers}`. Every kill is SIGKILL of a `claimcheck` subprocess at a "
        "random time; fsck (in-process `check_store`, plus re-hashing every file under a "
        "final blob name) runs after each. Concurrent rounds: writers add the same 6 files "
        "in shuffled order plus 3 own files each while `verify` runs; one writer per round is "
        "killed and re-run. Target: nothing lost, nothing duplicated, no fsck problem, no "
        "'database is locked' reaching the user.\n"
    )
    print("| measure | " + " | ".join(results) + " |")
    print("| --- | " + " | ".join("---" for _ in results) + " |")
    rows = [
        ("SIGKILLs (of which mid-command)", lambda t: f"{t.kills} ({t.kills_mid_run})"),
        ("fsck runs / problems found", lambda t: f"{t.fsck_runs} / {len(t.fsck_problems)}"),
        ("partial blobs under a final name", lambda t: str(t.partial_blobs)),
        ("concurrent processes per round", lambda t: str(t.writers)),
        ("items lost", lambda t: str(t.lost)),
        ("items or blobs duplicated", lambda t: str(t.duplicated)),
        ("'locked'/'busy' errors shown", lambda t: str(t.busy_errors)),
        ("commands failing (other than killed)", lambda t: str(t.failed_commands)),
        ("wall time", lambda t: f"{t.seconds:.0f} s"),
    ]
    for name, fn in rows:
        print(f"| {name} | " + " | ".join(fn(t) for t in results.values()) + " |")
    for label, t in results.items():
        for p in t.fsck_problems[:5]:
            print(f"\n{label} fsck problem: {p}")


if __name__ == "__main__":
    main()
