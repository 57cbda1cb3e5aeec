"""Dating a stored copy against an incident's start: a copy proves that a picture predates the
incident only when one of its dates is before the incident in every time zone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cases.checks.copy_dating import DatedBy, date_copy
from cases.snapshot import ItemInfo
from tests.cases.test_metadata_checks import item, photo
from verify.timecheck import Relation

INCIDENT = date(2019, 7, 22)  # date only: began between 2019-07-21 10:00 and 07-22 12:00 UTC
LATER = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)


@pytest.fixture
def no_exif(tmp_path: Path) -> ItemInfo:
    copy = item(photo(tmp_path / "plain.jpg", camera=False), "E-9", "supports_claim")
    return dataclasses.replace(copy, ingested_at=LATER)


def relations(dating) -> dict[DatedBy, Relation]:
    return {d.by: d.before_incident for d in dating.dates}


@pytest.mark.parametrize(
    ("ingested", "relation"),
    [
        (datetime(2019, 7, 21, 9, 59, tzinfo=UTC), Relation.YES),
        (datetime(2019, 7, 21, 10, 0, tzinfo=UTC), Relation.UNCERTAIN),
        (datetime(2019, 7, 22, 11, 59, tzinfo=UTC), Relation.UNCERTAIN),
        (datetime(2019, 7, 22, 12, 0, tzinfo=UTC), Relation.NO),
    ],
)
def test_the_store_clock_is_exact_and_the_incident_day_spans_every_zone(
    no_exif: ItemInfo, ingested: datetime, relation: Relation
):
    dating = date_copy(dataclasses.replace(no_exif, ingested_at=ingested), INCIDENT)
    assert relations(dating) == {DatedBy.INGESTED: relation}
    assert (dating.proof is not None) is (relation is Relation.YES)
    assert dating.unused == ("no capture time in its metadata",)


@pytest.mark.parametrize(
    ("collected", "relation"),
    [
        # Midnight UTC is how a date-only --collected-at is stored: the whole day, any zone.
        (datetime(2019, 7, 20, tzinfo=UTC), Relation.UNCERTAIN),
        (datetime(2019, 7, 19, tzinfo=UTC), Relation.YES),
        # A time of day is taken as written (UTC).
        (datetime(2019, 7, 20, 0, 1, tzinfo=UTC), Relation.YES),
        (datetime(2019, 7, 23, 13, 0, tzinfo=UTC), Relation.NO),
    ],
)
def test_collection_dates(no_exif: ItemInfo, collected: datetime, relation: Relation):
    dating = date_copy(dataclasses.replace(no_exif, collected_at=collected), INCIDENT)
    assert relations(dating) == {DatedBy.COLLECTED: relation, DatedBy.INGESTED: Relation.NO}
    if collected.hour == collected.minute == 0:
        assert f"collected on {collected:%Y-%m-%d} (date only" in dating.describe()
    else:
        assert f"collected {collected:%Y-%m-%d %H:%M} UTC" in dating.describe()


def test_the_earliest_proving_date_is_the_proof(no_exif: ItemInfo):
    copy = dataclasses.replace(
        no_exif,
        collected_at=datetime(2019, 7, 1, 8, 0, tzinfo=UTC),
        ingested_at=datetime(2019, 7, 10, 8, 0, tzinfo=UTC),
    )
    proof = date_copy(copy, INCIDENT).proof
    assert proof is not None and proof.by is DatedBy.COLLECTED


def test_capture_time_of_the_copy(exif_dir: Path):
    # DSCN0010: DateTimeOriginal 2008-10-22 16:28:39, zone unknown.
    copy = dataclasses.replace(
        item(exif_dir / "gps" / "DSCN0010.jpg", "E-9", "supports_claim"), ingested_at=LATER
    )
    assert date_copy(copy, INCIDENT).proof.by is DatedBy.CAPTURED  # type: ignore[union-attr]
    # The day after the capture: in some zones the capture is on the incident day itself.
    near = date_copy(copy, date(2008, 10, 23))
    assert relations(near)[DatedBy.CAPTURED] is Relation.UNCERTAIN and near.proof is None
    assert "local time of unknown zone" in near.describe()


def test_an_unbelievable_capture_time_is_not_used(tmp_path: Path):
    path = photo(tmp_path / "reset.jpg", taken="1980:01:01 00:00:00")
    copy = dataclasses.replace(item(path, "E-9", "other"), ingested_at=LATER)
    dating = date_copy(copy, INCIDENT)
    assert dating.proof is None and DatedBy.CAPTURED not in relations(dating)
    assert "not believable" in dating.describe()
