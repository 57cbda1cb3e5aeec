"""Correcting a site or a role link recorded by mistake (site list/show/edit/remove, evidence
unlink): only what is asked changes, the custody log keeps every earlier record, items and
originals stay, fsck still holds every row to its log, and the correction counts as "changed
after the latest verify run" until verify runs again."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete

from cases import corrections, workflow
from cases.errors import InputError, UnknownSiteError
from cases.freshness import case_sides_and_changes, changes_since_run
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from cases.verification import latest_run, run_verify
from evidence_store.custody import append_event, case_events
from evidence_store.db import init_workspace
from evidence_store.fsck import check_store
from evidence_store.models import ItemLink, Site
from tests.cases.cli_helpers import in_process_cli
from tests.cases.test_freshness import EveryItemCheck, _photo


@pytest.fixture
def ws(tmp_path: Path, db_url):
    w = init_workspace(tmp_path / "ws", db_url)
    yield w
    w.dispose()


@pytest.fixture
def case(ws, tmp_path: Path) -> str:
    """Two sites with one reference photo each (E-000001 market, E-000002 depot) and one
    claim photo (E-000003)."""
    code = workflow.open_case(ws, "t", title="Strike", incident_date=date(2020, 1, 1)).code
    workflow.add_site(ws, "t", code, name="market", lat=35.1, lon=36.1, claimed=True)
    workflow.add_site(ws, "t", code, name="depot", lat=35.2, lon=36.2, radius_m=200)
    for seed, link in (
        (1, LinkSpec("site_reference", "market")),
        (2, LinkSpec("site_reference", "depot")),
        (3, LinkSpec("supports_claim")),
    ):
        add_evidence(
            ws, "t", code, [_photo(tmp_path / f"p{seed}.jpg", seed)], kind="photo", links=[link]
        )
    return code


def _events(ws, code: str) -> list:
    with ws.reading() as s:
        return case_events(s, workflow.load_case(s, code))


def _links(ws, code: str) -> dict[str, list[tuple[str, str | None]]]:
    return {
        i.code: sorted((lk.role, lk.site.name if lk.site else None) for lk in i.links)
        for i in workflow.get_case(ws, code).items
    }


def _assert_consistent(ws) -> None:
    report = check_store(ws)
    assert report.ok, [str(p) for p in report.problems]


# --- site edit -----------------------------------------------------------------------------


def test_edit_changes_only_the_given_fields_and_logs_the_previous_record(ws, case):
    out = corrections.edit_site(ws, "t", case, "depot", lat=35.25, radius_m=300)
    assert out.changed == ("lat", "radius_m") and out.name == "depot"
    depot = workflow.find_site(workflow.get_case(ws, case), "depot")
    assert (depot.lat, depot.lon, depot.radius_m, depot.claimed) == (35.25, 36.2, 300, False)
    event = _events(ws, case)[-1]
    assert event.action == "site-update" and event.record_id == f"{case}/depot"
    assert event.details["previous"]["lat"] == "35.200000000"
    assert event.details["previous"]["radius_m"] == "200.000000000"
    assert event.details["changed"] == ["lat", "radius_m"]
    _assert_consistent(ws)


def test_edit_refuses_a_no_op_a_taken_name_and_a_second_claimed_site(ws, case):
    before = len(_events(ws, case))
    with pytest.raises(InputError, match="nothing to change"):
        corrections.edit_site(ws, "t", case, "depot")
    with pytest.raises(InputError, match="nothing to change"):
        corrections.edit_site(ws, "t", case, "depot", lat=35.2, radius_m=200, claimed=False)
    with pytest.raises(InputError, match="already has a site named 'market'"):
        corrections.edit_site(ws, "t", case, "depot", rename="market")
    with pytest.raises(InputError, match="'Market' would look like"):
        corrections.edit_site(ws, "t", case, "depot", rename="Market ")
    with pytest.raises(InputError, match="already has a claimed site"):
        corrections.edit_site(ws, "t", case, "depot", claimed=True)
    with pytest.raises(InputError, match="latitude"):
        corrections.edit_site(ws, "t", case, "depot", lat=91)
    with pytest.raises(UnknownSiteError, match="no site 'dpot'"):
        corrections.edit_site(ws, "t", case, "dpot", lat=35.0)
    assert len(_events(ws, case)) == before
    # The claimed site moves in two steps, as the one-claimed-site rule requires.
    corrections.edit_site(ws, "t", case, "market", claimed=False)
    corrections.edit_site(ws, "t", case, "depot", claimed=True)
    sites = {s.name: s.claimed for s in workflow.get_case(ws, case).sites}
    assert sites == {"market": False, "depot": True}
    _assert_consistent(ws)


def test_rename_carries_the_reference_imagery_and_keeps_fsck_clean(ws, case):
    out = corrections.edit_site(ws, "t", case, "depot", rename="fuel depot")
    assert (out.previous_name, out.name, out.changed) == ("depot", "fuel depot", ("name",))
    assert _links(ws, case)["E-000002"] == [("site_reference", "fuel depot")]
    event = _events(ws, case)[-1]
    assert event.details["renamed_from"] == "depot"
    assert event.details["previous"]["name"] == "depot"
    # The old site and link rows are logged as gone, the renamed link with its new hash.
    also = {(e["type"], e["id"]): e["hash"] for e in event.details["also_logged"]}
    assert also[("site", f"{case}/depot")] is None
    assert also[("link", "E-000002/site_reference/depot")] is None
    assert also[("link", "E-000002/site_reference/fuel depot")] is not None
    _assert_consistent(ws)
    # The old name is free again.
    workflow.add_site(ws, "t", case, name="depot", lat=1.0, lon=1.0)
    _assert_consistent(ws)
    # A site may fix its own spelling (only other sites' look-alikes are refused).
    corrections.edit_site(ws, "t", case, "fuel depot", rename="Fuel Depot")


# --- site remove ---------------------------------------------------------------------------


def test_remove_keeps_the_items_and_logs_the_removed_site_and_links(ws, case):
    out = corrections.remove_site(ws, "t", case, "depot")
    assert out.reference_items == ("E-000002",) and out.roleless_items == ("E-000002",)
    c = workflow.get_case(ws, case)
    assert [s.name for s in c.sites] == ["market"]
    assert [i.code for i in c.items] == ["E-000001", "E-000002", "E-000003"]
    assert ws.blobs.path(c.items[1].sha256).is_file()
    assert _links(ws, case)["E-000002"] == []
    event = _events(ws, case)[-1]
    assert event.action == "site-remove" and event.record_hash is None
    assert event.details["removed"]["name"] == "depot"
    assert event.details["removed"]["radius_m"] == "200.000000000"
    assert [lk["item"] for lk in event.details["links"]] == ["E-000002"]
    _assert_consistent(ws)
    # A site of the same name can be registered again, and the item linked to it again.
    workflow.add_site(ws, "t", case, name="depot", lat=35.3, lon=36.3)
    c = workflow.get_case(ws, case)
    ref = c.items[1]
    assert add_evidence(
        ws,
        "t",
        case,
        [ws.blobs.path(ref.sha256)],
        kind="photo",
        links=[LinkSpec("site_reference", "depot")],
    )[0].new_links == ("site_reference of site 'depot'",)
    _assert_consistent(ws)


def test_remove_is_refused_while_another_role_names_the_site(ws, case):
    # Older workspaces allowed --site with other roles: removing the site would silently take
    # the claim role from E-000003.
    def legacy_link(session) -> None:
        c = workflow.load_case(session, case)
        market = workflow.find_site(c, "market")
        link = ItemLink(item=c.items[2], role="supports_claim", site=market)
        session.add(link)
        session.flush()
        append_event(session, c, "link", "t", record=link)

    ws.run_write(legacy_link)
    with pytest.raises(InputError, match="E-000003 is linked to site 'market' as supports_claim"):
        corrections.remove_site(ws, "t", case, "market")
    corrections.unlink_item(ws, "t", case, "E-000003", "supports_claim", "market")
    corrections.remove_site(ws, "t", case, "market")
    assert _links(ws, case)["E-000003"] == [("supports_claim", None)]
    _assert_consistent(ws)


def test_a_removed_site_put_back_directly_is_detected(ws, case):
    corrections.remove_site(ws, "t", case, "depot")

    def put_back(session) -> None:
        c = workflow.load_case(session, case)
        session.add(Site(case=c, name="depot", lat=35.2, lon=36.2, radius_m=200.0))

    ws.run_write(put_back)
    problems = [str(p) for p in check_store(ws).problems]
    assert any("site" in p and "logged as removed" in p for p in problems), problems


# --- evidence unlink -----------------------------------------------------------------------


def test_unlink_removes_one_link_and_the_item_can_be_linked_again(ws, case, tmp_path: Path):
    with pytest.raises(InputError, match="E-000003 has no link as denial_footage"):
        corrections.unlink_item(ws, "t", case, "E-000003", "denial_footage")
    with pytest.raises(InputError, match="its links: site_reference of site 'depot'"):
        corrections.unlink_item(ws, "t", case, "E-000002", "site_reference", "market")
    with pytest.raises(InputError, match="unknown role"):
        corrections.unlink_item(ws, "t", case, "E-000002", "witness")
    out = corrections.unlink_item(ws, "t", case, "e-000003", "supports_claim")
    assert (out.item, out.roles_left) == ("E-000003", ())
    event = _events(ws, case)[-1]
    assert event.action == "link-remove" and event.record_id == "E-000003/supports_claim/"
    assert event.details["removed"]["role"] == "supports_claim"
    assert event.item_sha256 == workflow.get_case(ws, case).items[2].sha256
    _assert_consistent(ws)
    # The same bytes again with the right role name the existing item and add the link.
    [again] = add_evidence(
        ws,
        "t",
        case,
        [_photo(tmp_path / "again.jpg", 3)],
        kind="photo",
        links=[LinkSpec("denial_footage")],
    )
    assert (again.item, again.new_item, again.new_links) == ("E-000003", False, ("denial_footage",))
    assert _links(ws, case)["E-000003"] == [("denial_footage", None)]
    _assert_consistent(ws)


def test_a_deleted_link_without_its_event_is_still_detected(ws, case):
    # Removal events are what make a missing link legitimate: a link deleted directly is not.
    ws.run_write(lambda s: s.execute(delete(ItemLink).where(ItemLink.role == "supports_claim")))
    problems = [str(p) for p in check_store(ws).problems]
    assert any("E-000003/supports_claim" in p and "missing" in p for p in problems), problems


# --- freshness -----------------------------------------------------------------------------


def test_corrections_after_verify_are_not_examined_until_verify_runs_again(ws, case, tmp_path):
    run_verify(ws, "t", case, checks=[EveryItemCheck()])
    assert build_report(ws, case)["verify_run"]["changes_note"] is None
    corrections.edit_site(ws, "t", case, "market", radius_m=80)
    report = build_report(ws, case)
    changes = report["verify_run"]["changes_since"]
    assert changes["sites_changed"] == ["market"]
    assert "site(s) 'market' changed" in report["verify_run"]["changes_note"]
    assert "Run verify again" in report["verify_run"]["changes_note"]
    corrections.edit_site(ws, "t", case, "market", rename="old market")
    corrections.remove_site(ws, "t", case, "depot")
    corrections.unlink_item(ws, "t", case, "E-000003", "supports_claim")
    changes = build_report(ws, case)["verify_run"]["changes_since"]
    assert changes["sites_changed"] == ["old market"]
    assert changes["sites_removed"] == ["depot"]
    assert changes["roles_removed"] == [
        {"item": "E-000002", "role": "site_reference", "site": "depot"},
        {"item": "E-000003", "role": "supports_claim", "site": None},
    ]
    # `findings` reads only the correction events: the same as from the whole log.
    with ws.reading() as session:
        c = workflow.load_case(session, case)
        whole_log = changes_since_run(c, latest_run(session, c), case_events(session, c))
    assert whole_log is not None and whole_log.sites_removed == ("depot",)
    assert case_sides_and_changes(ws, case)[1] == whole_log
    md = render_markdown(build_report(ws, case), derived_reader(ws), tmp_path / "md", "md")
    assert "Not examined:" in md and r"site\(s\) 'depot' removed" in md  # Markdown-escaped
    # The old findings stay as they were; a new run examines the case as it is now.
    assert len(build_report(ws, case)["findings"]["groups"][0]["findings"]) == 3
    run_verify(ws, "t", case, checks=[EveryItemCheck()])
    assert build_report(ws, case)["verify_run"]["changes_note"] is None


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def cc(tmp_path: Path, db_url, capsys: pytest.CaptureFixture[str], monkeypatch):
    run = in_process_cli(tmp_path / "cli", db_url, capsys, monkeypatch)
    assert run("init")[0] == 0
    return run


def _ok(result: tuple[int, str, str]) -> tuple[str, str]:
    status, out, err = result
    assert status == 0, err
    return out, err


def _one_line_error(result: tuple[int, str, str], words: str) -> None:
    status, _, err = result
    assert status == 1 and err.count("\n") == 1 and words in err, err


def test_cli_site_list_show_edit_remove_and_unlink(cc, tmp_path: Path):
    code = _ok(cc("case", "open", "Strike", "--date", "2020-01-01"))[0].strip()
    ref, other = _photo(tmp_path / "ref.jpg", 1), _photo(tmp_path / "claim.jpg", 2)
    site = ["site", "add", code]
    _ok(cc(*site, "market", "--lat", "35.1", "--lon", "36.1", "--claimed", "--imagery", str(ref)))
    _ok(cc(*site, "depot", "--lat", "35.2", "--lon", "36.2", "--radius", "200"))
    _ok(cc("evidence", "add", code, str(other), "--kind", "photo", "--role", "supports_claim"))

    listed = json.loads(_ok(cc("site", "list", code, "--json"))[0])
    assert [(s["name"], s["claimed"], s["radius_m"]) for s in listed["sites"]] == [
        ("market", True, 150.0),
        ("depot", False, 200.0),
    ]
    assert listed["sites"][0]["reference_items"] == [{"id": "E-000001", "filename": "ref.jpg"}]
    text = _ok(cc("site", "list", code))[0]
    assert "market  35.100000, 36.100000  radius 150 m  claimed site" in text
    assert "E-000001 (ref.jpg)" in text
    shown = json.loads(_ok(cc("site", "show", code, "depot", "--json"))[0])
    assert (shown["case"], shown["lat"], shown["reference_items"]) == (code, 35.2, [])
    _one_line_error(cc("site", "show", code, "dpot"), "no site 'dpot'")

    _one_line_error(cc("site", "edit", code, "depot"), "nothing to change")
    _one_line_error(cc("site", "edit", code, "depot", "--radius", "200"), "nothing to change")
    _one_line_error(cc("site", "edit", code, "depot", "--rename", "market"), "already has a site")
    _one_line_error(cc("site", "edit", code, "depot", "--claimed"), "already has a claimed site")
    _one_line_error(cc("site", "edit", code, "depot", "--radius", "-5"), "bad radius")
    _, err = _ok(cc("site", "edit", code, "market", "--not-claimed", "--rename", "old market"))
    assert "site 'market' (now 'old market')" in err and "custody log" in err
    _, err = _ok(cc("site", "edit", code, "depot", "--claimed", "--lon", "36.25"))
    sites = json.loads(_ok(cc("case", "show", code, "--json"))[0])["sites"]
    assert [(s["name"], s["lon"], s["claimed"]) for s in sites] == [
        ("old market", 36.1, False),
        ("depot", 36.25, True),
    ]

    _one_line_error(
        cc("evidence", "unlink", code, "E-000002", "--role", "denial_footage"),
        "E-000002 has no link as denial_footage",
    )
    _one_line_error(
        cc("evidence", "unlink", code, "E-000009", "--role", "other"), "has no evidence item"
    )
    _one_line_error(cc("evidence", "unlink", code, "E-000002", "--role", "x"), "unknown role")
    _, err = _ok(cc("evidence", "unlink", code, "E-000002", "--role", "supports_claim"))
    assert "the item and its original are kept" in err and "counted as other" in err
    _, err = _ok(
        cc("evidence", "add", code, str(other), "--kind", "photo", "--role", "denial_footage")
    )
    assert "already E-000002: linked as denial_footage" in err

    _, err = _ok(cc("site", "remove", code, "old market"))
    assert "removed site 'old market'" in err
    assert "E-000001: no longer reference imagery" in err and "originals are kept" in err
    _one_line_error(cc("site", "remove", code, "old market"), "no site 'old market'")
    items = json.loads(_ok(cc("evidence", "list", code, "--json"))[0])["items"]
    assert [(i["id"], i["roles"]) for i in items] == [
        ("E-000001", []),
        ("E-000002", ["denial_footage"]),
    ]
    # After a verify run, a correction is reported as not examined by `findings`.
    _ok(cc("verify", code))
    assert _ok(cc("findings", code))[1] == ""
    _ok(cc("site", "edit", code, "depot", "--radius", "250"))
    out, err = _ok(cc("findings", code))
    assert "site(s) 'depot' changed" in err and "Run verify again" in err and out
    found = json.loads(_ok(cc("findings", code, "--json"))[0])
    assert found["changes_since_run"]["sites_changed"] == ["depot"]
    events = json.loads(_ok(cc("log", code, "--json"))[0])["events"]
    assert [e["action"] for e in events if e["action"] in corrections.CORRECTIONS] == [
        "site-update",
        "site-update",
        "link-remove",
        "site-remove",
        "site-update",
    ]
    removal = next(e for e in events if e["action"] == "site-remove")
    assert removal["details"]["removed"]["name"] == "old market"
    assert _ok(cc("fsck"))[1].startswith("store consistent")


def test_site_show_gives_earlier_versions_through_renames(cc):
    """Findings made before a correction measured the old values: `site show` gives each
    correction with the values it replaced, following renames back to the registration; a
    site removed and registered again under the same name starts a history of its own."""
    code = _ok(cc("case", "open", "Strike", "--date", "2020-01-01"))[0].strip()
    _ok(cc("site", "add", code, "market", "--lat", "35.1", "--lon", "36.1", "--claimed"))
    _ok(cc("site", "add", code, "depot", "--lat", "35.2", "--lon", "36.2"))
    _ok(cc("site", "edit", code, "market", "--lat", "35.15"))
    _ok(cc("site", "edit", code, "depot", "--radius", "300"))
    _ok(cc("site", "edit", code, "market", "--rename", "old market"))
    _ok(cc("site", "edit", code, "old market", "--radius", "90", "--not-claimed"))

    shown = json.loads(_ok(cc("site", "show", code, "old market", "--json"))[0])
    history = shown["history"]
    assert history["registered"]["actor"] == "tester"
    changes = history["changes"]
    assert [c["changed"] for c in changes] == [["lat"], ["name"], ["claimed", "radius_m"]]
    assert [c["before"]["lat"] for c in changes] == [35.1, 35.15, 35.15]
    assert [c["before"]["name"] for c in changes] == ["market", "market", "old market"]
    assert changes[2]["before"]["claimed"] is True and changes[2]["before"]["radius_m"] == 150.0
    assert [c["seq"] for c in changes] == sorted(c["seq"] for c in changes)
    text = _ok(cc("site", "show", code, "old market"))[0]
    assert "changed lat; before: lat 35.1" in text and "before: name 'market'" in text

    _ok(cc("site", "remove", code, "depot"))
    _ok(cc("site", "add", code, "depot", "--lat", "35.3", "--lon", "36.3"))
    again = json.loads(_ok(cc("site", "show", code, "depot", "--json"))[0])["history"]
    assert again["changes"] == [] and again["registered"]["seq"] > changes[-1]["seq"]
    assert "corrections: none" in _ok(cc("site", "show", code, "depot"))[0]
