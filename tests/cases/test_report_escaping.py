"""Reports escape every untrusted string: hostile statements, file names, site names, claims.

A case is built whose every text field carries markup; the HTML must show it as text (no
element or attribute it tried to inject), the Markdown must render to the same text under a
CommonMark renderer, and the SVG map must stay well-formed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cases import workflow
from cases.demo.exifwrite import CameraTags, write_jpeg
from cases.ingest import ItemFacts, LinkSpec, add_evidence, add_statement
from cases.report.bidi import show_controls
from cases.report.data import build_report
from cases.report.html import render_html
from cases.report.mapsvg import render_map_svg
from cases.report.markdown import escape_markdown, quote_block, render_markdown
from cases.report.output import report_json
from cases.report.present import derived_reader
from cases.verification import run_verify
from evidence_store.db import init_workspace

SCRIPT = "<script>alert(1)</script>"
IMG_NAME = "<img src=x onerror=alert(7)>.jpg"
MD_NAME = "*[md](javascript:alert(1))*|_x_ `code` # h.jpg"
SITE = "<img src=x onerror=alert(2)>|market"
TITLE = 'Strike </style><script>alert("t")</script> *bold* [x](javascript:alert(1))'
CLAIM = "Claim </style><style>body{display:none}</style> | # not a heading"
STATEMENT = f"{SCRIPT}\n> not a quote\n| a | b |\n![img](http://evil.example/x.png)\n- item"
HOSTILE = [SCRIPT, IMG_NAME, MD_NAME, SITE, TITLE, CLAIM, "<svg onload=alert(5)>"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _flat(text: str) -> str:
    return " ".join(text.split())


def _assert_inert(page: _Page, *, allowed_img_prefix: str) -> None:
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "iframe" not in tags and "object" not in tags
    assert tags.count("style") <= 2  # the page's and the map's own
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert (value or "").startswith("#"), value
        if tag == "img":
            assert (attrs.get("src") or "").startswith(allowed_img_prefix), attrs


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    w = init_workspace(root / "ws")
    actor = "<b>actor</b>"
    case = workflow.open_case(
        w, actor, title=TITLE, incident_date=date(2019, 7, 22), place_name="<b>place</b>"
    ).code
    workflow.add_site(w, actor, case, name=SITE, lat=35.6436, lon=36.6757, claimed=True)
    workflow.set_claim(
        w,
        actor,
        case,
        text=CLAIM,
        source='<a href="http://evil.example">src</a>',
        url="javascript:x",
    )
    workflow.set_denial(
        w, actor, case, by="Ministry <svg onload=alert(5)>", on=date(2019, 7, 23), text="D\n# h"
    )
    rng = np.random.default_rng(3)
    texture = (rng.random((240, 320, 3)) * 255).astype("uint8")
    taken = datetime(2019, 7, 22, 7, 0, tzinfo=UTC)
    ref = write_jpeg(root / "reference.jpg", texture, quality=95)
    footage = [
        write_jpeg(
            root / IMG_NAME,
            texture,
            quality=80,
            tags=CameraTags("<b>make", "<i>model", taken, 35.6436, 36.6757),
        ),
        write_jpeg(root / MD_NAME, texture, quality=70),
    ]
    add_evidence(w, actor, case, [ref], kind="photo", links=[LinkSpec("site_reference", SITE)])
    add_evidence(
        w,
        actor,
        case,
        footage,
        kind="photo",
        links=[LinkSpec("supports_claim")],
        facts=ItemFacts(source="<script>src</script>", collected_by="<u>me</u>"),
    )
    add_statement(w, actor, case, witness=f"W {SCRIPT}", text=STATEMENT)
    run_verify(w, actor, case)
    return w, case, build_report(w, case)


def test_hostile_case_has_pictures_and_positions_to_escape(hostile_case):
    _, _, report = hostile_case
    artefacts = [
        a for g in report["findings"]["groups"] for f in g["findings"] for a in f["artefacts"]
    ]
    assert artefacts and any(SITE in a["caption"] for a in artefacts)
    assert any(p["filename"] == IMG_NAME for p in report["map"]["positions"])


def test_html_shows_hostile_strings_as_text(hostile_case):
    w, _, report = hostile_case
    html = render_html(report, derived_reader(w))
    page = _page(html)
    _assert_inert(page, allowed_img_prefix="data:image/")
    text = "".join(page.text)
    for hostile in HOSTILE:
        assert hostile in text, hostile
    assert _flat(STATEMENT) in _flat(text)
    # The title sits in <title> as text too, and `</style>` did not end the page's style sheet.
    assert f"{report['case']['id']}: {TITLE}" in text
    assert "body{display:none}" not in html.split("</style>")[0]


def test_markdown_renders_hostile_strings_as_text(hostile_case, tmp_path):
    w, _, report = hostile_case
    files = tmp_path / "r_files"
    md = render_markdown(report, derived_reader(w), files, files.name)
    html = MarkdownIt("commonmark").render(md)
    page = _page(html)
    _assert_inert(page, allowed_img_prefix="r_files/")
    text = _flat("".join(page.text))
    for hostile in HOSTILE:
        assert _flat(hostile) in text, hostile
    assert _flat(STATEMENT) in text
    # Only the report's own headings: none injected by a value.
    headings = [t for t, _ in page.tags if t in ("h1", "h2")]
    assert headings.count("h1") == 1
    # Picture files get names of safe characters whatever the site or file was called.
    written = [p.name for p in files.iterdir()]
    assert len(written) > 1 and all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in written)


def test_json_keeps_hostile_strings_verbatim(hostile_case):
    _, _, report = hostile_case
    data = json.loads(report_json(report))
    assert data["case"]["title"] == TITLE and data["claim"]["text"] == CLAIM
    assert data["statements"][0]["text"] == STATEMENT
    assert {i["filename"] for i in data["items"]} >= {IMG_NAME, MD_NAME}


def test_map_svg_escapes_labels_and_is_well_formed():
    svg = render_map_svg(
        {
            "sites": [
                {"name": SITE, "lat": 35.64, "lon": 36.67, "radius_m": 150.0, "claimed": True}
            ],
            "positions": [
                {"item": "E-1", "filename": IMG_NAME, "lat": 35.641, "lon": 36.671},
                {"item": "E-2", "filename": "a&b<c>", "lat": 35.641, "lon": 36.671},
            ],
            "incident": {"lat": 35.6, "lon": 36.6, "place": "</svg><script>x</script>"},
        }
    )
    assert svg is not None
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(SITE in (t or "") for t in texts)
    assert any(IMG_NAME in (t or "") for t in texts)
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


def test_map_svg_draws_scale_bar_north_arrow_and_points_inside():
    svg = render_map_svg(
        {
            "sites": [
                {"name": "a", "lat": 35.6436, "lon": 36.6757, "radius_m": 150.0, "claimed": True},
                {"name": "b", "lat": 35.6404, "lon": 36.6733, "radius_m": 150.0},
            ],
            "positions": [{"item": "E-1", "filename": "f", "lat": 35.6404, "lon": 36.6733}],
            "incident": None,
        }
    )
    assert svg is not None
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert "N" in texts and any(t.endswith(" m") and t[0].isdigit() for t in texts)
    for c in root.iter(f"{ns}circle"):
        x, y = float(c.attrib["cx"]), float(c.attrib["cy"])
        assert 0 <= x <= width and 0 <= y <= height
    # 'a' is north-east of 'b': further right and higher up on the drawing.
    centres = [
        (float(c.attrib["cx"]), float(c.attrib["cy"]))
        for c in root.iter(f"{ns}circle")
        if c.attrib.get("class") in ("site", "claimed")
    ]
    (ax, ay), (bx, by) = centres
    assert ax > bx and ay < by
    assert render_map_svg({"sites": [], "positions": [], "incident": None}) is None


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn")), max_size=60))
def test_escaped_markdown_renders_as_the_same_text(text):
    html = MarkdownIt("commonmark").render("Text: " + escape_markdown(text))
    page = _page(html)
    assert [t for t, _ in page.tags] == ["p"]
    # The same text, but for what `cases.report.bidi` adds on purpose: reordering controls
    # shown as "[U+202E]", and right-to-left runs between invisible isolate marks (the text's
    # own isolate marks are shown, so any left in the page are the renderer's).
    shown = "".join(page.text).replace("\u2068", "").replace("\u2069", "")
    assert _flat(shown) == _flat("Text: " + show_controls(text))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))),
        max_size=6,
    )
)
def test_quoted_statement_keeps_its_lines_and_adds_nothing(lines):
    html = MarkdownIt("commonmark").render(quote_block("\n".join(lines)))
    page = _page(html)
    assert {t for t, _ in page.tags} <= {"blockquote", "p", "br"}
    # Reordering controls are shown, not obeyed (`cases.report.bidi`); nothing else is added.
    assert _flat("".join(page.text)) == _flat(" ".join(show_controls(line) for line in lines))
