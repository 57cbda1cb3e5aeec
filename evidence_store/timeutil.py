"""UTC timestamps with one text form, so hashes of records are stable across databases."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, truncated to microseconds (what both SQLite and PostgreSQL keep)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to the naive datetimes SQLite hands back; convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` suffix and microseconds: the canonical text form."""
    if value is None:
        return None
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
