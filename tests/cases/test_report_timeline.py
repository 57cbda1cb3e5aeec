"""The report's timeline places each witness statement at the date it was given, beside the
incident, the claim, the denial and the capture times."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cases import workflow
from cases.ingest import ItemFacts, add_statement
from cases.report.data import build_report
from evidence_store.db import init_workspace


def test_statement_dates_are_on_the_timeline(tmp_path: Path) -> None:
    w = init_workspace(tmp_path / "ws")
    try:
        case = workflow.open_case(w, "me", title="Strike", incident_date=date(2019, 7, 22)).code
        workflow.set_denial(w, "me", case, by="Ministry", on=date(2019, 7, 23), text="No strike")
        words = "رأيت الطائرة فوق السوق."
        first = add_statement(w, "me", case, witness="شاهد أ", text=words,
                              facts=ItemFacts(statement_date=date(2019, 7, 24)))  # fmt: skip
        # The same words from a second witness, given on another day: a second row.
        add_statement(w, "me", case, witness="Witness B", text=words,
                      facts=ItemFacts(statement_date=date(2019, 7, 25)))  # fmt: skip
        add_statement(w, "me", case, witness="Undated", text="I heard it.")
        timeline = build_report(w, case)["timeline"]
    finally:
        w.dispose()
    rows = [(e["at"], e["event"], e["item"]) for e in timeline if e["event"] == "statement"]
    assert rows == [
        ("2019-07-24", "statement", first.item),
        ("2019-07-25", "statement", first.item),
    ]
    whats = [e["what"] for e in timeline if e["event"] == "statement"]
    assert whats == [
        "statement of شاهد أ (statement.txt)",
        "statement of Witness B (statement.txt)",
    ]
    # In time order with the case's own dates; the undated statement has no row of its own.
    kinds = [e["event"] for e in timeline if e["event"] != "added"]
    assert kinds == ["incident", "denial", "statement", "statement"]
