"""Parsing and range-checking of values typed by an investigator."""

from __future__ import annotations

import math
import os
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cases.errors import InputError

if TYPE_CHECKING:
    from evidence_store.db import Workspace

EVIDENCE_KINDS = ("photo", "video", "document", "statement")
ROLES = ("supports_claim", "denial_footage", "site_reference", "other")
# The one role that makes an item reference imagery of a site, and the only one a site goes with.
REFERENCE_ROLE = "site_reference"


def parse_date(text: str, what: str = "date") -> date:
    """A day on which something already happened (an incident, a publication, a statement):
    never after tomorrow, the slack for time zones."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"bad {what} {text!r}: expected YYYY-MM-DD") from exc
    check_not_future(day, what)
    return day


def check_not_future(day: date, what: str = "date") -> date:
    # A future incident date silently turns every capture-time finding upside down ("captured
    # before the incident"), so it is refused rather than stored.
    if day > (datetime.now(UTC) + timedelta(days=1)).date():
        raise InputError(f"bad {what} {day.isoformat()}: it is in the future")
    return day


def parse_datetime(text: str, what: str = "time") -> datetime:
    """ISO 8601; a time without a zone is taken as UTC (and stored as such)."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InputError(f"bad {what} {text!r}: expected ISO 8601, e.g. 2019-07-22T10:30Z") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # year 9999 east of UTC, or year 1 west of it
        raise InputError(f"bad {what} {text!r}: out of range") from exc


# When investigators collect digital files: nobody collected one before consumer digital
# cameras and the web (the floor verify.timecheck uses for capture dates). A collection time
# dates every copy of the picture for recycled_footage ("provably existed before the
# incident"), so a mistyped year must be refused, not turned into a finding.
EARLIEST_COLLECTION = datetime(1990, 1, 1, tzinfo=UTC)


def parse_when(text: str, what: str = "time", earliest: datetime | None = None) -> datetime:
    """A date (that day, 00:00 UTC) or an ISO 8601 time; never in the future, since it records
    something that already happened (a day of slack for clocks and zones), nor before
    `earliest` when given."""
    raw = text.strip()
    if len(raw) == 10:
        day = parse_date(raw, what)
        value = datetime(day.year, day.month, day.day, tzinfo=UTC)
    else:
        value = parse_datetime(raw, what)
    if value > datetime.now(UTC) + timedelta(days=1):
        raise InputError(f"bad {what} {text!r}: it is in the future")
    if earliest is not None and value < earliest:
        raise InputError(f"bad {what} {text!r}: before {earliest:%Y}; check the year")
    return value


def site_name_key(name: str) -> str:
    """What makes two site names the same to a reader: Unicode form, case and spacing do not
    ("Piazza", "piazza" and "Piazza " would be three sites that look alike in a report, and
    findings naming one would seem to name the others)."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def check_latitude(value: float) -> float:
    if not math.isfinite(value) or not -90.0 <= value <= 90.0:
        raise InputError(f"bad latitude {value}: must be between -90 and 90")
    return value


def check_longitude(value: float) -> float:
    if not math.isfinite(value) or not -180.0 <= value <= 180.0:
        raise InputError(f"bad longitude {value}: must be between -180 and 180")
    return value


def check_radius(value: float) -> float:
    # 50 km is wider than any site an investigator would call "the market".
    if not math.isfinite(value) or not 0.0 < value <= 50_000.0:
        raise InputError(f"bad radius {value}: must be more than 0 and at most 50000 metres")
    return value


def check_count(value: int | None, what: str) -> int | None:
    if value is not None and value < 0:
        raise InputError(f"bad {what} count {value}: must not be negative")
    return value


def check_kind(kind: str) -> str:
    if kind not in EVIDENCE_KINDS:
        raise InputError(f"unknown kind {kind!r}: expected one of {', '.join(EVIDENCE_KINDS)}")
    return kind


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def check_link(role: str, site: str | None) -> str:
    """A known role, with a site exactly when it is reference imagery. A claim or denial item
    linked to a site would become reference imagery of that site, and other footage would then
    be matched against it: the claim confirming itself."""
    check_role(role)
    if role == REFERENCE_ROLE and not site:
        raise InputError(f"--role {REFERENCE_ROLE} needs --site NAME: the site the imagery shows")
    if site and role != REFERENCE_ROLE:
        raise InputError(
            f"--site goes only with --role {REFERENCE_ROLE} (reference imagery of a site), not "
            f"with --role {role}: site matching decides which site the footage shows"
        )
    return role


def check_text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise InputError(f"{what} must not be empty")
    return check_utf8(value, what)


def check_utf8(value: str, what: str) -> str:
    """Refuse text that holds bytes which are not UTF-8 (Python keeps such command-line bytes
    as lone surrogates, which no database or JSON document can store)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputError(
            f"{what} '{shown}' is not valid UTF-8 (character {exc.start}): retype it in UTF-8"
        ) from exc
    return value


def display_name(path: Path) -> str:
    """The file name of `path` as text that can always be stored and shown.

    Names that are not UTF-8 (from Windows or legacy Arabic code pages, say) keep their bytes
    visible as `\\xe9`-style escapes; the file itself is still read by its real path."""
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def unsafe_output(ws: Workspace, path: Path, what: str) -> str | None:
    """Why `path` must not receive a `what` ("report", "bundle") the tool writes, or None.

    Files written with -o are renamed into place, so whatever the path names is replaced: the
    workspace's own files (its evidence and records), a device or pipe (as root, `-o /dev/full`
    replaced the device node), or the investigator's copy of a stored original."""
    if ws.holds(path):
        return (
            f"will not write {path}: it is inside the workspace {ws.home}, which keeps the "
            f"evidence and its records; write the {what} elsewhere"
        )
    if path.exists() and not path.is_file():
        return f"will not write {path}: it is not a regular file"
    if ws.original_at(path) is not None:
        return (
            f"will not write {path}: it is a copy of an original stored in this workspace; "
            f"write the {what} elsewhere"
        )
    return None
