"""The custody log: an append-only hash chain per case.

Each event's hash covers its sequence number, time, actor, action, the SHA-256 of the evidence
it concerns, the hash of the canonical form of the record it wrote, its details, and the
previous event's hash. Editing or deleting any event breaks the chain; editing a record row
breaks the match between the row and the last record hash logged for it.

A record removed on purpose (a site registered by mistake, a wrong role link) is logged by an
event that names it with no hash (`removed=`): the full removed row goes into the event's
details, and from then on the row's absence is what the log expects. One event may log more
rows than its own record slot (`ALSO_LOGGED` in its details, hashed with the rest), e.g. the
reference links of a renamed or removed site, so one correction is one event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.models import (
    GENESIS_HASH,
    Case,
    Claim,
    CustodyEvent,
    Denial,
    EvidenceItem,
    Finding,
    ItemAttribution,
    ItemLink,
    Site,
)
from evidence_store.timeutil import iso_utc, utcnow


class Recordable(Protocol):
    def canonical(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ChainProblem:
    """One thing `fsck` found wrong; `where` names the case and event or record."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: Recordable) -> str:
    return hashlib.sha256(canonical_json(record.canonical()).encode("utf-8")).hexdigest()


# Details key of the further rows an event logs: a list of {"type", "id", "hash"} (hash None
# for a removed row).
ALSO_LOGGED = "also_logged"


def logged_entry(record: object) -> dict[str, str | None]:
    """A row as logged by an event that wrote it: its reference and hash."""
    record_type, record_id = record_ref(record)
    return {"type": record_type, "id": record_id, "hash": record_hash(record)}  # type: ignore[arg-type]


def removal_entry(record: object) -> dict[str, str | None]:
    """A row as logged by the event that removed it: its reference and no hash."""
    record_type, record_id = record_ref(record)
    return {"type": record_type, "id": record_id, "hash": None}


def logged_records(
    record_type: str | None,
    record_id: str | None,
    rhash: str | None,
    details: Any,
) -> list[tuple[tuple[str, str], str | None]]:
    """Every row an event logs, as ((type, id), hash or None when removed), its own record
    first. Shared by `fsck` and bundle import, which hold rows to the last entry per row."""
    logged: list[tuple[tuple[str, str], str | None]] = []
    if record_type and record_id:
        logged.append(((record_type, record_id), rhash))
    also = details.get(ALSO_LOGGED) if isinstance(details, dict) else None
    for entry in also if isinstance(also, list) else []:
        if isinstance(entry, dict) and entry.get("type") and entry.get("id"):
            logged.append(((str(entry["type"]), str(entry["id"])), entry.get("hash")))
    return logged


def record_ref(record: object) -> tuple[str, str]:
    """(record_type, record_id) naming a row in the chain independently of database ids."""
    if isinstance(record, Case):
        return "case", record.code
    if isinstance(record, Claim):
        return "claim", record.case.code
    if isinstance(record, Denial):
        return "denial", record.case.code
    if isinstance(record, Site):
        return "site", f"{record.case.code}/{record.name}"
    if isinstance(record, EvidenceItem):
        return "item", record.code
    if isinstance(record, ItemAttribution):
        return "attribution", f"{record.item.code}/{record.seq}"
    if isinstance(record, ItemLink):
        site = record.site.name if record.site is not None else ""
        return "link", f"{record.item.code}/{record.role}/{site}"
    if isinstance(record, Finding):
        return "finding", record.code
    raise TypeError(f"not a recordable row: {type(record).__name__}")


def event_payload(event: CustodyEvent, case_code: str) -> dict[str, Any]:
    """The fields of an event that its hash covers (everything but the hash itself)."""
    return {
        "case": case_code,
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "item_sha256": event.item_sha256,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "record_hash": event.record_hash,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def event_hash(event: CustodyEvent, case_code: str) -> str:
    payload = canonical_json(event_payload(event, case_code))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def lock_case(session: Session, case: Case) -> Case:
    """Lock the case row (PostgreSQL `FOR UPDATE`) so concurrent appends serialise.

    SQLite needs no row lock: its write transactions already start with BEGIN IMMEDIATE.
    """
    locked = session.execute(select(Case).where(Case.id == case.id).with_for_update()).scalar_one()
    session.refresh(locked, attribute_names=["chain_seq", "chain_head"])
    return locked


@dataclass(frozen=True)
class EventDraft:
    """One event to append: what `append_event` takes, for `append_events`."""

    action: str
    record: object | None = None
    removed: object | None = None
    item_sha256: str | None = None
    details: dict[str, Any] | None = None


def append_event(
    session: Session,
    case: Case,
    action: str,
    actor: str,
    *,
    record: object | None = None,
    removed: object | None = None,
    item_sha256: str | None = None,
    details: dict[str, Any] | None = None,
) -> CustodyEvent:
    """Append one event to the case's chain, in the caller's transaction.

    The event is committed together with the change it records, so neither can exist without
    the other. `record` is a row the change wrote (logged with its hash); `removed` a row it
    is about to delete (logged with no hash; the caller puts the row itself in `details`).
    """
    draft = EventDraft(action, record, removed, item_sha256, details)
    return append_events(session, case, actor, [draft])[0]


def append_events(
    session: Session, case: Case, actor: str, drafts: Sequence[EventDraft]
) -> list[CustodyEvent]:
    """Append events to the case's chain in the given order, in the caller's transaction: the
    same events, hashes and links as one `append_event` per draft, with the case locked once
    and one flush (a verify run logs thousands of findings: per-event locking and flushing was
    most of its write time)."""
    for draft in drafts:
        if draft.record is not None and draft.removed is not None:
            raise ValueError("an event logs either a written or a removed record, not both")
    case = lock_case(session, case)
    # Records get their ids (and so their canonical form) before they are hashed.
    session.flush()
    events = []
    seq, head = case.chain_seq, case.chain_head
    for draft in drafts:
        record_type = record_id = rhash = None
        if draft.record is not None:
            record_type, record_id = record_ref(draft.record)
            rhash = record_hash(draft.record)  # type: ignore[arg-type]
        elif draft.removed is not None:
            record_type, record_id = record_ref(draft.removed)
        event = CustodyEvent(
            case_id=case.id,
            seq=seq + 1,
            at=iso_utc(utcnow()),
            actor=actor,
            action=draft.action,
            item_sha256=draft.item_sha256,
            record_type=record_type,
            record_id=record_id,
            record_hash=rhash,
            details=draft.details or {},
            prev_hash=head,
        )
        event.hash = event_hash(event, case.code)
        seq, head = event.seq, event.hash
        events.append(event)
    session.add_all(events)
    case.chain_seq, case.chain_head = seq, head
    session.flush()
    return events


def case_events(session: Session, case: Case) -> list[CustodyEvent]:
    return list(
        session.scalars(
            select(CustodyEvent).where(CustodyEvent.case_id == case.id).order_by(CustodyEvent.seq)
        )
    )


def verify_chain(session: Session, case: Case) -> list[ChainProblem]:
    """Walk a case's chain from genesis; report every broken link, gap and edited event."""
    problems: list[ChainProblem] = []
    prev = GENESIS_HASH
    expected_seq = 1
    for event in case_events(session, case):
        where = f"{case.code} event {event.seq}"
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(where, f"sequence gap: expected event {expected_seq} (deleted?)")
            )
        if event.prev_hash != prev:
            problems.append(ChainProblem(where, "does not link to the previous event"))
        if event_hash(event, case.code) != event.hash:
            problems.append(ChainProblem(where, "content does not match its hash (edited)"))
        prev = event.hash
        expected_seq = event.seq + 1
    if case.chain_seq != expected_seq - 1 or case.chain_head != prev:
        problems.append(
            ChainProblem(
                case.code,
                f"chain ends at event {expected_seq - 1} but the case records "
                f"{case.chain_seq} events (events deleted from the end?)",
            )
        )
    return problems


def verify_records(session: Session, case: Case, records: Iterable[object]) -> list[ChainProblem]:
    """Compare each record row with the hash last logged for it (none: logged as removed)."""
    last_logged: dict[tuple[str, str], str | None] = {}
    for event in case_events(session, case):
        for ref, rhash in logged_records(
            event.record_type, event.record_id, event.record_hash, event.details
        ):
            last_logged[ref] = rhash
    problems: list[ChainProblem] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        ref = record_ref(record)
        seen.add(ref)
        where = f"{case.code} {ref[0]} {ref[1]}"
        if ref not in last_logged:
            problems.append(ChainProblem(where, "row has no custody event (inserted directly?)"))
        elif last_logged[ref] is None:
            problems.append(
                ChainProblem(where, "row was logged as removed but is present (re-inserted?)")
            )
        elif last_logged[ref] != record_hash(record):  # type: ignore[arg-type]
            problems.append(ChainProblem(where, "row differs from what the custody log recorded"))
    for ref in sorted(ref for ref in set(last_logged) - seen if last_logged[ref] is not None):
        problems.append(
            ChainProblem(f"{case.code} {ref[0]} {ref[1]}", "logged record is missing (deleted?)")
        )
    return problems
