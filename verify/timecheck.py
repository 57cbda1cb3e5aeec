"""Time check: was the footage captured when the side offering it says?

Every time is turned into an interval of possible UTC instants: exact when its zone is known,
widened to every zone from UTC-12 to UTC+14 when it is not. A relation ("captured before the
incident") is only asserted when it holds for every instant of both intervals; when it holds for
some instants only, the check is inconclusive and the detail says the zone is why.

Expectations by role:
- "claim": footage of the attack or its aftermath cannot be captured before the incident.
- "denial": footage offered as showing the site after the strike must be captured after the
  incident and before the denial was published.
- any other role sets no expectation: inconclusive, with the relations stated.
A date without a time means "that day": the incident starts at the start of its day, and the
denial is published by the end of its day.
The windows and `is_before` are public so that other checks (did a copy of a picture exist
before the incident?) reason about time with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from verify.capturetime import CaptureTime, shift_clamped
from verify.exifparse import MAX_UTC_OFFSET, MIN_UTC_OFFSET
from verify.verdict import Verdict

# Consumer digital cameras appeared in the 1990s; an earlier capture date is a reset clock.
MIN_PLAUSIBLE_CAPTURE = datetime(1990, 1, 1, tzinfo=UTC)
# Clocks may run a little fast; only a capture more than this past "now" is impossible.
FUTURE_TOLERANCE = timedelta(days=1)


class Relation(StrEnum):
    """Whether a relation between two uncertain times holds for all, none or some readings."""

    YES = "yes"
    NO = "no"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class UtcWindow:
    """All UTC instants a time can be, and a sentence saying why."""

    earliest: datetime
    latest: datetime
    describe: str

    def to_dict(self) -> dict[str, str]:
        return {
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "describe": self.describe,
        }


@dataclass(frozen=True)
class TimeResult:
    """The time verdict with the windows compared and the relations found."""

    verdict: Verdict
    detail: str
    role: str
    capture: CaptureTime | None
    capture_window: UtcWindow | None
    incident_window: UtcWindow
    denial_window: UtcWindow | None
    before_incident: Relation | None
    after_denial: Relation | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "detail": self.detail,
            "role": self.role,
            "capture": self.capture.to_dict() if self.capture else None,
            "capture_window": self.capture_window.to_dict() if self.capture_window else None,
            "incident_window": self.incident_window.to_dict(),
            "denial_window": self.denial_window.to_dict() if self.denial_window else None,
            "before_incident": self.before_incident.value if self.before_incident else None,
            "after_denial": self.after_denial.value if self.after_denial else None,
        }


def check_time(
    capture: CaptureTime | None,
    incident: date | datetime,
    denial_published: date | datetime | None,
    role: str,
    *,
    now: datetime | None = None,
) -> TimeResult:
    """Compare a capture time with the incident and the denial's publication (see module doc).

    `now` (aware; default: the current time) bounds plausible capture dates from above.
    """
    incident_w = time_window(incident, "incident")
    denial_w = time_window(denial_published, "denial", day_end=True) if denial_published else None

    def result(
        verdict: Verdict,
        detail: str,
        cap_w: UtcWindow | None = None,
        before: Relation | None = None,
        after: Relation | None = None,
    ) -> TimeResult:
        return TimeResult(
            verdict, detail, role, capture, cap_w, incident_w, denial_w, before, after
        )

    if capture is None:
        return result(
            Verdict.INCONCLUSIVE, "No capture time in metadata: the time cannot be checked."
        )
    cap_w = capture_window(capture)
    if not is_believable(cap_w, now=now):
        return result(
            Verdict.INCONCLUSIVE,
            f"Capture time {capture} is not believable (before {MIN_PLAUSIBLE_CAPTURE.year} or "
            "in the future): the camera clock was probably unset, so it is not compared.",
            cap_w,
        )
    before = is_before(cap_w, incident_w)
    after = is_before(denial_w, cap_w) if denial_w else None
    facts = f"Capture: {cap_w.describe}. Incident: {incident_w.describe}."
    if denial_w:
        facts += f" Denial: {denial_w.describe}."
    zone_note = _zone_note(capture)
    role_key = role.strip().lower()

    if role_key == "claim":
        if before is Relation.YES:
            verdict, why = Verdict.MISMATCH, "Claim footage was captured before the incident."
        elif before is Relation.NO:
            verdict, why = (
                Verdict.CONSISTENT,
                "Claim footage was captured on or after the incident.",
            )
        else:
            verdict, why = Verdict.INCONCLUSIVE, "Claim footage may have been captured before "
            why += "or after the start of the incident."
    elif role_key == "denial" and denial_w and is_before(denial_w, incident_w) is Relation.YES:
        # A denial published before the incident began answers nothing yet: one of the two
        # dates was entered wrong, and every verdict against them would rest on that error.
        verdict = Verdict.INCONCLUSIVE
        why = (
            "The denial is dated before the incident it denies, so one of the two dates is "
            "wrong: the capture time is not judged against them."
        )
    elif role_key == "denial":
        verdict, why = _denial_verdict(before, after)
    else:
        verdict = Verdict.INCONCLUSIVE
        why = f"Role {role!r} sets no expectation about capture time; before incident: "
        why += f"{before.value}" + (f", after denial: {after.value}." if after else ".")
    return result(verdict, f"{why} {facts}{zone_note}", cap_w, before, after)


def _denial_verdict(before: Relation, after: Relation | None) -> tuple[Verdict, str]:
    reasons = []
    if before is Relation.YES:
        reasons.append("captured before the incident it is offered as showing the aftermath of")
    if after is Relation.YES:
        reasons.append("captured after the denial that presented it was published")
    if reasons:
        return Verdict.MISMATCH, "Denial footage was " + " and ".join(reasons) + "."
    if before is Relation.NO and after in (Relation.NO, None):
        span = "after the incident" + (" and before the denial" if after else "")
        return Verdict.CONSISTENT, f"Denial footage was captured {span}."
    doubts = []
    if before is Relation.UNCERTAIN:
        doubts.append("before the incident")
    if after is Relation.UNCERTAIN:
        doubts.append("after the denial was published")
    return (
        Verdict.INCONCLUSIVE,
        "Denial footage may have been captured " + " or ".join(doubts) + ": the times overlap.",
    )


def is_before(a: UtcWindow, b: UtcWindow) -> Relation:
    """Is `a` before `b` (yes for every reading, no for every reading, or uncertain)?"""
    if a.latest < b.earliest:
        return Relation.YES
    if a.earliest >= b.latest:
        return Relation.NO
    return Relation.UNCERTAIN


def is_believable(capture: UtcWindow, *, now: datetime | None = None) -> bool:
    """Can a camera clock have read this (not before consumer digital cameras, not in the
    future)? `now` (aware; default: the current time) bounds it from above."""
    now = now or datetime.now(UTC)
    return capture.latest >= MIN_PLAUSIBLE_CAPTURE and capture.earliest <= now + FUTURE_TOLERANCE


def capture_window(capture: CaptureTime) -> UtcWindow:
    """Every UTC instant a capture time can be, described for a reader."""
    earliest, latest = capture.utc_window()
    if capture.utc is not None:
        return UtcWindow(earliest, latest, str(capture))
    describe = (
        f"{capture.local:%Y-%m-%d %H:%M:%S} local time of unknown zone ({capture.source}), "
        f"i.e. between {earliest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} UTC"
    )
    return UtcWindow(earliest, latest, describe)


def time_window(value: date | datetime, name: str, *, day_end: bool = False) -> UtcWindow:
    """A caller's date or datetime as UTC instants; naive datetimes and dates have no zone.

    A date stands for the start of that day (`day_end`: its end) in whichever zone it was
    written."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            t = value.astimezone(UTC)
            return UtcWindow(t, t, f"{name} at {t:%Y-%m-%d %H:%M:%S} UTC")
        local = value.replace(tzinfo=UTC)
        earliest = shift_clamped(local, -MAX_UTC_OFFSET)
        latest = shift_clamped(local, -MIN_UTC_OFFSET)
        return UtcWindow(
            earliest,
            latest,
            f"{name} at {value:%Y-%m-%d %H:%M:%S} local time of unknown zone, i.e. between "
            f"{earliest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} UTC",
        )
    edge = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if day_end:
        edge = shift_clamped(edge, timedelta(days=1))
    earliest = shift_clamped(edge, -MAX_UTC_OFFSET)
    latest = shift_clamped(edge, -MIN_UTC_OFFSET)
    which = "end" if day_end else "start"
    return UtcWindow(
        earliest,
        latest,
        f"{name} on {value:%Y-%m-%d} (date only: its {which} falls between "
        f"{earliest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} UTC across time zones)",
    )


def whole_day_window(day: date, name: str) -> UtcWindow:
    """Some moment of `day`, in a zone nobody wrote down: from its start in UTC+14 to its end in
    UTC-12."""
    earliest = time_window(day, name).earliest
    latest = time_window(day, name, day_end=True).latest
    return UtcWindow(
        earliest,
        latest,
        f"{name} on {day:%Y-%m-%d} (date only: some time between {earliest:%Y-%m-%d %H:%M} and "
        f"{latest:%Y-%m-%d %H:%M} UTC across time zones)",
    )


def _zone_note(capture: CaptureTime) -> str:
    if capture.utc is None:
        return (
            " Time-zone uncertainty: the capture zone is unknown, so every zone from UTC-12 to "
            "UTC+14 was allowed; a relation is only asserted if it holds in all of them."
        )
    return f" Capture zone from {capture.zone.value}."
