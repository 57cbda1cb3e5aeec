"""The demo case end to end: the denial footage must come out as a mismatch naming al Hal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_denial_video_is_a_mismatch_naming_the_other_market(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, "-m", "cases.cli", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cases.cli",
            "--home",
            str(tmp_path / "workspace"),
            "findings",
            "C-0001",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    findings = json.loads(out.stdout)["findings"]
    items = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cases.cli",
                "--home",
                str(tmp_path / "workspace"),
                "evidence",
                "list",
                "C-0001",
                "--json",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    )["items"]
    by_name = {i["filename"]: i["id"] for i in items}
    video = next(
        f
        for f in findings
        if f["check"] == "site_match" and f["items"] == [by_name["denial_video.mp4"]]
    )
    assert video["check"] == "site_match"
    assert video["verdict"] == "mismatch"
    assert video["values"]["matched_site"] == "al Hal market"
    assert video["values"]["claimed_site"] == "popular market"
    assert video["values"]["scores"]["al Hal market"] > video["values"]["scores"]["popular market"]
    claims = [
        f
        for f in findings
        if f["check"] == "site_match"
        and f["items"][0] in {by_name[n] for n in by_name if n.startswith("claim_photo")}
    ]
    assert claims and all(f["verdict"] == "consistent" for f in claims)


def test_demo_gps_still_places_it_at_the_other_market(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, "-m", "cases.cli", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    gps = [ln for ln in r.stdout.splitlines() if "gps_place" in ln and "denial_still_gps" in ln]
    assert gps and "mismatch" in gps[0] and "al Hal market" in gps[0]
