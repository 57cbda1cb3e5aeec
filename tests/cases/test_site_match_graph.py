"""site_match with footage links, on real photos: a walk-through placed through its neighbours,
places that must not link, a group whose direct verdicts conflict, incremental re-runs,
evidence added with --site used as reference imagery (CLI, end to end), and reference imagery
that is also claim footage (never compared with itself)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import cases.checks.footage_links as footage_links
import cases.checks.reference_matches as reference_matches
import cases.checks.site_match as site_match
import verify.pairpool as pairpool
from cases import workflow
from cases.checks.match_codec import decode_match
from cases.checks.site_match import SiteMatchCheck
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.snapshot import item_info
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace
from evidence_store.models import Finding
from verify.pairpool import PairMatcher

ROOT = Path(__file__).resolve().parents[2]
ACTOR = "tester"


def degrade(src: Path, out: Path) -> Path:
    """Footage as investigators get it: longest side 640 px, JPEG quality 40."""
    img = Image.open(src).convert("RGB")
    img.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=40)
    out.write_bytes(buf.getvalue())
    return out


def new_case(tmp_path: Path, sites: Sequence[str]) -> tuple[Workspace, str]:
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, ACTOR, title="t", incident_date=date(2019, 7, 22)).code
    for i, name in enumerate(sites):
        workflow.add_site(
            ws, ACTOR, code, name=name, lat=35.0 + i, lon=36.0, radius_m=100, claimed=i == 0
        )
    return ws, code


def add(ws: Workspace, code: str, files: Sequence[Path], site: str | None = None) -> None:
    role = LinkSpec("site_reference", site) if site else LinkSpec("denial_footage")
    add_evidence(ws, ACTOR, code, list(files), kind="photo", links=[role])


def site_findings(ws: Workspace, code: str) -> dict[str, Finding]:
    out = run_verify(ws, ACTOR, code, checks=[SiteMatchCheck()])
    with ws.reading() as session:
        from evidence_store.models import EvidenceItem

        names = {i.code: i.filename for i in session.query(EvidenceItem)}
    return {names[f.items[0]]: f for f in out.findings if f.check == "site_match"}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Footage pairs verified (node names), recorded as the check verifies them."""
    seen: list[tuple[str, str]] = []
    real = footage_links._verify

    def counting(lo, hi):  # type: ignore[no-untyped-def]
        seen.append((lo.node, hi.node))
        return real(lo, hi)

    monkeypatch.setattr(footage_links, "_verify", counting)
    return seen


@pytest.fixture
def direct_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Footage-against-reference verifications made (not read from the cache): each is encoded
    for the cache once, as soon as it is verified."""
    seen: list[int] = []
    real = reference_matches.encode_match

    def counting(match, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(1)
        return real(match, **kwargs)

    monkeypatch.setattr(reference_matches, "encode_match", counting)
    return seen


def test_walkthrough_links_and_other_place_does_not(
    tmp_path: Path,
    sites_dir: Path,
    counted: list[tuple[str, str]],
    direct_counted: list[int],
    monkeypatch: pytest.MonkeyPatch,
):
    church = sites_dir / "herz_jesu_church"
    ws, code = new_case(tmp_path, ["church", "bridge"])
    add(ws, code, [church / "0000.jpg"], "church")
    add(ws, code, [sites_dir / "london_bridge" / "london_bridge_19481797_2295892421.jpg"], "bridge")
    walk = [degrade(church / f"000{i}.jpg", tmp_path / f"walk_{i}.jpg") for i in (5, 6, 7)]
    elsewhere = degrade(
        sites_dir / "piazza_san_marco" / "piazza_san_marco_06795901_3725050516.jpg",
        tmp_path / "elsewhere.jpg",
    )
    add(ws, code, [*walk, elsewhere])
    found = site_findings(ws, code)

    first = found["walk_5.jpg"]
    assert first.verdict == "consistent" and first.values["direct"] is True
    assert first.values["via"] == []
    for name in ("walk_6.jpg", "walk_7.jpg"):
        f = found[name]
        # Too far along the walk to match the reference itself ...
        assert f.values["scores"]["church"] < 35
        # ... placed through the footage that does, each hop drawn as a match picture.
        assert f.verdict == "consistent" and f.values["matched_site"] == "church"
        assert f.values["direct"] is False
        via = f.values["via"]
        assert via[0]["from"] == f.items[0] and via[-1]["to"] != via[0]["from"]
        assert all(hop["inliers"] >= 35 for hop in via)
        assert len(f.artefacts) == len(via)
        for rel in f.artefacts:
            assert ws.derived.resolve(rel).stat().st_size > 1000
        assert set(f.values) >= {"claimed_site", "matched_site", "scores", "frames"}
    other = found["elsewhere.jpg"]
    assert other.verdict == "inconclusive" and other.values["matched_site"] is None
    assert other.values["via"] == []

    # 4 footage pictures x 2 references, each verified once.
    assert len(direct_counted) == 8 and other.values["not_compared"] == []

    # Re-running verifies nothing; one new item is verified only against the others.
    before, direct_before = len(counted), len(direct_counted)
    site_findings(ws, code)
    assert len(counted) == before and len(direct_counted) == direct_before
    add(ws, code, [degrade(church / "0004.jpg", tmp_path / "walk_4.jpg")])
    found = site_findings(ws, code)
    new = found["walk_4.jpg"].items[0]
    fresh = counted[before:]
    assert fresh and all(new in pair for pair in fresh)
    assert len(direct_counted) == direct_before + 2  # the new picture against the 2 references
    # Pairs cached under other matcher settings are other measurements: everything is verified
    # again (5 pictures x 2 references; links too), with the same findings.
    monkeypatch.setattr(reference_matches, "PAIR_KEY", "rootsift-other-matcher")
    monkeypatch.setattr(footage_links, "PAIR_KEY", "rootsift-other-matcher")
    links_before, direct_before = len(counted), len(direct_counted)
    again = site_findings(ws, code)
    assert len(direct_counted) == direct_before + 10 and len(counted) > links_before
    assert {n: f.values for n, f in again.items()} == {n: f.values for n, f in found.items()}
    # A new reference image is compared with each footage picture once; links are not reopened.
    bridge = sorted((sites_dir / "london_bridge").glob("*.jpg"))[1]
    links_before, direct_before = len(counted), len(direct_counted)
    add(ws, code, [bridge], "bridge")
    found = site_findings(ws, code)
    assert len(direct_counted) == direct_before + 5 and len(counted) == links_before
    assert found["walk_7.jpg"].values["matched_site"] == "church"
    assert found["walk_7.jpg"].values["matched_site"] == "church"


def test_footage_pairs_on_worker_processes_give_the_same_findings(
    tmp_path: Path, sites_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    church = sites_dir / "herz_jesu_church"
    walk = [degrade(church / f"000{i}.jpg", tmp_path / f"walk_{i}.jpg") for i in (5, 6, 7)]

    def findings(where: str) -> dict[str, tuple[str, str | None, bool, list]]:
        ws, code = new_case(tmp_path / where, ["church"])
        add(ws, code, [church / "0000.jpg"], "church")
        add(ws, code, walk)
        return {
            name: (f.verdict, f.values["matched_site"], f.values["direct"], f.values["via"])
            for name, f in site_findings(ws, code).items()
        }

    alone = findings("one")
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_WORKERS", 1)
    started: list[bool] = []
    real_match = PairMatcher.match

    def watched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real_match(self, *args, **kwargs)
        started.append(self.used_workers)
        return out

    monkeypatch.setattr(PairMatcher, "match", watched)
    made: list[int] = []
    real_init = PairMatcher.__init__

    def counted_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(PairMatcher, "__init__", counted_init)
    assert findings("pool") == alone
    assert started and all(started)  # the footage pairs really went through the workers
    # References and footage links share one matcher: its workers start once per run.
    assert len(made) == 1 and len(started) >= 2
    assert alone["walk_7.jpg"][2] is False  # and a verdict was carried along the links


def test_pairs_that_cannot_link_skip_the_fit_and_are_cached_as_not_fitted(
    tmp_path: Path, sites_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    # Real photo pairs keep 80+ tentative matches at ratio 0.9, so a link threshold above any
    # tentative count is what makes every pair one that cannot link.
    church = sites_dir / "herz_jesu_church"
    ws, code = new_case(tmp_path, ["church"])
    add(ws, code, [church / "0000.jpg"], "church")
    add(ws, code, [degrade(church / f"000{i}.jpg", tmp_path / f"walk_{i}.jpg") for i in (5, 6, 7)])
    monkeypatch.setattr(footage_links, "LINK_MIN_INLIERS", 10**6)
    found = site_findings(ws, code)
    entries = sorted((ws.derived.root / footage_links.LINK_NAMESPACE).rglob("*.npz"))
    assert len(entries) == 3  # the three footage pairs
    for entry in entries:
        match = decode_match(entry.read_bytes())
        assert match is not None and match.model == "not_fitted"
        # Recorded honestly: no inliers claimed, the tentative count kept as the upper bound.
        assert match.inliers == 0 and match.tentative > 35
    # Without links the walk's far end is not placed through its neighbours.
    assert found["walk_7.jpg"].values["via"] == []
    # Site matching's own counts never skip the fit: walk_5 still matches the reference.
    assert found["walk_5.jpg"].values["scores"]["church"] >= 35


@pytest.mark.parametrize("reference_shortlist", [False, True])
def test_conflicting_direct_verdicts_make_the_group_inconclusive(
    tmp_path: Path, sites_dir: Path, monkeypatch: pytest.MonkeyPatch, reference_shortlist: bool
):
    if reference_shortlist:
        # As in a large case: each picture compared only with its most similar reference.
        monkeypatch.setattr(site_match, "DIRECT_ALL_REFERENCES_LIMIT", 0)
        monkeypatch.setattr(site_match, "REFERENCE_TOP_K", 1)
    castle = sites_dir / "ettlingen_castle"
    # Two "sites" whose reference photos both show the castle: footage of one end of the castle
    # matches the first, of the other end the second, and the footage between links them.
    ws, code = new_case(tmp_path, ["north gate", "south gate"])
    add(ws, code, [castle / "0000.jpg"], "north gate")
    add(ws, code, [castle / "0010.jpg"], "south gate")
    footage = [degrade(castle / f"000{i}.jpg", tmp_path / f"c{i}.jpg") for i in (2, 8)]
    add(ws, code, footage)
    found = site_findings(ws, code)
    ends = {found["c2.jpg"].items[0], found["c8.jpg"].items[0]}
    # Each alone would be decided: c2 for the north gate, c8 for the south gate.
    assert found["c2.jpg"].values["scores"]["north gate"] >= 35
    assert found["c2.jpg"].values["scores"]["south gate"] < 35
    assert found["c8.jpg"].values["scores"]["south gate"] >= 35
    assert found["c8.jpg"].values["scores"]["north gate"] < 35
    for name in ("c2.jpg", "c8.jpg"):
        f = found[name]
        assert f.verdict == "inconclusive" and f.values["matched_site"] is None
        assert set(f.values["conflict"]) == ends - set(f.items)
        assert "conflicting" in f.detail and all(code in f.detail for code in ends)
        if reference_shortlist:
            # Compared with one reference only: the other site's 0 is no measurement, and the
            # finding says so rather than showing it as a score.
            (skipped,) = f.values["not_compared"]
            assert f.values["scores"][skipped] == 0
            assert f"{skipped!r} not compared" in f.detail
        else:
            assert f.values["not_compared"] == []


def cc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cases.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )


def pan_video(src: Path, out: Path) -> Path:
    """A 3 s camera pan across a photo, H.264: reference footage of a site."""
    rgb = np.asarray(Image.open(src).convert("RGB"))
    h, w = rgb.shape[:2]
    cw, ch = int(w * 0.8) // 2 * 2, int(h * 0.8) // 2 * 2
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height = 640, round(640 * ch / cw) // 2 * 2
        stream.pix_fmt = "yuv420p"
        for k in range(15):
            x = int((w - cw) * k / 14)
            crop = Image.fromarray(rgb[:ch, x : x + cw]).resize((stream.width, stream.height))
            for packet in stream.encode(av.VideoFrame.from_image(crop)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


def test_evidence_added_with_site_is_reference_imagery(tmp_path: Path, sites_dir: Path):
    home = tmp_path / "ws"
    assert cc(home, "init").returncode == 0
    code = cc(home, "case", "open", "T", "--date", "2019-07-22").stdout.strip()
    for name, lat, claimed in (("castle", "49.0", ["--claimed"]), ("church", "50.9", [])):
        r = cc(home, "site", "add", code, name, "--lat", lat, "--lon", "8.4", *claimed)
        assert r.returncode == 0, r.stderr
    # A witness's photo of the castle and earlier footage of the church, added as evidence.
    witness = sites_dir / "ettlingen_castle" / "0001.jpg"
    video = pan_video(sites_dir / "herz_jesu_church" / "0001.jpg", tmp_path / "earlier.mp4")
    r = cc(home, "evidence", "add", code, str(witness), "--kind", "photo", "--site", "castle")
    assert r.returncode == 0, r.stderr
    r = cc(home, "evidence", "add", code, str(video), "--kind", "video", "--site", "church")
    assert r.returncode == 0, r.stderr
    footage = [
        degrade(sites_dir / "ettlingen_castle" / "0002.jpg", tmp_path / "castle_footage.jpg"),
        degrade(sites_dir / "herz_jesu_church" / "0002.jpg", tmp_path / "church_footage.jpg"),
    ]
    r = cc(home, "evidence", "add", code, *map(str, footage), "--kind", "photo")
    assert r.returncode == 0, r.stderr
    r = cc(home, "verify", code, "--json")
    assert r.returncode == 0, r.stderr
    items = json.loads(cc(home, "evidence", "list", code, "--json").stdout)["items"]
    name = {i["id"]: i["filename"] for i in items}
    found = {
        name[f["items"][0]]: f
        for f in json.loads(r.stdout)["findings"]
        if f["check"] == "site_match"
    }
    assert set(found) == {"castle_footage.jpg", "church_footage.jpg"}
    assert found["castle_footage.jpg"]["verdict"] == "consistent"
    church = found["church_footage.jpg"]
    assert church["verdict"] == "mismatch" and church["values"]["matched_site"] == "church"
    assert church["values"]["scores"]["church"] >= 35


def test_a_video_without_keyframes_is_inconclusive(
    tmp_path: Path, sites_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    church = sites_dir / "herz_jesu_church"
    ws, code = new_case(tmp_path, ["church"])
    add(ws, code, [church / "0000.jpg"], "church")
    add(ws, code, [degrade(church / "0001.jpg", tmp_path / "empty.jpg")])
    real = site_match.frame_features

    def no_keyframes(ctx, item):  # type: ignore[no-untyped-def]
        return [] if item.filename == "empty.jpg" else real(ctx, item)

    monkeypatch.setattr(site_match, "frame_features", no_keyframes)
    f = site_findings(ws, code)["empty.jpg"]
    assert f.verdict == "inconclusive" and f.values["not_compared"] == []
    assert "no keyframes" in f.detail


def test_an_interrupted_run_keeps_the_comparisons_it_finished(
    tmp_path: Path, sites_dir: Path, direct_counted: list[int], monkeypatch: pytest.MonkeyPatch
):
    church = sites_dir / "herz_jesu_church"
    ws, code = new_case(tmp_path, ["church"])
    add(ws, code, [church / "0000.jpg", church / "0001.jpg"], "church")
    add(ws, code, [degrade(church / f"000{i}.jpg", tmp_path / f"walk_{i}.jpg") for i in (5, 6, 7)])
    real = pairpool.match_pair
    calls: list[int] = []

    def dies_on_the_fifth(a, b, **kwargs):  # type: ignore[no-untyped-def]
        if len(calls) == 4:
            raise KeyboardInterrupt  # as a kill mid-batch would stop the run
        calls.append(1)
        return real(a, b, **kwargs)

    monkeypatch.setattr(pairpool, "match_pair", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        site_findings(ws, code)
    assert len(direct_counted) == 4
    assert len(list((ws.derived.root / reference_matches.MATCH_NAMESPACE).rglob("*.npz"))) == 4
    monkeypatch.setattr(pairpool, "match_pair", real)
    site_findings(ws, code)
    assert len(direct_counted) == 6  # only the two comparisons the first run did not finish


@pytest.fixture
def reference_pairs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(footage picture, reference picture) node pairs site matching compares, cached or not."""
    seen: list[tuple[str, str]] = []
    real = site_match.reference_matches

    def recording(ctx, pairs, verifier=None):  # type: ignore[no-untyped-def]
        seen.extend((f.node, r.node) for f, r in pairs)
        return real(ctx, pairs, verifier)

    monkeypatch.setattr(site_match, "reference_matches", recording)
    return seen


def link_as(ws: Workspace, code: str, files: Sequence[Path], role: str) -> None:
    add_evidence(ws, ACTOR, code, list(files), kind="photo", links=[LinkSpec(role)])


def item_code(found: dict[str, Finding], name: str) -> str:
    return found[name].items[0]


def test_a_site_on_a_claim_link_makes_no_reference_imagery(tmp_path: Path, sites_dir: Path):
    """Audit 1: a workspace holding a claim photo linked to the claimed site (accepted before
    `--site` went only with site_reference). Read as reference imagery of the site, it would
    have made the other claim photo of the same castle "consistent" with a church."""
    castle = sites_dir / "ettlingen_castle"
    ws, code = new_case(tmp_path, ["market", "other place"])
    add(ws, code, [sites_dir / "herz_jesu_church" / "0001.jpg"], "market")
    bridge = sites_dir / "london_bridge" / "london_bridge_78916675_4568141288.jpg"
    add(ws, code, [bridge], "other place")
    link_as(ws, code, [castle / "0008.jpg", castle / "0009.jpg"], "supports_claim")

    def legacy_link(session):  # type: ignore[no-untyped-def]
        from cases.ingest import _add_links
        from cases.workflow import load_case

        case = load_case(session, code)
        item = next(i for i in case.items if i.filename == "0008.jpg")
        _add_links(session, case, item, [LinkSpec("supports_claim", "market")], ACTOR)

    ws.run_write(legacy_link)
    with ws.reading() as session:
        case = workflow.load_case(session, code)
        claim = next(i for i in case.items if i.filename == "0008.jpg")
        assert {(lk.role, lk.site.name if lk.site else None) for lk in claim.links} >= {
            ("supports_claim", "market")
        }
        info = item_info(ws, claim)
        assert info.reference_of == () and info.is_footage
    found = site_findings(ws, code)
    for name in ("0008.jpg", "0009.jpg"):
        assert found[name].verdict == "inconclusive", found[name].detail
        assert found[name].values["matched_site"] is None
    report = build_report(ws, code)
    references = {s["name"]: s["reference_items"] for s in report["sites"]}
    assert item_code(found, "0008.jpg") not in references["market"]
    assert len(references["market"]) == 1 and len(references["other place"]) == 1


@pytest.mark.parametrize("reference_shortlist", [False, True])
def test_reference_imagery_that_is_also_claim_footage_is_never_compared_with_itself(
    tmp_path: Path,
    sites_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference_pairs: list[tuple[str, str]],
    reference_shortlist: bool,
):
    """Audit 8: a castle photo that is both reference imagery and claim footage is placed by
    the castle's other reference photo (never by itself), and says so."""
    if reference_shortlist:
        # As in a large case: its most similar reference is itself, which must not take one of
        # the 2 places of its shortlist.
        monkeypatch.setattr(site_match, "DIRECT_ALL_REFERENCES_LIMIT", 0)
        monkeypatch.setattr(site_match, "REFERENCE_TOP_K", 2)
    castle = sites_dir / "ettlingen_castle"
    ws, code = new_case(tmp_path, ["castle", "church"])
    add(ws, code, [castle / "0000.jpg", castle / "0001.jpg"], "castle")
    add(ws, code, [sites_dir / "herz_jesu_church" / "0001.jpg"], "church")
    link_as(ws, code, [castle / "0000.jpg"], "supports_claim")
    found = site_findings(ws, code)
    assert set(found) == {"0000.jpg"}
    f = found["0000.jpg"]
    # Compared with the 2 other references, never with itself.
    assert sorted(reference_pairs) == [(f.items[0], "E-000002"), (f.items[0], "E-000003")]
    assert f.verdict == "consistent" and f.values["matched_site"] == "castle"
    assert f.values["reference_of"] == ["castle"]
    assert "not compared with itself (reference imagery of 'castle')" in f.detail
    assert 35 <= f.values["scores"]["castle"] < 1000


def test_claim_footage_that_is_the_only_reference_imagery_is_inconclusive(
    tmp_path: Path, sites_dir: Path, reference_pairs: list[tuple[str, str]]
):
    """It cannot be placed by itself, nor through footage that matched it: a re-posted copy
    matches it as reference imagery, and that must not come back to it as its own site."""
    castle = sites_dir / "ettlingen_castle"
    ws, code = new_case(tmp_path, ["castle"])
    add(ws, code, [castle / "0000.jpg"], "castle")
    link_as(ws, code, [castle / "0000.jpg"], "supports_claim")
    copy = degrade(castle / "0000.jpg", tmp_path / "copy.jpg")
    link_as(ws, code, [copy], "denial_footage")
    found = site_findings(ws, code)
    assert found["copy.jpg"].verdict == "consistent"  # the copy against the castle's reference
    f = found["0000.jpg"]
    assert f.verdict == "inconclusive" and f.values["matched_site"] is None
    assert "only reference imagery" in f.detail and "'castle'" in f.detail
    assert all(a != b for a, b in reference_pairs)

    # With another site's imagery to compare with, it is compared with that, and still gets no
    # site through the copy (whose only match is the picture itself).
    workflow.add_site(ws, ACTOR, code, name="church", lat=50.0, lon=8.0, radius_m=100)
    add(ws, code, [sites_dir / "herz_jesu_church" / "0001.jpg"], "church")
    found = site_findings(ws, code)
    assert found["copy.jpg"].verdict == "consistent"
    f = found["0000.jpg"]
    assert f.verdict == "inconclusive" and f.values["matched_site"] is None, f.detail
    assert f.values["via"] == [] and "not compared with itself" in f.detail
    assert f.values["scores"]["church"] < 35
