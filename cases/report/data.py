"""The report of a case as one plain-data document: every format renders this, JSON *is* this.

Keys are stable (renderers and outside tools rely on them); times are ISO 8601 (UTC with `Z`
for instants, `YYYY-MM-DD` for dates); ids are strings. Everything is read in one session, so
the report shows one consistent state of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.checks import CHECKS
from cases.errors import CaseError
from cases.freshness import changes_since_run, item_side, side_label
from cases.ingest import read_statement_text
from cases.originals import DamagedOriginal, OriginalsCheck, recorded_problems
from cases.snapshot import reference_sites
from cases.verification import latest_run
from cases.workflow import load_case
from evidence_store.custody import case_events, verify_chain, verify_records
from evidence_store.db import Workspace
from evidence_store.errors import BlobError
from evidence_store.models import (
    Case,
    CustodyEvent,
    EvidenceItem,
    Finding,
    ItemAttribution,
    VerifyRun,
)
from evidence_store.timeutil import iso_utc, utcnow
from verify import __version__ as TOOL_VERSION
from verify.errors import InvalidValueError
from verify.geo import GeoPoint, bearing_deg, distance_m

REPORT_FORMAT = "claimcheck-report"
# Bump when a key is renamed or removed (adding keys keeps the version).
REPORT_SCHEMA_VERSION = 1

_VERDICT_ORDER = {"mismatch": 0, "inconclusive": 1, "consistent": 2}
_IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}

# What the checks cannot show, said once in every report so a reader weighs each finding right.
GENERAL_LIMITS = (
    "A finding reports what was measured on the files in this case; it is not a conclusion "
    "about who did what. Read each finding with its measured values and pictures.",
    "Missing metadata (no capture time, no GPS position) is not proof of anything: messaging "
    "apps and social networks strip it routinely.",
    "Metadata that is present can be edited: a capture time or GPS position agreeing with the "
    "claim supports it but does not prove it.",
    "'inconclusive' means the measurements could not decide, not that the evidence is weak or "
    "false.",
    "Only the evidence added to the case was examined; footage not collected, and places with "
    "no reference imagery, are outside every check.",
)
CHECK_LIMITS = {
    "site_match": "Site matching compares the footage with the reference imagery of the "
    "registered sites only: a match names the best of those sites, and a place with no "
    "reference imagery can never be named. Buildings rebuilt or heavily damaged since the "
    "reference imagery was taken match less well.",
    "gps_place": "A recorded GPS position is what the device or an editor wrote into the file; "
    "it says where the file claims to have been made, within the device's accuracy.",
}


def _check_titles() -> dict[str, str]:
    return {c.name: c.title for c in CHECKS}


def _check_rank() -> dict[str, int]:
    return {c.name: i for i, c in enumerate(CHECKS)}


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _utc_text(value: str | None) -> str | None:
    """An ISO 8601 instant from metadata (`+00:00` or `Z`), in the report's `Z` form."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return parsed.isoformat()
    return iso_utc(parsed)


def capture_time(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """When the file says it was made: photo EXIF `capture` or video container `creation`."""
    capture = metadata.get("capture") or metadata.get("creation")
    if not isinstance(capture, dict):
        return None
    utc = _utc_text(capture.get("utc"))
    local = capture.get("local")
    if utc is None and local is None:
        return None
    return {
        "utc": utc,
        "local": local,
        "zone": capture.get("zone"),
        "source": capture.get("source"),
    }


def recorded_position(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """Where the file says it was made: photo EXIF `gps` or video ISO 6709 `location`."""
    for key, source in (("gps", "EXIF GPS"), ("location", "container location tag")):
        spot = metadata.get(key)
        if isinstance(spot, dict) and spot.get("lat") is not None and spot.get("lon") is not None:
            return {
                "lat": float(spot["lat"]),
                "lon": float(spot["lon"]),
                "horizontal_error_m": spot.get("horizontal_error_m"),
                "source": source,
            }
    return None


# Why a recorded position may not be this picture's: the gps_place finding said so
# (cases.checks.foreign_exif). The map and positions table show the point, marked, not hide it.
_POSITION_DOUBT = {
    "thumbnail_differs": "in doubt: the EXIF thumbnail shows a different picture, so this "
    "position may be another photo's",
}


def _position_with_doubt(
    position: dict[str, Any] | None, own_findings: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """`position` with `in_doubt` (why, or None) from the item's gps_place finding."""
    if position is None:
        return None
    because = next(
        (
            (f.get("values") or {}).get("inconclusive_because")
            for f in own_findings
            if f["check"] == "gps_place"
        ),
        None,
    )
    return position | {"in_doubt": _POSITION_DOUBT.get(str(because)) if because else None}


def _case(case: Case) -> dict[str, Any]:
    return {
        "id": case.code,
        "title": case.title,
        "incident_date": _date(case.incident_date),
        "place": case.place_name,
        "lat": case.lat,
        "lon": case.lon,
        "summary": case.summary,
        "status": case.status,
        "created_at": iso_utc(case.created_at),
    }


def _imported_events(details: Any) -> list[dict[str, Any]]:
    """The source chain an `import` event keeps (`source_events`), or none."""
    events = details.get("source_events") if isinstance(details, dict) else None
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _history(events: Iterable[CustodyEvent]) -> list[tuple[str | None, Any]]:
    """(record type, details) of every event, oldest first, including the chains that
    imports kept: a case's history began in the workspace it was exported from."""

    def walk(rows: Iterable[dict[str, Any]]) -> list[tuple[str | None, Any]]:
        out: list[tuple[str | None, Any]] = []
        for row in rows:
            if row.get("action") == "import":
                out += walk(_imported_events(row.get("details")))
            out.append((row.get("record_type"), row.get("details")))
        return out

    return walk(
        {"action": e.action, "record_type": e.record_type, "details": e.details} for e in events
    )


def _earlier_versions(events: Iterable[CustodyEvent], record_type: str) -> list[dict[str, Any]]:
    """Earlier versions of the claim or denial, oldest first, as each replacement logged them
    (the canonical record it replaced): an official denial's earlier wording stays readable,
    also after the case was exported and imported."""
    return [
        dict(details["previous"])
        for kind, details in _history(events)
        if kind == record_type and isinstance((details or {}).get("previous"), dict)
    ]


_EVENT_KEYS = (
    "seq",
    "at",
    "actor",
    "action",
    "record_type",
    "record_id",
    "record_hash",
    "item_sha256",
    "details",
    "prev_hash",
    "hash",
)


def _before_import(events: Iterable[CustodyEvent]) -> list[dict[str, Any]]:
    """For each import of this case, the source chain it verified and kept, event by event
    (codes as in the source workspace; the import event's `codes` maps them to this one)."""
    out = []
    for e in events:
        kept = _imported_events(e.details) if e.action == "import" else []
        if not kept:
            continue
        source = (e.details or {}).get("source") or {}
        out.append(
            {
                "import_seq": e.seq,
                "source_workspace": source.get("workspace"),
                "source_case": source.get("case"),
                "chain_head": source.get("chain_head"),
                "bundle_sha256": source.get("bundle_sha256"),
                "events": [{key: ev.get(key) for key in _EVENT_KEYS} for ev in kept],
            }
        )
    return out


def _claim(case: Case, events: list[CustodyEvent]) -> dict[str, Any] | None:
    c = case.claim
    if c is None:
        return None
    return {
        "text": c.text,
        "source": c.source,
        "url": c.url,
        "published": _date(c.published),
        "killed": c.killed,
        "children": c.children,
        "women": c.women,
        "perpetrator": c.perpetrator,
        "updated_at": iso_utc(c.updated_at),
        "earlier_versions": _earlier_versions(events, "claim"),
    }


def _denial(case: Case, events: list[CustodyEvent]) -> dict[str, Any] | None:
    d = case.denial
    if d is None:
        return None
    return {
        "by": d.by,
        "date": _date(d.date),
        "text": d.text,
        "url": d.url,
        "updated_at": iso_utc(d.updated_at),
        "earlier_versions": _earlier_versions(events, "denial"),
    }


def _artefact(ws: Workspace, relative: str) -> dict[str, Any]:
    suffix = PurePosixPath(relative).suffix.lower()
    try:
        available = ws.derived.resolve(relative).is_file()
    except (BlobError, OSError):  # a path escaping the store is shown as unavailable
        available = False
    return {
        "path": relative,
        "caption": PurePosixPath(relative).stem,
        "media_type": _IMAGE_TYPES.get(suffix, "application/octet-stream"),
        "available": available,
    }


def _finding(ws: Workspace, f: Finding, items: dict[str, EvidenceItem]) -> dict[str, Any]:
    values = dict(f.values or {})
    via = values.get("via")
    entries = [
        {
            "id": code,
            "filename": items[code].filename if code in items else None,
            "side": item_side(items[code]) if code in items else None,
        }
        for code in f.items
    ]
    # Whose evidence the finding is about: its first item's (findings on several items, such
    # as duplicates, name the rest in the text).
    side = entries[0]["side"] if entries else None
    return {
        "id": f.code,
        "check": f.check,
        "verdict": f.verdict,
        "side": side,
        "side_label": side_label(side) if side else None,
        "items": entries,
        "detail": f.detail,
        "values": values,
        "via": [dict(hop) for hop in via if isinstance(hop, dict)] if isinstance(via, list) else [],
        "artefacts": [_artefact(ws, a) for a in (f.artefacts or [])],
        "created_at": iso_utc(f.created_at),
        "tool_version": f.tool_version,
    }


def _finding_groups(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    titles, rank = _check_titles(), _check_rank()
    by_check: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_check.setdefault(f["check"], []).append(f)
    groups: list[dict[str, Any]] = []
    for check, rows in by_check.items():
        rows.sort(key=lambda f: (_VERDICT_ORDER.get(f["verdict"], 9), f["id"]))
        counts = {v: sum(1 for f in rows if f["verdict"] == v) for v in _VERDICT_ORDER}
        groups.append(
            {
                "check": check,
                "title": titles.get(check, check),
                "counts": counts,
                "limits": CHECK_LIMITS.get(check),
                "findings": rows,
            }
        )
    # Groups holding mismatches come first, then the registry's order.
    groups.sort(
        key=lambda g: (
            min(_VERDICT_ORDER.get(f["verdict"], 9) for f in g["findings"]),
            rank.get(g["check"], len(rank)),
            g["check"],
        )
    )
    return groups


def _run(run: VerifyRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": str(run.id),
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at),
        "tool_version": run.tool_version,
        "actor": run.actor,
    }


def _item(item: EvidenceItem, findings: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = dict(item.file_metadata or {})
    own = [f for f in findings if any(i["id"] == item.code for i in f["items"])]
    own.sort(key=lambda f: (_VERDICT_ORDER.get(f["verdict"], 9), f["id"]))
    return {
        "id": item.code,
        "kind": item.kind,
        "filename": item.filename,
        "media_type": item.media_type,
        "size": item.size,
        "sha256": item.sha256,
        "source": item.source,
        "collected_by": item.collected_by,
        "collected_at": iso_utc(item.collected_at),
        "ingested_at": iso_utc(item.ingested_at),
        "notes": item.notes,
        # Further witnesses, sources or collectors of the same bytes (re-adds that said more).
        "attributions": [attribution_dict(a) for a in item.attributions],
        "roles": [
            {"role": lk.role, "site": lk.site.name if lk.site is not None else None}
            for lk in item.links
        ],
        "capture_time": capture_time(metadata),
        "position": _position_with_doubt(recorded_position(metadata), own),
        "metadata_problems": recorded_problems(
            metadata.get("problems") or [], item.sha256, item.code
        ),
        "findings": [{"id": f["id"], "check": f["check"], "verdict": f["verdict"]} for f in own],
    }


def attribution_dict(a: ItemAttribution) -> dict[str, Any]:
    """A further attribution as the report and `evidence show --json` give it."""
    return {
        "seq": a.seq,
        "witness": a.witness,
        "source": a.source,
        "collected_by": a.collected_by,
        "collected_at": iso_utc(a.collected_at),
        "notes": a.notes,
        "statement_date": _date(a.statement_date),
        "language": a.language,
        "recorded_at": iso_utc(a.created_at),
    }


def _statements(
    ws: Workspace, item: EvidenceItem, damaged: DamagedOriginal | None
) -> list[dict[str, Any]]:
    """One statement per witness: identical words from two witnesses are two statements,
    stored once (same bytes) and attributed to each."""
    text: str | None = None
    problem: str | None = None
    if damaged is not None:
        # An altered statement's text is not what the witness said: it is not shown.
        problem = f"the statement is not shown: {damaged.detail}"
    else:
        try:
            text = read_statement_text(ws, item)
        except OSError as exc:
            problem = f"the stored statement cannot be read: {exc.strerror or exc}"
        except CaseError as exc:
            problem = f"the stored statement cannot be read: {exc}"
    givers: list[EvidenceItem | ItemAttribution] = [item]
    for a in item.attributions:  # a witness re-adding their own words is not a second statement
        if a.witness is not None and all(a.witness != g.witness for g in givers):
            givers.append(a)
    return [
        {
            "item": item.code,
            "attribution": g.seq if isinstance(g, ItemAttribution) else None,
            "witness": g.witness,
            "date": _date(g.statement_date),
            "language": g.language,
            "filename": item.filename,
            "sha256": item.sha256,
            "text": text,
            "problem": problem,
        }
        for g in givers
    ]


def _timeline(
    case: dict[str, Any],
    claim: dict[str, Any] | None,
    denial: dict[str, Any] | None,
    items: list[dict[str, Any]],
    statements: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"at": case["incident_date"], "event": "incident", "what": "incident", "item": None}
    ]
    if claim and claim["published"]:
        events.append(
            {
                "at": claim["published"],
                "event": "claim",
                "what": f"claim published by {claim['source']}",
                "item": None,
            }
        )
    if denial:
        events.append(
            {
                "at": denial["date"],
                "event": "denial",
                "what": f"denial published by {denial['by']}",
                "item": None,
            }
        )
    # When each witness gave their statement (one row per witness of the same words).
    for st in statements:
        if st["date"]:
            events.append(
                {
                    "at": st["date"],
                    "event": "statement",
                    "what": f"statement of {st['witness'] or 'an unnamed witness'} "
                    f"({st['filename']})",
                    "item": st["item"],
                }
            )
    for it in items:
        cap = it["capture_time"]
        if cap:
            local_only = cap["utc"] is None
            events.append(
                {
                    "at": cap["utc"] or cap["local"],
                    "event": "capture",
                    "what": f"{it['filename']} made (by its own metadata"
                    + (", local time, zone unknown)" if local_only else ")"),
                    "item": it["id"],
                }
            )
        if it["collected_at"]:
            by = f" by {it['collected_by']}" if it["collected_by"] else ""
            events.append(
                {
                    "at": it["collected_at"],
                    "event": "collected",
                    "what": f"{it['filename']} collected{by}",
                    "item": it["id"],
                }
            )
        for a in it["attributions"]:
            if a["collected_at"]:
                by = f" by {a['collected_by']}" if a["collected_by"] else ""
                events.append(
                    {
                        "at": a["collected_at"],
                        "event": "collected",
                        "what": f"{it['filename']} collected{by} (further attribution)",
                        "item": it["id"],
                    }
                )
        events.append(
            {
                "at": it["ingested_at"],
                "event": "added",
                "what": f"{it['filename']} added to the case",
                "item": it["id"],
            }
        )
    # ISO texts sort chronologically; a bare date sorts before the instants of that day.
    order = {
        "incident": 0,
        "claim": 1,
        "denial": 2,
        "statement": 3,
        "capture": 4,
        "collected": 5,
        "added": 6,
    }
    events.sort(key=lambda e: (e["at"] or "", order[e["event"]], e["item"] or ""))
    return events


def _custody(
    session: Session, case: Case, findings: Iterable[Finding], damaged: list[DamagedOriginal]
) -> dict[str, Any]:
    events = case_events(session, case)
    records: list[Any] = [case, *case.sites, *case.items]
    records += [lk for i in case.items for lk in i.links]
    records += [a for i in case.items for a in i.attributions]
    records += [r for r in (case.claim, case.denial) if r is not None]
    records += list(findings)
    problems = [str(p) for p in verify_chain(session, case)]
    problems += [str(p) for p in verify_records(session, case, records)]
    problems += [d.detail for d in damaged]
    return {
        "events": [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "record_type": e.record_type,
                "record_id": e.record_id,
                "record_hash": e.record_hash,
                "item_sha256": e.item_sha256,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in events
        ],
        "head": case.chain_head,
        "length": case.chain_seq,
        # The source chains imports verified and kept (who added what, and when, before the
        # case came to this workspace).
        "before_import": _before_import(events),
        "verified_at_report_time": not problems,
        "problems": problems,
        # Every original of the case re-hashed when the report was made.
        "originals": {
            "checked": len({i.sha256 for i in case.items}),
            "problems": [
                {
                    "item": d.item,
                    "filename": d.filename,
                    "sha256": d.sha256,
                    "state": d.state,
                    "detail": d.detail,
                }
                for d in damaged
            ],
        },
        "reverify_commands": ["claimcheck fsck", f"claimcheck log {case.code} --json"],
    }


def _offset(
    lat: float, lon: float, sites: list[dict[str, Any]], incident: dict[str, Any] | None
) -> dict[str, Any] | None:
    """How far and which way (lat, lon) lies from the claimed site (else the nearest site, else
    the incident point): what an investigator asks of a recorded position first."""
    try:
        here = GeoPoint(lat=lat, lon=lon)
    except InvalidValueError:  # a file's own GPS can say anything; the tables show it as is
        return None
    candidates = [s for s in sites if s["claimed"]] or sites
    references = [
        (
            GeoPoint(lat=s["lat"], lon=s["lon"]),
            s["name"],
            "claimed site" if s["claimed"] else "site",
        )
        for s in candidates
    ]
    if not references and incident is not None:
        references = [(GeoPoint(lat=incident["lat"], lon=incident["lon"]), "incident", "incident")]
    if not references:
        return None
    # Several claimed sites: the nearest of them; ties go to the first recorded.
    distance, ref, name, kind = min(
        ((distance_m(ref, here), ref, name, kind) for ref, name, kind in references),
        key=lambda t: t[0],
    )
    return {
        "from": name,
        "from_kind": kind,
        "distance_m": round(distance, 1),
        "bearing_deg": round(bearing_deg(ref, here)) % 360 if distance > 0 else None,
    }


def _map(
    case: dict[str, Any], sites: list[dict[str, Any]], items: list[dict[str, Any]]
) -> dict[str, Any]:
    incident = (
        {"lat": case["lat"], "lon": case["lon"], "place": case["place"]}
        if case["lat"] is not None and case["lon"] is not None
        else None
    )
    positions = [
        {
            "item": it["id"],
            "filename": it["filename"],
            **it["position"],
            "offset": _offset(it["position"]["lat"], it["position"]["lon"], sites, incident),
        }
        for it in items
        if it["position"] is not None
    ]
    if incident is not None and sites:
        incident["offset"] = _offset(incident["lat"], incident["lon"], sites, None)
    return {"sites": sites, "positions": positions, "incident": incident}


def build_report(
    ws: Workspace,
    case_code: str,
    *,
    now: datetime | None = None,
    on_original: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The whole report of a case as plain data (see the module docstring). Every original is
    re-hashed; `on_original()` is called after each (progress through the slow part)."""
    with ws.reading() as session:
        case = load_case(session, case_code)
        run = latest_run(session, case)
        current = (
            list(
                session.scalars(
                    select(Finding).where(Finding.run_id == run.id).order_by(Finding.id)
                )
            )
            if run is not None
            else []
        )
        every_finding = list(session.scalars(select(Finding).where(Finding.case_id == case.id)))
        by_code = {i.code: i for i in case.items}
        findings = [_finding(ws, f, by_code) for f in current]
        changes = changes_since_run(case, run, case_events(session, case))
        damaged = {
            d.item: d for d in OriginalsCheck(ws.blobs).damaged(case.items, on_item=on_original)
        }
        statements = [
            s
            for i in case.items
            if i.kind == "statement"
            for s in _statements(ws, i, damaged.get(i.code))
        ]
        items = [_item(i, findings) for i in case.items]
        custody = _custody(session, case, every_finding, list(damaged.values()))
        case_data = _case(case)
        events = case_events(session, case)
        claim, denial = _claim(case, events), _denial(case, events)
        sites = [
            {
                "name": s.name,
                "lat": s.lat,
                "lon": s.lon,
                "radius_m": s.radius_m,
                "claimed": s.claimed,
                "reference_items": [
                    i.code for i in case.items if s.name in reference_sites(i.links)
                ],
            }
            for s in case.sites
        ]
        run_data = _run(run)
        if run_data is not None and changes is not None:
            run_data["changes_since"] = changes.as_dict()
            run_data["changes_note"] = changes.describe() or None
    counts = {v: sum(1 for f in findings if f["verdict"] == v) for v in _VERDICT_ORDER}
    by_side: dict[str, dict[str, int]] = {}
    for f in findings:
        side_counts = by_side.setdefault(f["side"] or "other", dict.fromkeys(_VERDICT_ORDER, 0))
        side_counts[f["verdict"]] = side_counts.get(f["verdict"], 0) + 1
    return {
        "format": REPORT_FORMAT,
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": iso_utc(now or utcnow()),
        "tool_version": TOOL_VERSION,
        "workspace": {"fingerprint": ws.fingerprint, "database": ws.dialect},
        "case": case_data,
        "claim": claim,
        "denial": denial,
        "sites": sites,
        "timeline": _timeline(case_data, claim, denial, items, statements),
        "verify_run": run_data,
        "findings": {
            "counts": counts,
            "counts_by_side": {
                side: {"label": side_label(side), "counts": c}
                for side, c in sorted(by_side.items())
            },
            "total": len(findings),
            "groups": _finding_groups(findings),
        },
        "map": _map(case_data, sites, items),
        "items": items,
        "statements": statements,
        "custody": custody,
        "limits": {
            "general": list(GENERAL_LIMITS),
            "by_check": {
                g["check"]: CHECK_LIMITS[g["check"]]
                for g in _finding_groups(findings)
                if g["check"] in CHECK_LIMITS
            },
        },
    }
