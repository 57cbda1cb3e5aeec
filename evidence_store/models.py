"""The case model: what an investigator records, as SQLAlchemy 2.0 tables.

Every row that states a fact about a case (the case itself, its claim and denial, sites, evidence
items, links and findings) has a canonical form (`canonical()`): the custody log stores its hash,
so an edit made directly in the database is detectable by `fsck`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from evidence_store.timeutil import as_utc, iso_utc, utcnow

GENESIS_HASH = "0" * 64


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC on every database.

    SQLite keeps no zone: it stored an aware time's local wall clock (11:12+03:00 as 11:12), which
    read back as 11:12 UTC, three hours off and no longer what the custody log hashed. PostgreSQL
    converted it. Converting before binding gives both the same instant."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None or value.tzinfo is None else as_utc(value)


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _float(value: float | None) -> str | None:
    # repr-free fixed form: the same float prints the same on every database and platform.
    return None if value is None else f"{value:.9f}"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(Text)
    incident_date: Mapped[date] = mapped_column(Date)
    place_name: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The chain head lives on the case row so that appending an event locks exactly one row.
    chain_seq: Mapped[int] = mapped_column(Integer, default=0)
    chain_head: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)

    claim: Mapped[Claim | None] = relationship(back_populates="case", uselist=False)
    denial: Mapped[Denial | None] = relationship(back_populates="case", uselist=False)
    sites: Mapped[list[Site]] = relationship(back_populates="case", order_by="Site.id")
    items: Mapped[list[EvidenceItem]] = relationship(
        back_populates="case", order_by="EvidenceItem.id"
    )

    def canonical(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "incident_date": _date(self.incident_date),
            "place_name": self.place_name,
            "lat": _float(self.lat),
            "lon": _float(self.lon),
            "summary": self.summary,
            "status": self.status,
            "created_at": iso_utc(self.created_at),
        }


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    published: Mapped[date | None] = mapped_column(Date)
    killed: Mapped[int | None] = mapped_column(Integer)
    children: Mapped[int | None] = mapped_column(Integer)
    women: Mapped[int | None] = mapped_column(Integer)
    perpetrator: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="claim")

    def canonical(self) -> dict[str, Any]:
        return {
            "case": self.case.code,
            "text": self.text,
            "source": self.source,
            "url": self.url,
            "published": _date(self.published),
            "killed": self.killed,
            "children": self.children,
            "women": self.women,
            "perpetrator": self.perpetrator,
            "updated_at": iso_utc(self.updated_at),
        }


class Denial(Base):
    __tablename__ = "denials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    by: Mapped[str] = mapped_column(Text)
    date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="denial")

    def canonical(self) -> dict[str, Any]:
        return {
            "case": self.case.code,
            "by": self.by,
            "date": _date(self.date),
            "text": self.text,
            "url": self.url,
            "updated_at": iso_utc(self.updated_at),
        }


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("case_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float)
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="sites")

    def canonical(self) -> dict[str, Any]:
        return {
            "case": self.case.code,
            "name": self.name,
            "lat": _float(self.lat),
            "lon": _float(self.lon),
            "radius_m": _float(self.radius_m),
            "claimed": self.claimed,
            "created_at": iso_utc(self.created_at),
        }


class Blob(Base):
    """One stored original, shared by every item (in any case) with the same bytes."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(80))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EvidenceItem(Base):
    __tablename__ = "evidence_items"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(Text)
    collected_by: Mapped[str | None] = mapped_column(Text)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)
    # Witness statements: text evidence with who said it, when and in which language.
    witness: Mapped[str | None] = mapped_column(Text)
    statement_date: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str | None] = mapped_column(String(35))
    # What the file says about itself (EXIF, container tags): a pure function of the bytes,
    # so it is extracted once at ingest and never changes.
    file_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="items")
    links: Mapped[list[ItemLink]] = relationship(back_populates="item", order_by="ItemLink.id")
    frames: Mapped[list[Frame]] = relationship(back_populates="item", order_by="Frame.id")
    # Loaded with the item: who else gave these bytes is part of what the item is.
    attributions: Mapped[list[ItemAttribution]] = relationship(
        back_populates="item", order_by="ItemAttribution.seq", lazy="selectin"
    )

    def canonical(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "case": self.case.code,
            "kind": self.kind,
            "sha256": self.sha256,
            "filename": self.filename,
            "media_type": self.media_type,
            "size": self.size,
            "source": self.source,
            "collected_by": self.collected_by,
            "collected_at": iso_utc(self.collected_at),
            "ingested_at": iso_utc(self.ingested_at),
            "notes": self.notes,
            "witness": self.witness,
            "statement_date": _date(self.statement_date),
            "language": self.language,
            "file_metadata": json.dumps(self.file_metadata, sort_keys=True, default=str),
        }


class ItemAttribution(Base):
    """A further attribution of an item's bytes: another witness who gave the same words, or
    another source or collector of the same file.

    Items are content-addressed (one item per bytes per case), so without this a second
    witness or source would be lost; the item's own columns hold the first attribution, these
    rows every later one, numbered from 1 per item.
    """

    __tablename__ = "item_attributions"
    __table_args__ = (UniqueConstraint("item_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    seq: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    collected_by: Mapped[str | None] = mapped_column(Text)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    witness: Mapped[str | None] = mapped_column(Text)
    statement_date: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[EvidenceItem] = relationship(back_populates="attributions")

    def canonical(self) -> dict[str, Any]:
        return {
            "item": self.item.code,
            "seq": self.seq,
            "source": self.source,
            "collected_by": self.collected_by,
            "collected_at": iso_utc(self.collected_at),
            "notes": self.notes,
            "witness": self.witness,
            "statement_date": _date(self.statement_date),
            "language": self.language,
            "created_at": iso_utc(self.created_at),
        }


class ItemLink(Base):
    """The role an item plays in its case; an item may play several."""

    __tablename__ = "item_links"
    __table_args__ = (UniqueConstraint("item_id", "role", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    role: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[EvidenceItem] = relationship(back_populates="links")
    site: Mapped[Site | None] = relationship()

    def canonical(self) -> dict[str, Any]:
        return {
            "item": self.item.code,
            "role": self.role,
            "site": self.site.name if self.site is not None else None,
            "created_at": iso_utc(self.created_at),
        }


class Frame(Base):
    """A picture analysed for an item: the photo itself, or one keyframe of a video.

    Holds the perceptual hashes used for search; the keyframe thumbnail lives in the derived
    store and can be rebuilt from the original.
    """

    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("item_id", "frame_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    frame_index: Mapped[int] = mapped_column(Integer)
    time_s: Mapped[float | None] = mapped_column(Float)
    hashes: Mapped[dict[str, Any]] = mapped_column(JSON)

    item: Mapped[EvidenceItem] = relationship(back_populates="frames")


class VerifyRun(Base):
    """One `claimcheck verify`; its findings become current only when it completes."""

    __tablename__ = "verify_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tool_version: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(Text)


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("verify_runs.id"))
    check: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[str]] = mapped_column(JSON)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(Text)
    # Pictures behind the finding (side-by-side matches), as paths inside the derived store.
    artefacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tool_version: Mapped[str] = mapped_column(String(32))

    case: Mapped[Case] = relationship()
    run: Mapped[VerifyRun] = relationship()

    def canonical(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "case": self.case.code,
            "run": self.run_id,
            "check": self.check,
            "verdict": self.verdict,
            "items": list(self.items),
            "values": json.dumps(self.values, sort_keys=True, default=str),
            "detail": self.detail,
            "artefacts": list(self.artefacts or []),
            "created_at": iso_utc(self.created_at),
            "tool_version": self.tool_version,
        }


class CustodyEvent(Base):
    """One link of a case's tamper-evident chain: `hash` covers every field and `prev_hash`."""

    __tablename__ = "custody_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    # Kept as canonical text, not a DateTime, so the hashed form is exactly what is stored.
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    item_sha256: Mapped[str | None] = mapped_column(String(64))
    record_type: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(Text)
    record_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
