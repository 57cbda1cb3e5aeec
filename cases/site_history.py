"""Earlier versions of a site, read back from the case's custody chain.

A site's coordinates, radius, name or claimed flag can be corrected (`cases.corrections`), and
findings made before the correction measured against the old values. Each correction's custody
event keeps the record it replaced, so the site's whole history can be shown beside it without
a table of its own: walk the chain back from the present name, following renames, to the event
that registered the site.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from cases.corrections import SITE_UPDATE
from cases.workflow import find_site, load_case
from evidence_store.custody import case_events
from evidence_store.db import Workspace

SITE_ADD = "site-add"


@dataclass(frozen=True)
class SiteChange:
    """One correction of the site: the custody event (`seq`, `at`, `actor`), the fields it
    changed, and the site as it was before (`before`, the logged canonical record)."""

    seq: int
    at: str
    actor: str
    changed: tuple[str, ...]
    before: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "changed": list(self.changed),
            "before": self.before,
        }


@dataclass(frozen=True)
class SiteHistory:
    """When and by whom the site was registered (None when the chain does not show it, e.g.
    a site imported with its case) and its corrections, oldest first."""

    registered_seq: int | None
    registered_at: str | None
    registered_by: str | None
    changes: tuple[SiteChange, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "registered": None
            if self.registered_seq is None
            else {
                "seq": self.registered_seq,
                "at": self.registered_at,
                "actor": self.registered_by,
            },
            "changes": [c.as_dict() for c in self.changes],
        }


def site_history(ws: Workspace, code: str, name: str) -> SiteHistory:
    """The history of the case's site `name` (UnknownSiteError if the case has none)."""
    with ws.reading() as session:
        case = load_case(session, code)
        find_site(case, name)
        events = case_events(session, case)
    tracked = name
    changes: list[SiteChange] = []
    for event in reversed(events):
        details = event.details if isinstance(event.details, dict) else {}
        if details.get("name") != tracked:
            continue
        if event.action == SITE_ADD:
            return SiteHistory(event.seq, event.at, event.actor, tuple(reversed(changes)))
        if event.action == SITE_UPDATE:
            changes.append(
                SiteChange(
                    event.seq,
                    event.at,
                    event.actor,
                    tuple(str(f) for f in details.get("changed", ())),
                    _native(details.get("previous") or {}),
                )
            )
            tracked = str(details.get("renamed_from", tracked))
    return SiteHistory(None, None, None, tuple(reversed(changes)))


# The logged record writes coordinates and radius as fixed-point text (the hashed form); shown
# back as the numbers `site show` gives for the present version.
_NUMBERS = ("lat", "lon", "radius_m")


def _native(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key in _NUMBERS:
        # An older or hand-made record keeps what it logged.
        with contextlib.suppress(KeyError, TypeError, ValueError):
            out[key] = float(out[key])
    return out
