"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`../shared` beside the project root, or wherever CLAIMCHECK_SHARED points."""
    return Path(os.environ.get("CLAIMCHECK_SHARED", PROJECT_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real development photos. Missing data skips locally but fails in CI, where it is
    always present, so a broken path can never turn real-data tests into silent skips."""
    data = shared_dir() / "data"
    if not data.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {data}")
        pytest.skip(f"shared data not found at {data}")
    return data


@pytest.fixture(scope="session")
def sites_dir(shared_data: Path) -> Path:
    return shared_data / "sites"


@pytest.fixture(scope="session")
def exif_dir(shared_data: Path) -> Path:
    return shared_data / "exif"


# Store tests run on SQLite and PostgreSQL (issue 7): `db_url` is parametrised over both.
from tests.store_backends import db_url  # noqa: E402, F401
