"""What a second add or set says is kept (audit issues 3, 4, 10): a second witness or source of
the same bytes becomes an attribution of the item, a claim or denial is replaced only on
request and its earlier version stays in the custody log, and a command whose files do not
exist stores nothing."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cases import workflow
from cases.errors import InputError
from cases.ingest import ItemFacts, LinkSpec, add_evidence, add_statement
from cases.report.data import build_report
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from evidence_store.custody import case_events
from evidence_store.db import init_workspace
from evidence_store.fsck import check_store
from tests.cases.cli_helpers import in_process_cli


@pytest.fixture
def ws(tmp_path: Path, db_url):
    w = init_workspace(tmp_path / "ws", db_url)
    yield w
    w.dispose()


@pytest.fixture
def case(ws) -> str:
    return workflow.open_case(ws, "t", title="Strike", incident_date=date(2020, 1, 1)).code


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    pixels = (np.random.default_rng(3).random((48, 64, 3)) * 255).astype("uint8")
    Image.fromarray(pixels).save(path)
    return path


def _markdown(ws, code: str, tmp_path: Path) -> str:
    return render_markdown(build_report(ws, code), derived_reader(ws), tmp_path / "md", "md")


def _events(ws, code: str) -> list:
    with ws.reading() as s:
        return case_events(s, workflow.load_case(s, code))


# --- a second witness, source or collector of the same bytes ------------------------------


def test_second_witness_with_the_same_words_is_a_statement_of_their_own(ws, case):
    first = add_statement(ws, "t", case, witness="Witness X", text="I saw the strike.")
    second = add_statement(
        ws,
        "t",
        case,
        witness="Witness Y",
        text="I saw the strike.",
        facts=ItemFacts(statement_date=date(2020, 1, 1)),
    )
    assert first.new_item and not second.new_item and second.item == first.item
    assert second.new_attribution is not None and "Witness Y" in second.new_attribution
    assert "nothing to do" not in second.message and "Witness Y" in second.message

    item = workflow.get_item(ws, first.item)
    assert item.witness == "Witness X"
    [extra] = item.attributions
    assert (extra.seq, extra.witness, extra.statement_date) == (1, "Witness Y", date(2020, 1, 1))

    report = build_report(ws, case)
    assert [(s["witness"], s["text"]) for s in report["statements"]] == [
        ("Witness X", "I saw the strike."),
        ("Witness Y", "I saw the strike."),
    ]
    assert report["custody"]["verified_at_report_time"], report["custody"]["problems"]
    [attributed] = [e for e in _events(ws, case) if e.action == "attribute"]
    assert attributed.record_type == "attribution" and attributed.record_id == f"{item.code}/1"
    assert check_store(ws).ok, check_store(ws).problems


def test_a_re_add_that_says_nothing_new_changes_nothing(ws, case):
    add_statement(ws, "t", case, witness="Witness X", text="Same words.")
    add_statement(ws, "t", case, witness="Witness Y", text="Same words.")
    before = len(_events(ws, case))
    for witness in ("Witness X", "Witness Y"):
        again = add_statement(ws, "t", case, witness=witness, text="Same words.")
        assert again.new_attribution is None and "nothing to do" in again.message
    assert len(_events(ws, case)) == before
    # The same witness again with something new (the language) is recorded, but is not a
    # statement of its own in the report.
    told = add_statement(
        ws, "t", case, witness="Witness X", text="Same words.", facts=ItemFacts(language="ar")
    )
    assert told.new_attribution is not None
    assert [s["witness"] for s in build_report(ws, case)["statements"]] == [
        "Witness X",
        "Witness Y",
    ]


def test_a_second_source_of_the_same_file_is_recorded(ws, case, photo):
    link = [LinkSpec("supports_claim")]
    facts = ItemFacts(source="orig", collected_by="alice")
    [first] = add_evidence(ws, "t", case, [photo], kind="photo", links=link, facts=facts)
    # Repeating a fact the item already holds (alone or with all of them) is nothing new.
    for same in (facts, ItemFacts(source="orig"), ItemFacts()):
        [r] = add_evidence(ws, "t", case, [photo], kind="photo", links=link, facts=same)
        assert r.new_attribution is None and "nothing to do" in r.message
    [dup] = add_evidence(
        ws, "t", case, [photo], kind="photo", links=link, facts=ItemFacts(source="dup")
    )
    assert dup.item == first.item and dup.new_attribution == "source 'dup'"
    [dup_again] = add_evidence(
        ws, "t", case, [photo], kind="photo", links=link, facts=ItemFacts(source="dup")
    )
    assert dup_again.new_attribution is None

    [item] = build_report(ws, case)["items"]
    assert item["source"] == "orig"
    assert [(a["seq"], a["source"], a["collected_by"]) for a in item["attributions"]] == [
        (1, "dup", None)
    ]
    assert "orig; also: source dup" in _markdown(ws, case, photo.parent)
    assert check_store(ws).ok, check_store(ws).problems


def test_an_edited_attribution_row_is_detected(ws, case):
    from sqlalchemy import text

    add_statement(ws, "t", case, witness="Witness X", text="Words.")
    add_statement(ws, "t", case, witness="Witness Y", text="Words.")
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE item_attributions SET witness='Witness Z'"))
    problems = [str(p) for p in check_store(ws).problems]
    assert any("attribution" in p and "differs" in p for p in problems), problems


# --- claim set / denial set ---------------------------------------------------------------


def test_a_second_claim_set_is_refused_without_replace(ws, case):
    workflow.set_claim(ws, "t", case, text="t", source="x", killed=5, perpetrator="P")
    with pytest.raises(InputError, match="--replace"):
        workflow.set_claim(ws, "t", case, text="t2", source="x")
    claim = workflow.get_case(ws, case).claim
    assert (claim.text, claim.killed, claim.perpetrator) == ("t", 5, "P")


def test_replacing_a_claim_changes_only_what_is_given_and_keeps_the_old_one(ws, case):
    workflow.set_claim(ws, "t", case, text="t", source="x", killed=5, perpetrator="P")
    workflow.set_claim(ws, "t", case, text="t2", replace=True)
    claim = workflow.get_case(ws, case).claim
    assert (claim.text, claim.source, claim.killed, claim.perpetrator) == ("t2", "x", 5, "P")
    update = _events(ws, case)[-1]
    assert update.action == "claim-update" and update.details["changed"] == ["text"]
    assert update.details["previous"]["text"] == "t"
    assert update.details["previous"]["killed"] == 5
    report = build_report(ws, case)
    assert [v["text"] for v in report["claim"]["earlier_versions"]] == ["t"]
    assert check_store(ws).ok, check_store(ws).problems


def test_every_earlier_wording_of_a_denial_is_recoverable(ws, case, tmp_path: Path):
    workflow.set_denial(ws, "t", case, by="Ministry", on=date(1900, 1, 1), text="We deny it.")
    with pytest.raises(InputError, match="--replace"):
        workflow.set_denial(ws, "t", case, by="Ministry", on=date(2021, 1, 1), text="Fake.")
    workflow.set_denial(ws, "t", case, on=date(2021, 1, 1), replace=True)
    workflow.set_denial(ws, "t", case, text="It was a depot.", replace=True)
    denial = workflow.get_case(ws, case).denial
    assert (denial.by, denial.date, denial.text) == (
        "Ministry",
        date(2021, 1, 1),
        "It was a depot.",
    )
    earlier = build_report(ws, case)["denial"]["earlier_versions"]
    assert [(v["date"], v["text"]) for v in earlier] == [
        ("1900-01-01", "We deny it."),
        ("2021-01-01", "We deny it."),
    ]
    assert "We deny it." in _markdown(ws, case, tmp_path)
    assert check_store(ws).ok, check_store(ws).problems


def test_replace_needs_something_to_change_and_a_first_set_needs_the_text(ws, case):
    with pytest.raises(InputError, match="--text"):
        workflow.set_claim(ws, "t", case, source="x")
    with pytest.raises(InputError, match="--by"):
        workflow.set_denial(ws, "t", case, on=date(2021, 1, 1), text="No.")
    workflow.set_claim(ws, "t", case, text="t", source="x")
    with pytest.raises(InputError, match="no option"):
        workflow.set_claim(ws, "t", case, replace=True)
    assert [e.action for e in _events(ws, case)] == ["open", "claim-set"]


# --- commands that write and then add files: every path first ------------------------------


@pytest.fixture
def cc(tmp_path: Path, db_url, capsys: pytest.CaptureFixture[str], monkeypatch):
    """The CLI in-process (as in test_cli_commands.py, fast), on either backend; `cc(...)`
    returns (exit code, stdout, stderr)."""
    run = in_process_cli(tmp_path / "cli", db_url, capsys, monkeypatch)
    assert run("init")[0] == 0
    return run


def _show(cc, code: str) -> dict:
    status, out, err = cc("case", "show", code, "--json")
    assert status == 0, err
    return json.loads(out)


def _one_line_error(result: tuple[int, str, str], words: str) -> None:
    status, _, err = result
    assert status == 1 and err.count("\n") == 1 and words in err, err


def test_a_bad_imagery_path_creates_no_site(cc, tmp_path: Path, photo):
    code = cc("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    site = ["site", "add", code, "market", "--lat", "43.46", "--lon", "11.88", "--imagery"]
    _one_line_error(
        cc(*site, str(photo), "--imagery", str(tmp_path / "typo.jpg")), "file not found"
    )
    _one_line_error(cc(*site, str(tmp_path)), "not a regular file")
    assert _show(cc, code)["sites"] == [] and _show(cc, code)["items"] == 0
    status, _, err = cc(*site, str(photo))
    assert status == 0, err
    assert [s["name"] for s in _show(cc, code)["sites"]] == ["market"]


def test_an_unreadable_footage_file_records_no_denial(cc, tmp_path: Path, photo, monkeypatch):
    code = cc("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(photo.read_bytes())
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads a mode-000 file: make the read fail as it would for others
        import cases.ingest

        def refuse(path: Path) -> str:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(cases.ingest, "sniff_media_type", refuse)
    denial = ["denial", "set", code, "--by", "M", "--date", "2021-01-01", "--text", "No."]
    _one_line_error(cc(*denial, "--footage", str(locked)), "permission denied")
    assert _show(cc, code)["denial"] is None


def test_a_missing_footage_file_records_no_denial(cc, photo):
    code = cc("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    denial = ["denial", "set", code, "--by", "M", "--date", "2021-01-01", "--text", "No."]
    bad = cc(*denial, "--footage", str(photo), "--footage", "missing.mp4")
    _one_line_error(bad, "file not found: missing.mp4")
    assert _show(cc, code)["denial"] is None and _show(cc, code)["items"] == 0
    assert cc(*denial, "--footage", str(photo))[0] == 0
    _one_line_error(cc(*denial), "--replace")
    status, _, err = cc("denial", "set", code, "--text", "Never.", "--replace")
    assert status == 0, err
    assert _show(cc, code)["denial"] == {
        "by": "M",
        "date": "2021-01-01",
        "text": "Never.",
        "url": None,
    }
    log = json.loads(cc("log", code, "--json")[1])["events"]
    assert log[-1]["action"] == "denial-update"
    assert log[-1]["details"]["previous"]["text"] == "No."
    assert cc("fsck")[0] == 0


def test_claim_set_twice_on_the_command_line(cc):
    code = cc("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    first = ["claim", "set", code, "--text", "t", "--source", "x", "--killed", "5"]
    assert cc(*first, "--perpetrator", "P")[0] == 0
    _one_line_error(cc("claim", "set", code, "--text", "t2", "--source", "x"), "--replace")
    assert cc("claim", "set", code, "--text", "t2", "--replace")[0] == 0
    claim = _show(cc, code)["claim"]
    assert (claim["text"], claim["killed"], claim["perpetrator"]) == ("t2", 5, "P")


def test_evidence_show_lists_further_attributions(cc, photo):
    code = cc("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    add = ["evidence", "add", code, str(photo), "--kind", "photo", "--source"]
    assert cc(*add, "orig")[0] == 0
    status, _, err = cc(*add, "second channel")
    assert status == 0 and "further attribution (source 'second channel')" in err, err
    item = json.loads(cc("evidence", "show", "E-000001", "--json")[1])
    assert item["source"] == "orig"
    assert [a["source"] for a in item["attributions"]] == ["second channel"]
    assert "also attributed (1): source: second channel" in cc("evidence", "show", "E-000001")[1]
