"""Findings of any check render without template changes: values, pictures, `via` chains.

A check defined here (as another engineer's new check would be) stores findings with nested
values, a footage-graph style `via` chain and per-hop pictures; every format must show them.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from PIL import Image

from cases import workflow
from cases.checks.base import CheckContext, FindingDraft
from cases.report.data import build_report
from cases.report.html import render_html
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader, hop_text
from cases.verification import run_verify
from evidence_store.db import init_workspace
from verify.verdict import Verdict

HOPS = [
    {"from": "E-000002 frame 40", "to": "E-000003", "inliers": 212},
    {"from": "E-000003", "to": "E-000001", "inliers": 388, "site": "popular market"},
]


def _jpeg(seed: int) -> bytes:
    rgb = (np.random.default_rng(seed).random((40, 60, 3)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG")
    return out.getvalue()


class ChainCheck:
    """Stands in for a check added later: site decided through other footage."""

    name = "footage_chain"
    title = "Footage linked to footage"

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        pictures = [
            ctx.ws.derived.relative(
                ctx.ws.derived.write("matches", "ab" * 32, f"hop-{i}.jpg", _jpeg(i))
            )
            for i in range(len(HOPS))
        ]
        return [
            FindingDraft(
                "site_match",
                Verdict.MISMATCH,
                ("E-000002",),
                {"matched_site": "al Hal market", "direct": False, "via": HOPS},
                "decided through E-000003",
                tuple(pictures),
            ),
            FindingDraft(
                self.name,
                Verdict.INCONCLUSIVE,
                ("E-000002", "E-000003"),
                {"groups": [{"members": ["E-000002", "E-000003"], "sites": []}], "score": 0.25},
                "no site decided for the group",
                ("matches/ab/missing/never-written.jpg",),
            ),
        ]


@pytest.fixture(scope="module")
def chain_report(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("chain")
    w = init_workspace(root / "ws")
    case = workflow.open_case(w, "t", title="chain", incident_date=date(2019, 7, 22)).code
    run_verify(w, "t", case, checks=[ChainCheck()])
    return w, build_report(w, case)


def test_via_chain_and_pictures_are_in_the_data(chain_report):
    _, report = chain_report
    groups = {g["check"]: g for g in report["findings"]["groups"]}
    assert list(groups) == ["site_match", "footage_chain"]  # mismatches first
    assert groups["footage_chain"]["title"] == "footage_chain"  # not registered: its name
    (chained,) = groups["site_match"]["findings"]
    assert chained["via"] == HOPS
    assert [a["available"] for a in chained["artefacts"]] == [True, True]
    (missing,) = groups["footage_chain"]["findings"][0]["artefacts"]
    assert missing["available"] is False


def test_html_shows_hops_values_and_every_picture(chain_report):
    w, report = chain_report
    html = render_html(report, derived_reader(w))
    for hop in HOPS:
        assert hop_text(hop) in html
    assert "E-000002 frame 40 → E-000003 (212 inliers)" in html
    assert html.count('src="data:image/jpeg;base64,') == 2
    assert "picture not available" in html and "never-written.jpg" in html
    assert "members" in html and "0.25" in html


def test_markdown_shows_hops_and_writes_every_picture(chain_report, tmp_path: Path):
    w, report = chain_report
    files = tmp_path / "r_files"
    md = render_markdown(report, derived_reader(w), files, files.name)
    text = MarkdownIt("commonmark").render(md)
    assert "<ol>" in text and "E-000002 frame 40 → E-000003 (212 inliers)" in text
    links = re.findall(r"!\[[^\]]*\]\(<([^>]+)>\)", md)
    assert sum(1 for ln in links if ln.endswith(".jpg")) == 2
    for link in links:
        assert (tmp_path / link).is_file()
    assert "picture not available" in text


def test_a_new_empty_case_renders_in_every_format(tmp_path: Path):
    w = init_workspace(tmp_path / "ws")
    case = workflow.open_case(w, "t", title="empty", incident_date=date(2019, 7, 22)).code
    report = build_report(w, case)
    assert report["verify_run"] is None and report["findings"]["total"] == 0
    assert report["claim"] is None and report["map"]["positions"] == []
    html = render_html(report, derived_reader(w))
    assert "No claim recorded" in html and "nothing to draw" in html
    assert f"claimcheck verify {case}" in html
    md = render_markdown(report, derived_reader(w), tmp_path / "f", "f")
    assert "No denial recorded" in md and "No witness statements recorded" in md
    assert not (tmp_path / "f").exists()  # no map and no pictures: nothing written beside it
