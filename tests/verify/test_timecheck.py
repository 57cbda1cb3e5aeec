"""Tests for verify.timecheck: roles, zone uncertainty, date-only inputs, absurd clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.capturetime import CaptureTime, ZoneSource
from verify.errors import InvalidValueError
from verify.exif import extract_photo_metadata
from verify.timecheck import (
    Relation,
    capture_window,
    check_time,
    is_before,
    is_believable,
    time_window,
    whole_day_window,
)
from verify.verdict import Verdict

INCIDENT = date(2024, 3, 10)
DENIAL = date(2024, 3, 12)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args):
    t = datetime(*args, tzinfo=UTC)
    return CaptureTime(local=None, utc=t, zone=ZoneSource.CONTAINER_UTC, source="creation_time")


def local(*args):
    return CaptureTime(
        local=datetime(*args), utc=None, zone=ZoneSource.UNKNOWN, source="DateTimeOriginal"
    )


def check(capture, role, incident=INCIDENT, denial=DENIAL):
    return check_time(capture, incident, denial, role, now=NOW)


def test_denial_footage_captured_before_incident_is_mismatch():
    result = check(local(2024, 3, 1, 12, 0, 0), "denial")
    assert result.verdict is Verdict.MISMATCH
    assert "before the incident" in result.detail
    assert result.before_incident is Relation.YES
    assert "2024-03-01 12:00:00 local time of unknown zone" in result.detail
    assert "UTC-12 to UTC+14" in result.detail


def test_a_denial_dated_before_the_incident_gives_no_verdict_on_denial_footage():
    """A denial typed a week before the incident made every piece of denial footage a mismatch
    ("captured after the denial was published"), findings resting on the typo alone."""
    result = check(utc(2024, 3, 11, 8, 0, 0), "denial", denial=date(2024, 3, 3))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "denial is dated before the incident" in result.detail
    # Claim footage is not judged against the denial, and a same-day denial stays comparable.
    assert check(utc(2024, 3, 11, 8, 0, 0), "claim", denial=date(2024, 3, 3)).verdict is (
        Verdict.CONSISTENT
    )
    same_day = check(utc(2024, 3, 10, 8, 0, 0), "denial", denial=INCIDENT)
    assert "dated before" not in same_day.detail


def test_denial_footage_captured_after_denial_is_mismatch():
    result = check(utc(2024, 3, 20, 8, 0, 0), "denial")
    assert result.verdict is Verdict.MISMATCH
    assert "after the denial" in result.detail
    assert result.after_denial is Relation.YES


def test_denial_footage_between_incident_and_denial_is_consistent():
    result = check(local(2024, 3, 11, 12, 0, 0), "denial")
    assert result.verdict is Verdict.CONSISTENT
    assert result.before_incident is Relation.NO and result.after_denial is Relation.NO


def test_claim_footage_before_incident_is_mismatch_and_after_is_consistent():
    assert check(utc(2024, 3, 8, 23, 0, 0), "claim").verdict is Verdict.MISMATCH
    assert check(utc(2024, 3, 10, 14, 0, 0), "Claim").verdict is Verdict.CONSISTENT
    # After the denial is irrelevant for claim footage.
    assert check(utc(2024, 6, 1), "claim").verdict is Verdict.CONSISTENT


def test_unknown_zone_near_the_boundary_is_inconclusive_and_says_why():
    incident = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    # 6 h before the strike by the camera clock: could be after it in a zone east of UTC+6.
    result = check(local(2024, 3, 10, 6, 0, 0), "claim", incident=incident)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.before_incident is Relation.UNCERTAIN
    assert "Time-zone uncertainty" in result.detail
    # The same reading with a known zone decides.
    known = CaptureTime(
        local=datetime(2024, 3, 10, 6, 0),
        utc=datetime(2024, 3, 10, 4, 0, tzinfo=UTC),
        zone=ZoneSource.OFFSET_TAG,
        source="DateTimeOriginal",
        utc_offset_minutes=120,
    )
    decided = check(known, "claim", incident=incident)
    assert decided.verdict is Verdict.MISMATCH and "offset_tag" in decided.detail


def test_unknown_zone_window_is_utc_minus_12_to_plus_14():
    capture = local(2024, 3, 10, 12, 0, 0)
    earliest, latest = capture.utc_window()
    assert earliest == datetime(2024, 3, 9, 22, 0, tzinfo=UTC)
    assert latest == datetime(2024, 3, 11, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "capture",
    [local(1, 1, 1), local(1985, 6, 1), local(2999, 1, 1), utc(2030, 1, 1)],
)
def test_absurd_dates_are_inconclusive_not_believed(capture):
    for role in ("claim", "denial"):
        result = check(capture, role)
        assert result.verdict is Verdict.INCONCLUSIVE
        assert "not believable" in result.detail


def test_missing_capture_and_other_roles_are_inconclusive():
    assert check(None, "claim").verdict is Verdict.INCONCLUSIVE
    assert "No capture time" in check(None, "claim").detail
    other = check(local(2024, 3, 1, 12, 0, 0), "reference")
    assert other.verdict is Verdict.INCONCLUSIVE and "sets no expectation" in other.detail


def test_denial_without_publication_date_checks_incident_only():
    result = check_time(local(2024, 3, 11, 12, 0, 0), INCIDENT, None, "denial", now=NOW)
    assert result.verdict is Verdict.CONSISTENT and result.after_denial is None
    assert result.to_dict()["denial_window"] is None


def test_naive_and_aware_incident_datetimes():
    naive = check(utc(2024, 3, 10, 0, 0), "claim", incident=datetime(2024, 3, 10, 12, 0))
    assert naive.verdict is Verdict.INCONCLUSIVE and "unknown zone" in naive.detail
    aware = check(
        utc(2024, 3, 10, 0, 0), "claim", incident=datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    )
    assert aware.verdict is Verdict.MISMATCH


@given(st.integers(-3 * 24, 3 * 24))
def test_never_asserts_what_some_zone_contradicts(hours):
    """Whatever the zone, a YES/NO relation must hold for every reading of the local time."""
    incident = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    capture = local(*(datetime(2024, 3, 10, 12, 0) + timedelta(hours=hours)).timetuple()[:6])
    result = check(capture, "claim", incident=incident)
    readings = [
        capture.local.replace(tzinfo=UTC) - timedelta(minutes=15 * q) for q in range(-48, 57)
    ]
    if result.before_incident is Relation.YES:
        assert all(r < incident for r in readings)
    elif result.before_incident is Relation.NO:
        assert all(r >= incident for r in readings)
    else:
        assert any(r < incident for r in readings) and any(r >= incident for r in readings)


def test_real_photo_time_against_case_dates(exif_dir):
    meta = extract_photo_metadata(exif_dir / "gps" / "DSCN0021.jpg")  # 2008-10-22 16:38 local
    before = check_time(meta.capture, date(2008, 10, 25), None, "claim", now=NOW)
    assert before.verdict is Verdict.MISMATCH and "2008-10-22 16:38:20" in before.detail
    # Same day as a date-only incident, zone unknown: it may precede the day's start elsewhere.
    same_day = check_time(meta.capture, date(2008, 10, 22), date(2008, 10, 24), "denial", now=NOW)
    assert same_day.verdict is Verdict.INCONCLUSIVE
    day_after = check_time(meta.capture, date(2008, 10, 21), date(2008, 10, 24), "denial", now=NOW)
    assert day_after.verdict is Verdict.CONSISTENT


def test_capture_time_validation_and_round_trip():
    with pytest.raises(InvalidValueError):
        CaptureTime(local=None, utc=None, zone=ZoneSource.UNKNOWN, source="x")
    with pytest.raises(InvalidValueError):
        CaptureTime(local=datetime(2020, 1, 1), utc=None, zone=ZoneSource.GPS, source="x")
    capture = local(2024, 3, 1, 12, 0, 0)
    assert CaptureTime.from_dict(capture.to_dict()) == capture


def test_inconclusive_denial_names_the_uncertain_relation():
    result = check(local(2024, 3, 12, 20, 0, 0), "denial")  # evening of the denial day
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.before_incident is Relation.NO and result.after_denial is Relation.UNCERTAIN
    assert "may have been captured after the denial was published" in result.detail
    assert "before the incident" not in result.detail.split(":")[0]


def test_public_windows_for_other_checks():
    start = time_window(INCIDENT, "incident")
    assert (start.earliest, start.latest) == (
        datetime(2024, 3, 9, 10, 0, tzinfo=UTC),
        datetime(2024, 3, 10, 12, 0, tzinfo=UTC),
    )
    day = whole_day_window(date(2024, 3, 8), "collected")
    assert (day.earliest, day.latest) == (
        datetime(2024, 3, 7, 10, 0, tzinfo=UTC),
        datetime(2024, 3, 9, 12, 0, tzinfo=UTC),
    )
    assert "collected on 2024-03-08 (date only" in day.describe
    # Two days before a date-only incident is not before it in every pair of zones.
    assert is_before(day, start) is Relation.UNCERTAIN
    assert is_before(whole_day_window(date(2024, 3, 7), "collected"), start) is Relation.YES
    assert is_believable(capture_window(local(2024, 3, 1, 12, 0, 0)), now=NOW)
    assert not is_believable(capture_window(local(1985, 3, 1, 12, 0, 0)), now=NOW)
    assert not is_believable(capture_window(utc(2025, 1, 3, 0, 0, 0)), now=NOW)
