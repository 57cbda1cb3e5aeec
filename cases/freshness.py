"""What changed in a case after its latest verify run, and which side each item is on.

Findings describe the case as it was when the run started. An item, role, site, claim or denial
added or changed afterwards, and a site or role removed afterwards (a correction, read from
the custody log), was not examined, and a report that shows the run's counts without
saying so reads as complete when it is not (audit: an item added after `verify` simply had no
findings). Readers also need to know whose footage a finding is about: a mismatch on denial
footage argues against the denial, one on claim evidence against the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cases.corrections import CORRECTIONS, SITE_REMOVE, SITE_UPDATE
from cases.verification import latest_run
from cases.workflow import load_case
from evidence_store.db import Workspace
from evidence_store.models import Case, CustodyEvent, EvidenceItem, VerifyRun
from evidence_store.timeutil import as_utc

# Whose evidence an item is, by the role it was added with, in the words a reader uses.
SIDE_OF_ROLE = {
    "supports_claim": "claim",
    "denial_footage": "denial",
    "site_reference": "reference",
    "other": "other",
}
SIDE_LABEL = {
    "claim": "claim evidence",
    "denial": "denial footage",
    "reference": "reference imagery",
    "other": "other evidence",
}


def item_side(item: EvidenceItem) -> str:
    """ "claim", "denial", "reference", "other", or sides joined with "+" for an item in
    several roles (e.g. "claim+denial" when both sides offered the same file)."""
    sides = sorted({SIDE_OF_ROLE.get(link.role, "other") for link in item.links})
    return "+".join(sides) if sides else "other"


def side_label(side: str) -> str:
    return " and ".join(SIDE_LABEL.get(s, s) for s in side.split("+"))


@dataclass(frozen=True)
class ChangesSinceRun:
    """Records added or changed after the run started (the run did not see them)."""

    items_added: tuple[tuple[str, str], ...]  # (item code, filename)
    roles_added: tuple[tuple[str, str, str | None], ...]  # (item code, role, site) on older items
    sites_added: tuple[str, ...]
    claim_changed: bool
    denial_changed: bool
    sites_changed: tuple[str, ...] = ()  # names as they are now
    sites_removed: tuple[str, ...] = ()
    roles_removed: tuple[tuple[str, str, str | None], ...] = ()  # (item code, role, site)

    @property
    def any(self) -> bool:
        return bool(
            self.items_added
            or self.roles_added
            or self.sites_added
            or self.claim_changed
            or self.denial_changed
            or self.sites_changed
            or self.sites_removed
            or self.roles_removed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "items_added": [{"id": c, "filename": f} for c, f in self.items_added],
            "roles_added": [{"item": c, "role": r, "site": s} for c, r, s in self.roles_added],
            "sites_added": list(self.sites_added),
            "claim_changed": self.claim_changed,
            "denial_changed": self.denial_changed,
            "sites_changed": list(self.sites_changed),
            "sites_removed": list(self.sites_removed),
            "roles_removed": [{"item": c, "role": r, "site": s} for c, r, s in self.roles_removed],
        }

    def describe(self) -> str:
        """One sentence for people, empty when nothing changed."""
        parts = []
        if self.items_added:
            codes = ", ".join(c for c, _ in self.items_added[:8])
            more = f" and {len(self.items_added) - 8} more" if len(self.items_added) > 8 else ""
            parts.append(f"{len(self.items_added)} item(s) added ({codes}{more}) were not examined")
        if self.roles_added:
            parts.append(f"{len(self.roles_added)} role(s) given to older items")
        if self.sites_added:
            parts.append("site(s) " + ", ".join(repr(s) for s in self.sites_added) + " added")
        if self.sites_changed:
            parts.append("site(s) " + ", ".join(repr(s) for s in self.sites_changed) + " changed")
        if self.sites_removed:
            parts.append("site(s) " + ", ".join(repr(s) for s in self.sites_removed) + " removed")
        if self.roles_removed:
            parts.append(f"{len(self.roles_removed)} role(s) removed from items")
        if self.claim_changed:
            parts.append("the claim changed")
        if self.denial_changed:
            parts.append("the denial changed")
        if not parts:
            return ""
        return "Changed since this verify run: " + "; ".join(parts) + ". Run verify again."


def _event_time(event: CustodyEvent) -> datetime:
    return datetime.fromisoformat(event.at.replace("Z", "+00:00"))


def _removed_link(row: dict[str, Any]) -> tuple[str, str, str | None]:
    return str(row.get("item")), str(row.get("role")), row.get("site")


def _corrections(
    events: Sequence[CustodyEvent],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str, str | None], ...]]:
    """Sites changed (by their name now), sites removed and role links removed by these
    correction events, oldest first."""
    changed: dict[str, None] = {}  # ordered sets
    removed: dict[str, None] = {}
    links: list[tuple[str, str, str | None]] = []
    for event in events:
        details = event.details or {}
        name = str(details.get("name"))
        if event.action == SITE_UPDATE:
            changed.pop(str(details.get("renamed_from")), None)
            changed[name] = None
        elif event.action == SITE_REMOVE:
            changed.pop(name, None)
            removed[name] = None
            links += [_removed_link(row) for row in details.get("links", [])]
        else:
            links.append(_removed_link(details))
    return tuple(changed), tuple(removed), tuple(links)


def changes_since_run(
    case: Case, run: VerifyRun | None, events: Sequence[CustodyEvent]
) -> ChangesSinceRun | None:
    """What the case gained, changed or lost after `run` started; None when it was never
    verified. `events` is the case's custody log: removals leave no row to date, so the
    corrections are read from their events (an imported case carries those made after its
    latest run as events of the same action; see `cases.bundle`)."""
    if run is None:
        return None
    start = as_utc(run.started_at)

    def after(value: datetime | None) -> bool:
        return value is not None and as_utc(value) > start

    sites_changed, sites_removed, roles_removed = _corrections(
        [e for e in events if e.action in CORRECTIONS and after(_event_time(e))]
    )
    new_items = [i for i in case.items if after(i.ingested_at)]
    new_codes = {i.code for i in new_items}
    return ChangesSinceRun(
        items_added=tuple((i.code, i.filename) for i in new_items),
        roles_added=tuple(
            (i.code, link.role, link.site.name if link.site is not None else None)
            for i in case.items
            if i.code not in new_codes
            for link in i.links
            if after(link.created_at)
        ),
        sites_added=tuple(s.name for s in case.sites if after(s.created_at)),
        claim_changed=case.claim is not None and after(case.claim.updated_at),
        denial_changed=case.denial is not None and after(case.denial.updated_at),
        sites_changed=sites_changed,
        sites_removed=sites_removed,
        roles_removed=roles_removed,
    )


def case_sides_and_changes(
    ws: Workspace, case_code: str
) -> tuple[dict[str, str], ChangesSinceRun | None]:
    """Each item's side by item code, and what changed since the latest complete verify run."""
    with ws.reading() as session:
        case = load_case(session, case_code)
        # Only corrections are read from the log (all `changes_since_run` looks at): loading
        # every event was ~11% of a no-change re-run's `verify` and grows with each run, which
        # logs one event per finding.
        corrections = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.case_id == case.id, CustodyEvent.action.in_(CORRECTIONS))
            .order_by(CustodyEvent.seq)
        )
        return (
            {i.code: item_side(i) for i in case.items},
            changes_since_run(case, latest_run(session, case), list(corrections)),
        )
