"""Did a stored copy of a picture provably exist before an incident began?

The same picture reaching the store twice shows only that it circulates: a second channel
reposts the incident photo, another case ingests it minutes earlier. It shows footage recycled
from before the incident only when one copy is dated before the incident began, and only if
that holds in every time zone the dates may have been written in (`verify.timecheck`'s model:
a date-only incident starts at the start of its day, anywhere from UTC+14 to UTC-12). Three
dates of a copy can show it:
- collected_at, as the investigator recorded it. A date-only `--collected-at` is stored as
  00:00 UTC of that day and cannot be told from a time given as midnight UTC, so 00:00:00 UTC
  is read as "some time that day, in any zone", the reading that asserts least.
- ingested_at: the store's own clock when the copy was stored, exact.
- the capture time (photo EXIF) or creation time (video container) in the copy's metadata,
  when believable (not before consumer digital cameras, not in the future).
Belonging to a case about an earlier incident is the investigators' attribution, not a date,
so it proves nothing here; a copy stored in such a case before this incident is caught by its
ingest or collection date anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from cases.checks.stored_metadata import stored_metadata
from cases.snapshot import ItemInfo
from verify.exif import PhotoMetadata
from verify.timecheck import (
    Relation,
    UtcWindow,
    capture_window,
    is_before,
    is_believable,
    time_window,
    whole_day_window,
)

_RELATION_TEXT = {
    Relation.YES: "before the incident began",
    Relation.NO: "not before the incident began",
    Relation.UNCERTAIN: "before or after the incident began, depending on time zones",
}


class DatedBy(StrEnum):
    """Which date of a copy a time comes from."""

    COLLECTED = "collected"
    INGESTED = "ingested"
    CAPTURED = "captured"


@dataclass(frozen=True)
class CopyDate:
    """One date of a copy, as UTC instants, and whether it is before the incident began."""

    by: DatedBy
    window: UtcWindow
    before_incident: Relation

    def describe(self) -> str:
        return f"{self.window.describe}, {_RELATION_TEXT[self.before_incident]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value,
            **self.window.to_dict(),
            "before_incident": self.before_incident.value,
        }


@dataclass(frozen=True)
class CopyDating:
    """Every date known for a copy, and notes on dates that could not be used."""

    dates: tuple[CopyDate, ...]
    unused: tuple[str, ...]

    @property
    def proof(self) -> CopyDate | None:
        """The date that puts the copy furthest before the incident, if any does."""
        before = [d for d in self.dates if d.before_incident is Relation.YES]
        return min(before, key=lambda d: d.window.latest) if before else None

    def describe(self) -> str:
        return "; ".join([d.describe() for d in self.dates] + list(self.unused))


def incident_start(incident: date | datetime) -> UtcWindow:
    """When the incident can have begun, in UTC (a date: the start of that day, any zone)."""
    return time_window(incident, "incident")


def date_copy(
    copy: ItemInfo, incident: date | datetime, *, now: datetime | None = None
) -> CopyDating:
    """Every date of `copy` set against the start of `incident` (see the module doc)."""
    start = incident_start(incident)
    windows: list[tuple[DatedBy, UtcWindow]] = []
    unused: list[str] = []
    if copy.collected_at is not None:
        windows.append((DatedBy.COLLECTED, _collected_window(copy.collected_at)))
    at = copy.ingested_at.astimezone(UTC)
    windows.append((DatedBy.INGESTED, UtcWindow(at, at, f"stored {at:%Y-%m-%d %H:%M} UTC")))
    meta, _ = stored_metadata(copy)
    capture = None
    if meta is not None:
        capture = meta.capture if isinstance(meta, PhotoMetadata) else meta.creation
    if capture is None:
        unused.append("no capture time in its metadata")
    else:
        window = capture_window(capture)
        if is_believable(window, now=now):
            described = UtcWindow(window.earliest, window.latest, f"captured {window.describe}")
            windows.append((DatedBy.CAPTURED, described))
        else:
            unused.append(
                f"its capture time {capture} is not believable (camera clock probably unset), "
                "so it is not used"
            )
    dates = tuple(CopyDate(by, w, is_before(w, start)) for by, w in windows)
    return CopyDating(dates, tuple(unused))


def _collected_window(collected: datetime) -> UtcWindow:
    at = collected.astimezone(UTC)
    if at.time() == time(0, 0):
        return whole_day_window(at.date(), "collected")
    return UtcWindow(at, at, f"collected {at:%Y-%m-%d %H:%M} UTC")
