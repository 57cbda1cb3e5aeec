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
        assert code[last].startswith("reference_alhal_market")
    direct = site_match["denial_walkthrough_1.jpg"]["values"]
    assert direct["direct"] is True and direct["via"] == []
