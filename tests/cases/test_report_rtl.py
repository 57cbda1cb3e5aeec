"""Right-to-left names (Arabic file, site and witness names) inside the report's English
sentences: the HTML isolates each right-to-left run so that the numbers and punctuation the
sentence puts after a name stay there, and lays the tool's sentences out left to right."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from cases import workflow
from cases.demo.exifwrite import CameraTags, write_jpeg
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.report.html import isolate_rtl, render_html
from cases.report.markdown import escape_markdown, render_markdown
from cases.report.present import derived_reader
from cases.verification import run_verify
from evidence_store.db import init_workspace

SITE = "السوق الشعبي"
PHOTO = "صورة من الموقع.jpg"


def test_isolate_keeps_numbers_and_quotes_outside_the_name() -> None:
    text = f"inliers 'Piazza' 53, '{SITE}' 15"
    assert str(isolate_rtl(text)) == f"inliers &#39;Piazza&#39; 53, &#39;<bdi>{SITE}</bdi>&#39; 15"


def test_isolate_takes_a_whole_name_but_not_its_extension() -> None:
    assert str(isolate_rtl(f"{PHOTO}: no site")) == "<bdi>صورة من الموقع</bdi>.jpg: no site"
    # Two names separated by the sentence's own punctuation are two runs.
    assert str(isolate_rtl("'أ' 1, 'ب' 2")).count("<bdi>") == 2


def test_isolate_escapes_everything_else() -> None:
    out = str(isolate_rtl("<b>x</b> سوق <i>"))
    assert "<b>" not in out and "<i>" not in out and "<bdi>سوق</bdi>" in out
    assert str(isolate_rtl("plain text")) == "plain text"
    assert str(isolate_rtl(None)) == ""


@pytest.fixture(scope="module")
def arabic_case(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("rtl")
    w = init_workspace(root / "ws")
    actor = "محقق"
    case = workflow.open_case(w, actor, title="غارة", incident_date=date(2019, 7, 22)).code
    workflow.add_site(w, actor, case, name=SITE, lat=35.6436, lon=36.6757, claimed=True)
    rng = np.random.default_rng(5)
    texture = (rng.random((240, 320, 3)) * 255).astype("uint8")
    ref = write_jpeg(root / "reference.jpg", texture, quality=95)
    photo = write_jpeg(
        root / PHOTO,
        texture,
        quality=80,
        tags=CameraTags("make", "model", datetime(2019, 7, 22, 7, tzinfo=UTC), 35.6436, 36.6757),
    )
    add_evidence(w, actor, case, [ref], kind="photo", links=[LinkSpec("site_reference", SITE)])
    add_evidence(w, actor, case, [photo], kind="photo", links=[LinkSpec("supports_claim")])
    run_verify(w, actor, case)
    return w, build_report(w, case)


def test_finding_details_are_left_to_right_with_names_isolated(arabic_case) -> None:
    w, report = arabic_case
    html = render_html(report, derived_reader(w))
    details = re.findall(r'<p class="detail"([^>]*)>(.*?)</p>', html, re.S)
    assert details
    # dir="auto" would lay a detail that starts with the Arabic file name out right to left.
    assert all(attrs == ' dir="ltr"' for attrs, _ in details)
    starting_with_name = [body for _, body in details if body.startswith("<bdi>صورة من الموقع")]
    assert starting_with_name, [body[:60] for _, body in details]
    # The site's score follows the isolated name, outside it.
    scored = [body for _, body in details if re.search(f"<bdi>{SITE}</bdi>&#39; \\d+", body)]
    assert scored
    # No right-to-left letter of a detail is left outside an isolate.
    for _, body in details:
        outside = re.sub(r"<bdi>.*?</bdi>", "", body)
        assert not re.search("[\u0600-\u06ff]", outside), body


def test_header_names_are_isolated_so_coordinates_keep_their_order(arabic_case) -> None:
    # "أريتسو (43.4675, 11.8852)" without isolation is drawn "(11.8852 ,43.4675) أريتسو":
    # latitude and longitude swap places on the page.
    w, report = arabic_case
    report["case"] |= {"place": "أريتسو", "lat": 43.4675, "lon": 11.8852}
    html = render_html(report, derived_reader(w))
    assert "<bdi>أريتسو</bdi> (43.4675, 11.8852)" in html
    assert "by <bdi>محقق</bdi>, finished" in html


def test_markdown_isolates_right_to_left_runs(arabic_case, tmp_path) -> None:
    w, report = arabic_case
    md = render_markdown(report, derived_reader(w), tmp_path / "files", "files")
    fsi, pdi = "\u2068", "\u2069"
    # The site's score follows the isolated name, outside it.
    assert re.search(f"{fsi}{SITE}{pdi}' \\d+", md), md[:2000]
    # No right-to-left letter is left outside an isolate.
    outside = re.sub(f"{fsi}[^{pdi}]*{pdi}", "", md)
    assert not re.search("[\u0600-\u06ff]", outside)
    assert escape_markdown("plain text, 3 sites") == "plain text, 3 sites"


SPOOF = "photo\u202egpj.exe"


def test_reordering_controls_are_shown_not_obeyed(arabic_case, tmp_path) -> None:
    """A name carrying a right-to-left override ("photo<RLO>gpj.exe" displays as
    "photoexe.jpg") is shown as it is in every rendering; marks common in typed Arabic stay."""
    w, report = arabic_case
    report["case"] |= {"place": f"{SPOOF} \u2067x\u2069 \u200f"}
    html = render_html(report, derived_reader(w))
    md = render_markdown(report, derived_reader(w), tmp_path / "files", "files")
    # Markdown escapes the brackets and plus sign, which it renders as the same text.
    shown = {html: "photo[U+202E]gpj.exe", md: r"photo\[U\+202E\]gpj.exe"}
    for text, name in shown.items():
        assert name in text
        assert re.search(r"U\\?\+2067\\?\]x\\?\[U\\?\+2069", text)
        assert "\u200f" in text
        assert not re.search("[\u202a-\u202e\u2066\u2067]", text)
    assert str(isolate_rtl(SPOOF)) == "photo[U+202E]gpj.exe"
    assert escape_markdown(SPOOF) == r"photo\[U\+202E\]gpj.exe"


def test_map_labels_show_reordering_controls() -> None:
    from cases.report.mapsvg import _text

    assert "photo[U+202E]gpj.exe" in _text(0, 0, SPOOF, "label")
