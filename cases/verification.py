"""Running the checks over a case and storing what they find.

Every original of the case is re-hashed first: an item whose original is missing or no longer
matches its SHA-256 is left out of the analysis, and each check that would have read it records
an inconclusive finding saying so (see cases.originals); the other items are verified as usual.

The expensive work happens first, outside any transaction; the run, its findings and its
custody event are then written in one transaction. A run interrupted before that commit leaves
no trace but rebuildable caches, and the previous complete run stays current.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from cases.checks import CHECKS
from cases.checks.base import Check, CheckContext, FindingDraft, NoProgress, Progress
from cases.originals import DamagedOriginal, OriginalsCheck
from cases.snapshot import ItemInfo, item_info, snapshot_case
from cases.workflow import load_case
from evidence_store.custody import EventDraft, append_event, append_events
from evidence_store.db import Workspace
from evidence_store.models import Case, EvidenceItem, Finding, ItemLink, VerifyRun
from evidence_store.timeutil import utcnow
from verify import __version__ as TOOL_VERSION
from verify.verdict import Verdict

_VERDICT_ORDER = {Verdict.MISMATCH: 0, Verdict.INCONCLUSIVE: 1, Verdict.CONSISTENT: 2}


@dataclass(frozen=True)
class VerifyOutcome:
    case: str
    run_id: int
    findings: list[Finding]
    checks: list[str]
    # Items left out of the analysis because their original no longer matches its SHA-256.
    damaged: list[DamagedOriginal] = dataclasses.field(default_factory=list)


def _workspace_items(ws: Workspace) -> list:
    with ws.reading() as session:
        rows = session.scalars(
            select(EvidenceItem).options(
                selectinload(EvidenceItem.links).selectinload(ItemLink.site),
                selectinload(EvidenceItem.case),
                selectinload(EvidenceItem.frames),
            )
        )
        return [item_info(ws, r) for r in rows]


def run_verify(
    ws: Workspace,
    actor: str,
    case_code: str,
    *,
    progress: Progress | None = None,
    checks: Sequence[Check] | None = None,
) -> VerifyOutcome:
    # A run ends by writing its findings: on a read-only workspace it would compute for minutes
    # and then fail, so it is refused before any work.
    ws.require_writable()
    progress = progress or NoProgress()
    selected = list(CHECKS if checks is None else checks)
    # The run starts when the case is read, not when its findings are written: what is added
    # or corrected while the checks run is not in their findings, and `changes_since_run`
    # (which compares with this time) must flag it as not examined.
    started = utcnow()
    with ws.reading() as session:
        case = load_case(session, case_code)
        snapshot = snapshot_case(ws, case)
    case_items = {i.code: i for i in snapshot.items}
    originals = OriginalsCheck(ws.blobs)
    task = progress.task("re-hashing originals", len(snapshot.items))
    damaged: list[DamagedOriginal] = []
    for item in snapshot.items:
        damaged += originals.damaged([item])
        task.advance()
    left_out = {d.item for d in damaged}
    snapshot = dataclasses.replace(
        snapshot, items=tuple(i for i in snapshot.items if i.code not in left_out)
    )
    cache: list = []

    def workspace_items() -> list:
        if not cache:
            known_bad = {d.sha256 for d in damaged}
            cache.extend(i for i in _workspace_items(ws) if i.sha256 not in known_bad)
        return cache

    ctx = CheckContext(
        ws=ws,
        case=snapshot,
        progress=progress,
        workspace_items=workspace_items,
        originals=originals,
    )
    drafts: list[FindingDraft] = []
    for check in selected:
        drafts.extend(check.run(ctx))
        drafts.extend(_not_analysed(check, case_items, damaged))
    drafts.sort(key=lambda d: (d.check, _VERDICT_ORDER[d.verdict], d.items))

    def work(session: Session) -> VerifyOutcome:
        case = load_case(session, snapshot.code)
        run = VerifyRun(case_id=case.id, started_at=started, tool_version=TOOL_VERSION, actor=actor)
        session.add(run)
        session.flush()
        # All findings in one batched INSERT (ids in this order), their codes from those ids in
        # one UPDATE, and their events in one append: the same rows and chain as one flush and
        # one `append_event` per finding, which took most of a no-change re-run's write time.
        stored = [
            Finding(
                code=f"~{run.id}-{k}",
                case=case,
                run=run,
                check=draft.check,
                verdict=str(draft.verdict),
                items=list(draft.items),
                values=draft.values,
                detail=draft.detail,
                artefacts=list(draft.artefacts),
                created_at=utcnow(),
                tool_version=TOOL_VERSION,
            )
            for k, draft in enumerate(drafts)
        ]
        session.add_all(stored)
        session.flush()
        for finding in stored:
            finding.code = f"F-{finding.id:06d}"
        session.flush()
        append_events(
            session,
            case,
            actor,
            [
                EventDraft(
                    "finding",
                    record=finding,
                    details={
                        "finding": finding.code,
                        "check": finding.check,
                        "verdict": finding.verdict,
                        "items": finding.items,
                    },
                )
                for finding in stored
            ],
        )
        run.finished_at = utcnow()
        details = {
            "run": run.id,
            "checks": [c.name for c in selected],
            "findings": len(stored),
            "tool_version": TOOL_VERSION,
        }
        if damaged:
            details["originals_not_matching"] = [d.item for d in damaged]
        append_event(session, case, "verify", actor, details=details)
        return VerifyOutcome(snapshot.code, run.id, stored, [c.name for c in selected], damaged)

    return ws.run_write(work)


def _not_analysed(
    check: Check, items: dict[str, ItemInfo], damaged: list[DamagedOriginal]
) -> list[FindingDraft]:
    """One inconclusive finding per damaged original the check would have read."""
    return [
        FindingDraft(
            check.name,
            Verdict.INCONCLUSIVE,
            (d.item,),
            {"original": d.state, "sha256": d.sha256},
            d.detail,
        )
        for d in damaged
        if check.examines(items[d.item])
    ]


def latest_run(session: Session, case: Case) -> VerifyRun | None:
    return session.scalar(
        select(VerifyRun)
        .where(VerifyRun.case_id == case.id, VerifyRun.finished_at.is_not(None))
        .order_by(VerifyRun.id.desc())
        .limit(1)
    )


def current_findings(ws: Workspace, case_code: str, *, all_runs: bool = False) -> list[Finding]:
    """Findings of the latest complete verify run (or of every run, oldest first)."""
    with ws.reading() as session:
        case = load_case(session, case_code)
        query = select(Finding).where(Finding.case_id == case.id)
        if not all_runs:
            run = latest_run(session, case)
            if run is None:
                return []
            query = query.where(Finding.run_id == run.id)
        return list(session.scalars(query.order_by(Finding.id)))


def count_findings(session: Session, case: Case) -> int:
    run = latest_run(session, case)
    if run is None:
        return 0
    return session.scalar(select(func.count()).where(Finding.run_id == run.id)) or 0
