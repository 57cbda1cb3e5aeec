"""The demo case end to end: the denial footage must come out as mismatches naming al Hal."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cases.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Build the demo once for the module: its stdout and its workspace."""
    root = tmp_path_factory.mktemp("demo")
    r = cc("demo", "--dir", str(root))
    assert r.returncode == 0, r.stderr
    return r.stdout, root / "workspace"


def test_demo_denial_video_is_a_mismatch_naming_the_other_market(demo):
    _, home = demo
    findings = json.loads(cc("--home", str(home), "findings", "C-0001", "--json").stdout)[
        "findings"
    ]
    items = json.loads(cc("--home", str(home), "evidence", "list", "C-0001", "--json").stdout)[
        "items"
    ]
    by_name = {i["filename"]: i["id"] for i in items}
    site_match = [f for f in findings if f["check"] == "site_match"]
    video = next(f for f in site_match if f["items"] == [by_name["denial_video.mp4"]])
    assert video["verdict"] == "mismatch"
    assert video["values"]["matched_site"] == "al Hal market"
    assert video["values"]["claimed_site"] == "popular market"
    scores = video["values"]["scores"]
    assert scores["al Hal market"] > scores["popular market"]
    claim_ids = {by_name[n] for n in by_name if n.startswith("claim_photo")}
    claims = [f for f in site_match if f["items"][0] in claim_ids]
    assert claims and all(f["verdict"] == "consistent" for f in claims)


def test_demo_gps_still_places_it_at_the_other_market(demo):
    stdout, _ = demo
    gps = [ln for ln in stdout.splitlines() if "gps_place" in ln and "denial_still_gps" in ln]
    assert gps and "mismatch" in gps[0] and "al Hal market" in gps[0]


def test_demo_denial_still_captured_before_the_strike_is_a_time_mismatch(demo):
    _, home = demo
    findings = json.loads(cc("--home", str(home), "findings", "C-0001", "--json").stdout)[
        "findings"
    ]
    items = json.loads(cc("--home", str(home), "evidence", "list", "C-0001", "--json").stdout)[
        "items"
    ]
    name = {i["id"]: i["filename"] for i in items}
    times = {name[f["items"][0]]: f for f in findings if f["check"] == "capture_time"}
    early = times["denial_still_before_strike.jpg"]
    assert early["verdict"] == "mismatch" and "before the incident" in early["detail"]
    assert early["values"]["capture"]["utc"] == "2019-07-20T13:30:00+00:00"
    assert early["values"]["before_incident"] == "yes"
    assert times["denial_still_gps.jpg"]["verdict"] == "consistent"
    recycled = times["denial_still_recycled.jpg"]
    assert recycled["verdict"] == "inconclusive" and "No capture time" in recycled["detail"]
    traces = [f for f in findings if f["check"] == "provenance"]
    stripped = [f for f in traces if name[f["items"][0]] == "denial_still_recycled.jpg"]
    assert [f["values"]["trace"] for f in stripped] == ["stripped_metadata"]
    # Stripped EXIF is how a shared photo arrives: a trace, not a contradiction (audit 11).
    assert stripped[0]["verdict"] == "inconclusive"
    assert "never proof of manipulation" in stripped[0]["detail"]


def test_demo_recycled_still_is_a_copy_of_the_older_item(demo):
    _, home = demo
    findings = json.loads(cc("--home", str(home), "findings", "C-0001", "--json").stdout)[
        "findings"
    ]
    older = json.loads(cc("--home", str(home), "evidence", "list", "C-0002", "--json").stdout)[
        "items"
    ]
    assert [i["filename"] for i in older] == ["older_alhal_market_2017.jpg"]
    recycled = [f for f in findings if f["check"] == "recycled_footage"]
    mismatches = [f for f in recycled if f["verdict"] == "mismatch"]
    assert len(mismatches) == 1
    found = mismatches[0]
    assert "denial_still_recycled.jpg" in found["detail"]
    assert found["items"][1] == older[0]["id"]
    copy = found["values"]["copies"][0]
    assert copy["case"] == "C-0002" and copy["date"].startswith("2017-05-09")
    assert "before the incident" in found["detail"]
    # Every other claim or denial item: no earlier copy, which is inconclusive, not consistent.
    assert all(f["verdict"] == "inconclusive" for f in recycled if f is not found)


def test_demo_walkthrough_beyond_references_is_placed_through_linked_footage(demo):
    _, home = demo
    findings = json.loads(cc("--home", str(home), "findings", "C-0001", "--json").stdout)[
        "findings"
    ]
    items = json.loads(cc("--home", str(home), "evidence", "list", "C-0001", "--json").stdout)[
        "items"
    ]
    code = {i["id"]: i["filename"] for i in items}
    site_match = {code[f["items"][0]]: f for f in findings if f["check"] == "site_match"}
    beyond = [
        n for n in site_match if n in ("denial_walkthrough_3.jpg", "denial_walkthrough_4.jpg")
    ]
    assert len(beyond) == 2
    for name in beyond:
        values = site_match[name]["values"]
        # Too little in common with any reference to decide directly ...
        assert values["scores"]["al Hal market"] < 35
        # ... but a chain of footage links ends at an al Hal reference image.
        assert site_match[name]["verdict"] == "mismatch"
        assert values["matched_site"] == "al Hal market" and values["direct"] is False
        via = values["via"]
        assert via[0]["from"] in {i for i, n in code.items() if n == name}
        assert all(hop["inliers"] >= 35 for hop in via)
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(via))
        last = via[-1]["to"].split("@")[0]
        # One match picture per hop, each a file the reader can open.
        pictures = site_match[name]["artefacts"]
        assert len(pictures) >= len(via) and all(Path(p).is_file() for p in pictures)
        assert code[last].startswith("reference_alhal_market")
    direct = site_match["denial_walkthrough_1.jpg"]["values"]
    assert direct["direct"] is True and direct["via"] == []
