"""When a photo or video says it was captured, with how sure we are of its time zone.

Cameras write wall-clock time without a zone unless they also write an offset tag; phones and
GPS receivers give UTC. Keeping the two apart lets the time check widen its window only when the
zone is really unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from verify.errors import InvalidValueError
from verify.exifparse import MAX_UTC_OFFSET, MIN_UTC_OFFSET, format_offset

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def shift_clamped(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, clamped to the representable range (a camera clock at year 1 must not
    crash the window arithmetic)."""
    try:
        return moment + delta
    except OverflowError:
        return _EARLIEST if delta < timedelta(0) else _LATEST


class ZoneSource(StrEnum):
    """Where the UTC time of a capture came from."""

    OFFSET_TAG = "offset_tag"  # EXIF OffsetTimeOriginal / OffsetTimeDigitized
    GPS = "gps"  # offset implied by the GPS clock (UTC) agreeing with the camera clock
    CONTAINER_UTC = "container_utc"  # video container creation_time, UTC by specification
    UNKNOWN = "unknown"  # wall-clock time of an unknown zone


@dataclass(frozen=True)
class CaptureTime:
    """A capture time: the camera's wall-clock reading and, when the zone is known, UTC.

    `local` is naive (as written by the camera; None for sources that only give UTC); `utc` is
    aware UTC or None when the zone is unknown. `source` names the tag the time was read from.
    """

    local: datetime | None
    utc: datetime | None
    zone: ZoneSource
    source: str
    utc_offset_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.local is None and self.utc is None:
            raise InvalidValueError("a capture time needs a local or a UTC time")
        if self.local is not None and self.local.tzinfo is not None:
            raise InvalidValueError("local capture time must be naive (wall clock)")
        if self.utc is not None:
            if self.utc.tzinfo is None:
                raise InvalidValueError("UTC capture time must be timezone-aware")
            object.__setattr__(self, "utc", self.utc.astimezone(UTC))
        if (self.zone is ZoneSource.UNKNOWN) != (self.utc is None):
            raise InvalidValueError("zone is unknown exactly when there is no UTC time")

    def utc_window(self) -> tuple[datetime, datetime]:
        """Earliest and latest UTC instant this capture can be: one instant when the zone is
        known, else the local time read in every zone from -12:00 to +14:00."""
        if self.utc is not None:
            return self.utc, self.utc
        assert self.local is not None
        local = self.local.replace(tzinfo=UTC)
        return shift_clamped(local, -MAX_UTC_OFFSET), shift_clamped(local, -MIN_UTC_OFFSET)

    def __str__(self) -> str:
        if self.utc is None:
            return f"{self.local:%Y-%m-%d %H:%M:%S} local time, zone unknown ({self.source})"
        text = f"{self.utc:%Y-%m-%d %H:%M:%S} UTC"
        if self.local is not None and self.utc_offset_minutes is not None:
            offset = format_offset(timedelta(minutes=self.utc_offset_minutes))
            text += f" = {self.local:%Y-%m-%d %H:%M:%S} local at {offset}"
        return f"{text} ({self.source}, zone from {self.zone.value})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "local": self.local.isoformat() if self.local else None,
            "utc": self.utc.isoformat() if self.utc else None,
            "zone": self.zone.value,
            "source": self.source,
            "utc_offset_minutes": self.utc_offset_minutes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaptureTime:
        return cls(
            local=datetime.fromisoformat(data["local"]) if data["local"] else None,
            utc=datetime.fromisoformat(data["utc"]) if data["utc"] else None,
            zone=ZoneSource(data["zone"]),
            source=data["source"],
            utc_offset_minutes=data["utc_offset_minutes"],
        )
