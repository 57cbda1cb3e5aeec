"""Checking a whole store: every blob re-hashed, every custody chain re-walked, every record
row compared with the hash its custody event logged.

`check_store` returns the problems it finds, and as warnings the blobs no item references; it
never repairs or deletes anything (evidence is never modified by the tool) and never prints:
`claimcheck fsck` formats the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from evidence_store.custody import ChainProblem, case_events, verify_chain, verify_records
from evidence_store.db import Workspace
from evidence_store.models import (
    Blob,
    Case,
    EvidenceItem,
    Finding,
    ItemLink,
    VerifyRun,
)


@dataclass(frozen=True)
class FsckReport:
    problems: list[ChainProblem]
    blobs_checked: int
    cases_checked: int
    # Temporary files left by an interrupted write: harmless (never under a final name),
    # reported so an investigator knows a write was interrupted.
    orphans: list[str] = field(default_factory=list)
    # SHA-256 of blobs (stored files or blob rows) that no item references: bytes a failed or
    # interrupted ingest left behind, outside every custody log. Reported, never deleted.
    unreferenced_blobs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _load_case(session: Session, case_id: int) -> Case:
    return session.scalars(
        select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.claim),
            selectinload(Case.denial),
            selectinload(Case.sites),
            selectinload(Case.items).selectinload(EvidenceItem.links).selectinload(ItemLink.site),
        )
    ).one()


def case_records(session: Session, case: Case) -> list[object]:
    """Every row of a case whose canonical form the custody log hashes."""
    records: list[object] = [case, *case.sites, *case.items]
    records += [lk for item in case.items for lk in item.links]
    records += [a for item in case.items for a in item.attributions]
    records += [r for r in (case.claim, case.denial) if r is not None]
    records += list(
        session.scalars(select(Finding).where(Finding.case_id == case.id).order_by(Finding.id))
    )
    return records


def verify_runs(session: Session, case: Case) -> list[ChainProblem]:
    """Each verify run row must match the `verify` event that logged it, and vice versa.

    A run is not a hashed record of its own (its findings are), so the event's details (run id,
    actor, tool version, number of findings) are what the row is held to.
    """
    problems: list[ChainProblem] = []
    logged: dict[int, tuple[str, dict]] = {}
    for event in case_events(session, case):
        if event.action == "verify" and isinstance(event.details.get("run"), int):
            logged[event.details["run"]] = (event.actor, event.details)
    runs = {r.id: r for r in session.scalars(select(VerifyRun).where(VerifyRun.case_id == case.id))}
    counts: dict[int, int] = {}
    for run_id in session.scalars(select(Finding.run_id).where(Finding.case_id == case.id)):
        counts[run_id] = counts.get(run_id, 0) + 1
    for run_id, run in sorted(runs.items()):
        where = f"{case.code} verify run {run_id}"
        if run_id not in logged:
            problems.append(ChainProblem(where, "run has no custody event (inserted directly?)"))
            continue
        actor, details = logged[run_id]
        # Imported runs are logged by the importer; the run's own actor is in the details.
        if run.actor != details.get("run_actor", actor) or run.tool_version != details.get(
            "tool_version"
        ):
            problems.append(ChainProblem(where, "row differs from what the custody log recorded"))
        if run.finished_at is None:
            problems.append(ChainProblem(where, "logged as complete but has no finish time"))
        if counts.get(run_id, 0) != details.get("findings"):
            problems.append(
                ChainProblem(
                    where,
                    f"has {counts.get(run_id, 0)} finding(s); the custody log recorded "
                    f"{details.get('findings')} (findings deleted or inserted?)",
                )
            )
    for run_id in sorted(set(logged) - set(runs)):
        problems.append(
            ChainProblem(f"{case.code} verify run {run_id}", "logged run is missing (deleted?)")
        )
    return problems


def check_store(ws: Workspace, *, on_blob: Callable[[int, int], None] | None = None) -> FsckReport:
    """Re-hash every blob the database references and re-walk every case's chain.

    `on_blob(done, total)` reports progress through the (slow) re-hashing.
    """
    problems: list[ChainProblem] = []
    with ws.snapshot() as session:
        shas = list(session.scalars(select(Blob.sha256).order_by(Blob.sha256)))
        referenced = set(session.scalars(select(EvidenceItem.sha256).distinct()))
        for n, sha in enumerate(shas, 1):
            issue = ws.blobs.verify(sha)
            if issue:
                problems.append(ChainProblem(f"blob {sha}", issue))
            if on_blob is not None:
                on_blob(n, len(shas))
        for sha in sorted(referenced - set(shas)):
            problems.append(ChainProblem(f"blob {sha}", "referenced by an item but not recorded"))
        unreferenced = sorted((set(ws.blobs.iter_stored()) | set(shas)) - referenced)
        case_ids = list(session.scalars(select(Case.id).order_by(Case.id)))
        for case_id in case_ids:
            case = _load_case(session, case_id)
            problems += verify_chain(session, case)
            problems += verify_records(session, case, case_records(session, case))
            problems += verify_runs(session, case)
    return FsckReport(
        problems=problems,
        blobs_checked=len(shas),
        cases_checked=len(case_ids),
        orphans=[p.name for p in ws.blobs.orphans()],
        unreferenced_blobs=unreferenced,
    )
