"""A read-only, plain-data view of a case, handed to checks so they never touch the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cases.validate import REFERENCE_ROLE
from evidence_store.db import Workspace
from evidence_store.models import Case, EvidenceItem, ItemLink
from evidence_store.timeutil import as_utc

# Roles whose footage is offered as evidence of what happened: its place is in question even when
# the same picture is also reference imagery of a site.
OFFERED_ROLES = frozenset({"supports_claim", "denial_footage"})


@dataclass(frozen=True)
class FrameInfo:
    index: int
    time_s: float | None
    hashes: dict[str, Any]


@dataclass(frozen=True)
class ItemInfo:
    code: str
    case: str
    kind: str
    sha256: str
    filename: str
    media_type: str
    path: Path
    roles: tuple[str, ...]
    reference_of: tuple[str, ...]  # site names this item is reference imagery of
    metadata: dict[str, Any]
    frames: tuple[FrameInfo, ...]
    collected_at: datetime | None
    ingested_at: datetime

    @property
    def is_footage(self) -> bool:
        """Pictures whose place is in question: everything visual that is not reference imagery,
        and reference imagery that is also claim or denial footage."""
        offered = bool(OFFERED_ROLES.intersection(self.roles))
        return self.kind in ("photo", "video") and (offered or not self.reference_of)


@dataclass(frozen=True)
class SiteInfo:
    name: str
    lat: float
    lon: float
    radius_m: float
    claimed: bool


@dataclass(frozen=True)
class ClaimInfo:
    text: str
    source: str
    url: str | None
    published: date | None


@dataclass(frozen=True)
class DenialInfo:
    by: str
    date: date
    text: str


@dataclass(frozen=True)
class CaseSnapshot:
    code: str
    title: str
    incident_date: date
    claim: ClaimInfo | None
    denial: DenialInfo | None
    sites: tuple[SiteInfo, ...]
    items: tuple[ItemInfo, ...]

    @property
    def claimed_site(self) -> SiteInfo | None:
        return next((s for s in self.sites if s.claimed), None)

    def item(self, code: str) -> ItemInfo:
        return next(i for i in self.items if i.code == code)


def reference_sites(links: Iterable[ItemLink]) -> set[str]:
    """The sites an item is reference imagery of. Only site_reference links count: a site on a
    link of another role (older workspaces may hold such links) makes no reference imagery, or
    claim footage would be matched against itself."""
    return {lk.site.name for lk in links if lk.role == REFERENCE_ROLE and lk.site is not None}


def item_info(ws: Workspace, item: EvidenceItem) -> ItemInfo:
    return ItemInfo(
        code=item.code,
        case=item.case.code,
        kind=item.kind,
        sha256=item.sha256,
        filename=item.filename,
        media_type=item.media_type,
        path=ws.blobs.path(item.sha256),
        roles=tuple(sorted({lk.role for lk in item.links})),
        reference_of=tuple(sorted(reference_sites(item.links))),
        metadata=dict(item.file_metadata or {}),
        frames=tuple(FrameInfo(f.frame_index, f.time_s, dict(f.hashes)) for f in item.frames),
        collected_at=as_utc(item.collected_at) if item.collected_at else None,
        ingested_at=as_utc(item.ingested_at),
    )


def snapshot_case(ws: Workspace, case: Case) -> CaseSnapshot:
    claim = case.claim
    denial = case.denial
    return CaseSnapshot(
        code=case.code,
        title=case.title,
        incident_date=case.incident_date,
        claim=ClaimInfo(claim.text, claim.source, claim.url, claim.published) if claim else None,
        denial=DenialInfo(denial.by, denial.date, denial.text) if denial else None,
        sites=tuple(SiteInfo(s.name, s.lat, s.lon, s.radius_m, s.claimed) for s in case.sites),
        items=tuple(item_info(ws, i) for i in case.items),
    )
