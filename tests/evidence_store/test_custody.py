"""Events appended in one batch are exactly the events appended one at a time, and a verify run's
batched findings and events are stored in its order, logged with their hashes, chain intact."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import evidence_store.custody as custody
from cases import workflow
from cases.checks.base import CheckContext, FindingDraft
from cases.snapshot import ItemInfo
from cases.verification import run_verify
from evidence_store.custody import (
    EventDraft,
    append_event,
    append_events,
    case_events,
    record_hash,
    verify_chain,
)
from evidence_store.db import Workspace, init_workspace
from evidence_store.fsck import check_store
from evidence_store.models import Finding
from verify.verdict import Verdict

ACTOR = "tester"
_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "item_sha256",
    "record_type",
    "record_id",
    "record_hash",
    "details",
    "prev_hash",
    "hash",
)


@pytest.fixture
def ws(tmp_path: Path, db_url):
    w = init_workspace(tmp_path / "ws", db_url)
    yield w
    w.dispose()


def _case(ws: Workspace) -> str:
    code = workflow.open_case(ws, ACTOR, title="t", incident_date=date(2019, 7, 22)).code
    workflow.add_site(ws, ACTOR, code, name="square", lat=35.0, lon=36.0, claimed=True)
    return code


class _Rollback(Exception):
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events


def _appended(ws: Workspace, code: str, batched: bool) -> list[dict[str, Any]]:
    """The events one way of appending writes, as stored; the transaction is rolled back."""

    def work(session: Session) -> None:
        case = workflow.load_case(session, code)
        drafts = [
            EventDraft("note", details={"k": 1}),
            EventDraft("note", record=case),
            EventDraft("note", record=case.sites[0], item_sha256="ab" * 32, details={"k": [2]}),
            EventDraft("note", removed=case.sites[0], details={"row": {"name": "square"}}),
            EventDraft("note"),
        ]
        if batched:
            append_events(session, case, ACTOR, drafts)
        else:
            for d in drafts:
                append_event(
                    session,
                    case,
                    d.action,
                    ACTOR,
                    record=d.record,
                    removed=d.removed,
                    item_sha256=d.item_sha256,
                    details=d.details,
                )
        session.flush()
        events = case_events(session, case)
        raise _Rollback([{f: getattr(e, f) for f in _FIELDS} for e in events])

    with pytest.raises(_Rollback) as done:
        ws.run_write(work)
    return done.value.events


def test_batched_events_are_the_events_appended_one_by_one(ws, monkeypatch):
    code = _case(ws)
    # One clock for both: then every field, hashes and links included, must be equal.
    moment = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(custody, "utcnow", lambda: moment)
    one_by_one = _appended(ws, code, batched=False)
    batched = _appended(ws, code, batched=True)
    assert len(batched) > 5 and batched == one_by_one
    with pytest.raises(ValueError):
        ws.run_write(
            lambda s: append_events(
                s,
                workflow.load_case(s, code),
                ACTOR,
                [EventDraft("note", record=object(), removed=object())],
            )
        )


class _Drafts:
    """A check whose findings are given: the write phase of verify without any analysis."""

    name = "site_match"
    title = "given findings"

    def __init__(self, count: int) -> None:
        self.count = count

    def examines(self, item: ItemInfo) -> bool:
        return True

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        return [
            FindingDraft(
                "site_match",
                Verdict.CONSISTENT if k % 2 else Verdict.MISMATCH,
                (f"E-{k:04d}",),
                {"scores": {"square": k}, "frames": [{"k": k}]},
                f"finding {k}",
                (f"matches/ab/ab{k:062d}/square-E-0001.jpg",),
            )
            for k in range(self.count)
        ]


def test_verify_stores_findings_in_order_each_logged_with_its_hash(ws):
    code = _case(ws)
    first = run_verify(ws, ACTOR, code, checks=[_Drafts(40)])
    again = run_verify(ws, ACTOR, code, checks=[_Drafts(40)])
    # The run's order (mismatches first, then by items) is the order of ids and codes.
    for out in (first, again):
        ids = [f.id for f in out.findings]
        assert ids == sorted(ids) and len(set(ids)) == 40
        assert [f.code for f in out.findings] == [f"F-{i:06d}" for i in ids]
        assert [f.verdict for f in out.findings] == ["mismatch"] * 20 + ["consistent"] * 20

    def same(f: Finding) -> tuple[object, ...]:
        return (f.check, f.verdict, f.items, f.values, f.detail, f.artefacts, f.tool_version)

    assert [same(f) for f in again.findings] == [same(f) for f in first.findings]
    with ws.reading() as session:
        case = workflow.load_case(session, code)
        events = case_events(session, case)
        findings = list(session.scalars(select(Finding).order_by(Finding.id)))
        assert verify_chain(session, case) == []
        by_code = {f.code: f for f in findings}
        logged = [e for e in events if e.action == "finding"]
        assert [e.record_id for e in logged] == [f.code for f in findings]
        for event in logged:
            f = by_code[event.record_id]
            assert event.record_type == "finding" and event.record_hash == record_hash(f)
            assert event.details == {
                "finding": f.code,
                "check": f.check,
                "verdict": f.verdict,
                "items": f.items,
            }
        verify_events = [e for e in events if e.action == "verify"]
        assert [e.details["findings"] for e in verify_events] == [40, 40]
        # Each run's verify event follows its findings' events.
        assert events[-1].action == "verify" and events[-42].action == "verify"
    report = check_store(ws)
    assert report.ok, report.problems
