"""Schema migrations with Alembic, driven from code (no alembic.ini needed at run time)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from evidence_store.errors import SchemaTooNewError, StoreUnavailableError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreUnavailableError(f"cannot reach the database: {_first_line(exc)}") from exc


def upgrade_to_head(engine: Engine) -> None:
    try:
        command.upgrade(_config(engine), "head")
    except OperationalError as exc:
        raise StoreUnavailableError(f"cannot migrate the database: {_first_line(exc)}") from exc


def check_and_upgrade(engine: Engine, *, read_only: bool = False) -> None:
    """Migrate an older schema forward; refuse one written by a newer claimcheck."""
    current = current_revision(engine)
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaTooNewError(
            f"this workspace was written by a newer claimcheck (schema {current}); "
            "upgrade claimcheck to open it"
        )
    if current != head_revision():
        if read_only:
            raise StoreUnavailableError(
                "the workspace is read-only and its schema is older than this claimcheck; "
                "open it where it can be written once to migrate it"
            )
        upgrade_to_head(engine)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
