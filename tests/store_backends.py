"""Test databases: every store test runs on SQLite and, when CLAIMCHECK_TEST_DB names a
PostgreSQL server, on a fresh PostgreSQL schema of its own.

CLAIMCHECK_TEST_DB is a SQLAlchemy URL (`postgresql+psycopg://postgres@127.0.0.1:5432/cc_ci_x`);
each test gets a schema of its own in that database (`cc_t<random>`, selected through the
connection's search_path), created before and dropped after the test. Under CI (`CI` set) a
missing or unreachable server fails the test instead of skipping it, so CI can never go green
without having exercised PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_DB_ENV = "CLAIMCHECK_TEST_DB"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL required under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty schema in the database named by CLAIMCHECK_TEST_DB; yield a URL whose
    connections see only that schema (search_path). A schema is as isolated as a database for
    the store (every table, sequence and the Alembic version live in it) and is created and
    dropped in milliseconds, where CREATE/DROP DATABASE costs seconds on a loaded server."""
    base = os.environ.get(TEST_DB_ENV)
    if not base:
        _missing(f"{TEST_DB_ENV} is not set")
    assert base is not None
    url = make_url(base)
    name = f"cc_t{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # any driver error means "no usable server"
        admin.dispose()
        _missing(f"cannot create a schema via {TEST_DB_ENV}: {str(exc).splitlines()[0]}")
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={name}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the workspace's own SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_postgres_database() as url:
        yield url


def db_args(url: str | None) -> list[str]:
    """CLI arguments selecting the test database."""
    return [] if url is None else ["--db", url]
