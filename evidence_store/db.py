"""Workspaces: where a team's database and blob store live, and how sessions are opened.

A workspace is a directory (`--home`, default `./.claimcheck`) holding `workspace.json`, the
SQLite database (unless `--db` points at PostgreSQL), `blobs/` and `derived/`.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from evidence_store.blobs import BlobStore, DerivedStore, sha256_file
from evidence_store.errors import (
    StoreBusyError,
    StoreUnavailableError,
    WorkspaceExistsError,
    WorkspaceMissingError,
)
from evidence_store.timeutil import iso_utc, utcnow

WORKSPACE_FILE = "workspace.json"
SQLITE_FILE = "claimcheck.db"

# SQLite waits this long for a lock inside one attempt; `run_write` retries whole transactions
# on top of that, so a user sees "busy" only after WRITE_RETRY_SECONDS of contention.
SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_RETRY_SECONDS = 60.0

T = TypeVar("T")


@dataclass
class Workspace:
    home: Path
    url: str
    engine: Engine
    blobs: BlobStore
    derived: DerivedStore
    info: dict[str, Any]
    _sessions: sessionmaker[Session]
    _write_sessions: sessionmaker[Session]
    # Set when the workspace directory sits on a read-only filesystem or cannot be written:
    # reads still work (SQLite is opened immutable), every write is refused up front.
    read_only: bool = False

    @property
    def fingerprint(self) -> str:
        """Identifies this workspace in reports and exports (stable, not secret)."""
        return str(self.info["workspace_id"])

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read session that sees one consistent state across all its queries.

        SQLite's read transactions already do (WAL snapshot from the first read); PostgreSQL's
        default READ COMMITTED would let a concurrent commit show up halfway through fsck or
        an export, as a false "chain ends early" or a row without its event.
        """
        with self._sessions() as session:
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    def holds(self, path: Path) -> bool:
        """Whether `path` lies inside the workspace directory: the originals, the derived
        store and the SQLite database. Commands that write files the user names (reports,
        bundles) refuse such a path, so a mistyped `-o` cannot overwrite evidence."""
        home = self.home.resolve()
        target = path.resolve()
        return target == home or home in target.parents

    def original_at(self, path: Path) -> str | None:
        """The SHA-256 of the file at `path` when it is a copy of a stored original, else None.

        The investigator's own copy of a file they added (outside the workspace) is evidence
        too: a mistyped `-o` naming it must not overwrite it, as `holds` guards the stored one."""
        try:
            if not path.is_file():
                return None
            sha = sha256_file(path)
        except OSError:
            return None  # unreadable here: writing over it will fail with its own message
        return sha if self.blobs.exists(sha) else None

    def require_writable(self) -> None:
        """Refuse a change before any of it is attempted when the workspace is read-only."""
        if self.read_only:
            raise StoreUnavailableError(
                f"the workspace at {self.home} is read-only; nothing was changed"
            )

    def run_write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction, retrying the whole of it on lock contention
        and serialisation failures, with jittered backoff, for at most WRITE_RETRY_SECONDS."""
        self.require_writable()
        deadline = time.monotonic() + WRITE_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                with self._write_sessions() as session, session.begin():
                    return work(session)
            except (OperationalError, IntegrityError, DBAPIError) as exc:
                if not _is_transient(exc) or time.monotonic() > deadline:
                    if _is_transient(exc):
                        raise StoreBusyError(
                            "the workspace stayed busy with another claimcheck process for "
                            f"{WRITE_RETRY_SECONDS:.0f} s; try again"
                        ) from exc
                    raise _translate(exc) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    def dispose(self) -> None:
        self.engine.dispose()


def _is_transient(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    markers = (
        "database is locked",
        "database table is locked",
        "could not serialize",
        "deadlock detected",
        # Two writers raced for the same chain sequence number or case code: retrying reads
        # the new head and succeeds.
        "unique constraint failed: custody_events",
        "custody_events_case_id_seq_key",
        "unique constraint failed: cases.code",
        "cases_code_key",
        "unique constraint failed: evidence_items.code",
        "evidence_items_code_key",
        "unique constraint failed: findings.code",
        "findings_code_key",
        "unique constraint failed: evidence_items.case_id, evidence_items.sha256",
        "evidence_items_case_id_sha256_key",
        "unique constraint failed: blobs.sha256",
        "blobs_pkey",
        "unique constraint failed: item_links",
        "item_links_item_id_role_site_id_key",
        "unique constraint failed: frames",
        "frames_item_id_frame_index_key",
    )
    return any(m in text for m in markers)


def _translate(exc: Exception) -> Exception:
    text = str(getattr(exc, "orig", exc)).lower()
    if "readonly" in text or "read-only" in text or "attempt to write a readonly" in text:
        return StoreUnavailableError("the workspace database is read-only; nothing was changed")
    if "disk" in text and "full" in text:
        return StoreUnavailableError("disk full; nothing was changed")
    if isinstance(exc, OperationalError):
        first = str(getattr(exc, "orig", exc)).splitlines()[0]
        return StoreUnavailableError(f"database error: {first}")
    return exc


def default_home() -> Path:
    return Path(os.environ.get("CLAIMCHECK_HOME", ".claimcheck"))


def _sqlite_url(home: Path, read_only: bool = False) -> str:
    path = (home / SQLITE_FILE).resolve()
    if read_only:
        wal = path.with_name(path.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            # Committed transactions may still sit in the WAL (no checkpoint since a crash):
            # read-only mode reads them, using the -shm index left beside it.
            return f"sqlite:///file:{path}?mode=ro&uri=true"
        # No WAL content: immutable needs neither locks nor -shm, which read-only media
        # cannot hold. (immutable ignores the WAL, hence only when the WAL is empty.)
        return f"sqlite:///file:{path}?immutable=1&uri=true"
    return f"sqlite:///{path}"


def is_read_only(home: Path) -> bool:
    """True when `home` is on a read-only filesystem or this process cannot write it.

    Checked with statvfs as well as access(): root passes access() checks on a directory whose
    mode says read-only, but not on a filesystem mounted read-only.
    """
    try:
        if os.statvfs(home).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(home, os.W_OK)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if "uri=true" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # FULL: a committed custody event survives power loss, not just a process crash.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the lock up front: a deferred transaction that later upgrades to a
            # write can fail with "database is locked" without waiting for the busy timeout.
            mode = "IMMEDIATE" if conn.get_execution_options().get("cc_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise StoreUnavailableError(f"cannot use database URL: {exc}") from exc


def _build(home: Path, url: str, info: dict[str, Any], read_only: bool = False) -> Workspace:
    engine = _make_engine(url)
    write_engine = engine.execution_options(cc_write=True)
    return Workspace(
        home=home,
        url=url,
        engine=engine,
        blobs=BlobStore(home / "blobs"),
        derived=DerivedStore(home / "derived"),
        info=info,
        _sessions=sessionmaker(engine, expire_on_commit=False),
        _write_sessions=sessionmaker(write_engine, expire_on_commit=False),
        read_only=read_only,
    )


def init_workspace(home: Path, db_url: str | None = None) -> Workspace:
    """Create a workspace and its schema. Refuses to overwrite an existing one."""
    from evidence_store.migrate import upgrade_to_head

    marker = home / WORKSPACE_FILE
    if marker.exists():
        raise WorkspaceExistsError(f"a workspace already exists at {home}")
    if db_url:
        _refuse_a_used_database(db_url)
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / "blobs").mkdir(exist_ok=True)
        (home / "derived").mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(f"cannot create workspace at {home}: {exc.strerror}") from exc
    info = {
        "workspace_id": uuid.uuid4().hex,
        "created_at": iso_utc(utcnow()),
        "database": "postgresql" if db_url else "sqlite",
    }
    url = db_url or _sqlite_url(home)
    ws = _build(home, url, info)
    upgrade_to_head(ws.engine)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, marker)
    return ws


def _refuse_a_used_database(url: str) -> None:
    """Creating a second workspace on a database another one uses would show that workspace's
    cases from a folder holding none of their originals, and mix new records into its chains."""
    from evidence_store.migrate import current_revision

    engine = _make_engine(url)
    try:
        if current_revision(engine) is not None:
            raise WorkspaceExistsError(
                "that database already holds a claimcheck workspace's records: open the "
                "workspace's folder with --home and this --db, or give an empty database"
            )
    finally:
        engine.dispose()


def open_workspace(home: Path, db_url: str | None = None) -> Workspace:
    """Open an existing workspace, migrating an older schema and refusing a newer one."""
    from evidence_store.migrate import check_and_upgrade

    marker = home / WORKSPACE_FILE
    if not marker.is_file():
        raise WorkspaceMissingError(
            f"no claimcheck workspace at {home} (run `claimcheck init` or pass --home)"
        )
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreUnavailableError(f"cannot read {marker}: {exc}") from exc
    if not isinstance(info, dict):
        raise StoreUnavailableError(f"cannot read {marker}: it holds no workspace description")
    if db_url is None and info.get("database") == "postgresql":
        raise StoreUnavailableError(
            f"the workspace at {home} keeps its records in PostgreSQL: pass --db or set "
            "CLAIMCHECK_DB"
        )
    if db_url is not None and info.get("database") == "sqlite":
        # A CLAIMCHECK_DB left set for a shared store would otherwise send this folder's
        # commands to that database: its cases shown, and new rows written beside originals
        # stored here.
        raise StoreUnavailableError(
            f"the workspace at {home} keeps its records in its own SQLite file, not in a "
            "--db database: drop --db (or unset CLAIMCHECK_DB)"
        )
    read_only = is_read_only(home)
    ws = _build(home, db_url or _sqlite_url(home, read_only), info, read_only)
    check_and_upgrade(ws.engine, read_only=read_only)
    return ws
