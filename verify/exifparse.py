"""Parsing of raw EXIF values (rationals, degrees/minutes/seconds, EXIF date strings, offsets).

Kept apart from the file reading in `verify.exif` so the parsers can be property-tested on plain
numbers and strings. Every parser raises `MetadataError` with the reason instead of returning a
value it does not believe: a zero denominator, minutes >= 60 or a month 13 is never "fixed".
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from verify.errors import MetadataError

# UTC offsets in use run from -12:00 (Baker Island) to +14:00 (Line Islands).
MIN_UTC_OFFSET = timedelta(hours=-12)
MAX_UTC_OFFSET = timedelta(hours=14)

_EXIF_DATETIME = re.compile(
    r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s*$"
)
_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})\s*$")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):(\d{2})\s*$")


def rational_to_float(numerator: int, denominator: int) -> float:
    """An EXIF RATIONAL as a float; a zero denominator is an error, never infinity or zero."""
    if denominator == 0:
        raise MetadataError(f"rational {numerator}/0 has a zero denominator")
    value = numerator / denominator
    if not math.isfinite(value):
        raise MetadataError(f"rational {numerator}/{denominator} is not finite")
    return value


def dms_to_degrees(degrees: float, minutes: float, seconds: float) -> float:
    """Degrees, minutes and seconds (all non-negative, as EXIF stores them) to decimal degrees.

    Minutes and seconds must lie in [0, 60): writers that put decimal degrees in the first value
    leave the others at zero, which passes; a minutes value of 75 is corruption and is refused.
    """
    for name, value in (("degrees", degrees), ("minutes", minutes), ("seconds", seconds)):
        if not math.isfinite(value) or value < 0:
            raise MetadataError(f"{name} value {value!r} is negative or not finite")
    if minutes >= 60 or seconds >= 60:
        raise MetadataError(f"minutes {minutes!r} or seconds {seconds!r} not below 60")
    return degrees + minutes / 60.0 + seconds / 3600.0


def signed_coordinate(magnitude: float, ref: str | None, axis: str) -> float:
    """Apply the hemisphere reference (N/S for latitude, E/W for longitude) and range-check.

    A missing reference is refused rather than guessed: a wrong hemisphere moves a point by
    thousands of kilometres.
    """
    positive, negative, bound = ("N", "S", 90.0) if axis == "lat" else ("E", "W", 180.0)
    ref_clean = (ref or "").strip().upper()[:1]
    if ref_clean == positive:
        value = magnitude
    elif ref_clean == negative:
        value = -magnitude
    else:
        raise MetadataError(
            f"{'latitude' if axis == 'lat' else 'longitude'} reference {ref!r} is not "
            f"{positive} or {negative}: hemisphere unknown"
        )
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise MetadataError(f"{axis} {value!r} outside -{bound:g}..{bound:g}")
    return value


def parse_exif_datetime(text: str) -> datetime:
    """'YYYY:MM:DD HH:MM:SS[.ffffff]' (or with '-' and 'T') to a naive datetime.

    Blank placeholders ('0000:00:00 00:00:00', spaces) and impossible dates are refused with the
    reason; plausibility of the year is judged later by the time check, not here.
    """
    match = _EXIF_DATETIME.match(text)
    if not match:
        raise MetadataError(f"date/time {text.strip()[:40]!r} is not in EXIF form")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7)
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    if year == 0 and month == 0 and day == 0:
        raise MetadataError("date/time is the blank placeholder 0000:00:00")
    try:
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise MetadataError(f"date/time {text.strip()[:40]!r} is impossible: {exc}") from exc


def parse_exif_date(text: str) -> date:
    """'YYYY:MM:DD' (GPSDateStamp) to a date."""
    match = _EXIF_DATE.match(text)
    if not match:
        raise MetadataError(f"date {text.strip()[:40]!r} is not in EXIF form")
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise MetadataError(f"date {text.strip()[:40]!r} is impossible: {exc}") from exc


def parse_utc_offset(text: str) -> timedelta:
    """'+HH:MM' / '-HH:MM' (OffsetTimeOriginal) to a timedelta within -12:00..+14:00."""
    match = _OFFSET.match(text)
    if not match:
        raise MetadataError(f"UTC offset {text.strip()[:20]!r} is not in +HH:MM form")
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3))
    if minutes >= 60:
        raise MetadataError(f"UTC offset {text.strip()!r} has minutes >= 60")
    offset = sign * timedelta(hours=hours, minutes=minutes)
    if not MIN_UTC_OFFSET <= offset <= MAX_UTC_OFFSET:
        raise MetadataError(f"UTC offset {text.strip()!r} is outside -12:00..+14:00")
    return offset


def gps_datetime(day: date, hms: tuple[float, float, float]) -> datetime:
    """GPSDateStamp + GPSTimeStamp (UTC by definition) to an aware UTC datetime."""
    hour, minute, second = hms
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 61):
        raise MetadataError(f"GPS time {hour:g}:{minute:g}:{second:g} is impossible")
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(hours=int(hour), minutes=int(minute), seconds=second)


def format_offset(offset: timedelta) -> str:
    """A timedelta offset as '+HH:MM'."""
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{sign}{total // 60:02d}:{total % 60:02d}"
