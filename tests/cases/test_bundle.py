"""Export/import bundles: round trip keeps every hash and the custody proof; import refuses
altered, unsafe and bomb archives before accepting anything (issue 7)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import stat
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cases import bundle_format as fmt
from cases import corrections, workflow
from cases.bundle import _row_hash, _row_refs, export_case, import_bundle
from cases.checks.gps_place import GpsPlaceCheck
from cases.errors import BundleError
from cases.ingest import LinkSpec, add_evidence, add_statement
from cases.report.data import build_report
from cases.verification import current_findings, run_verify
from evidence_store.custody import canonical_json, case_events
from evidence_store.db import init_workspace
from evidence_store.fsck import check_store
from evidence_store.models import Blob, Case
from tests.cases.cli_helpers import run_cli
from tests.store_backends import fresh_postgres_database


@pytest.fixture
def source(tmp_path: Path, db_url, exif_dir: Path):
    ws = init_workspace(tmp_path / "src", db_url)
    c = workflow.open_case(ws, "alice", title="Strike", incident_date=date(2008, 10, 22))
    workflow.set_claim(ws, "alice", c.code, text="Market hit", source="NGO")
    workflow.add_site(ws, "alice", c.code, name="market", lat=43.46, lon=11.88, claimed=True)
    photos = sorted((exif_dir / "gps").glob("*.jpg"))[:2]
    add_evidence(ws, "alice", c.code, photos, kind="photo", links=[LinkSpec("supports_claim")])
    add_evidence(
        ws, "alice", c.code, photos[:1], kind="photo", links=[LinkSpec("site_reference", "market")]
    )
    add_statement(ws, "alice", c.code, witness="W1", text="I saw it — رأيت")
    run_verify(ws, "alice", c.code, checks=[GpsPlaceCheck()])
    yield ws, c.code
    ws.dispose()


@pytest.fixture
def target(tmp_path: Path, db_url):
    """A second workspace (on PostgreSQL: a second database of its own)."""
    with contextlib.ExitStack() as stack:
        url = None if db_url is None else stack.enter_context(fresh_postgres_database())
        ws = init_workspace(tmp_path / "dst", url)
        # An unrelated case already there, so imported codes must be renumbered.
        workflow.open_case(ws, "bob", title="Other", incident_date=date(2020, 1, 1))
        yield ws
        ws.dispose()


def counts(ws) -> tuple[int, int, list[str]]:
    with ws.reading() as s:
        cases = s.scalar(select(func.count()).select_from(Case))
        blobs = s.scalar(select(func.count()).select_from(Blob))
    return cases, blobs, sorted(p.name for p in ws.home.rglob("*") if p.is_file())


def rewrite(src: Path, dst: Path, change) -> None:
    """Copy a zip entry by entry, letting `change(entries)` edit the name->bytes dict."""
    with zipfile.ZipFile(src) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    change(entries)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def rehash_manifest(entries: dict[str, bytes]) -> None:
    manifest = json.loads(entries[fmt.MANIFEST])
    for name in manifest["files"]:
        data = entries[name]
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    entries[fmt.MANIFEST] = json.dumps(manifest).encode()


def test_round_trip_keeps_further_attributions(source, target, tmp_path: Path):
    ws, code = source
    # The fixture's statement again, from a second witness: one item, attributed twice.
    again = add_statement(ws, "alice", code, witness="W2", text="I saw it — رأيت")
    assert again.new_attribution is not None
    out = export_case(ws, "alice", code, tmp_path / "bundle.zip")
    result = import_bundle(target, "bob", out.path)
    [statement] = [i for i in workflow.get_case(target, result.case).items if i.witness]
    assert statement.witness == "W1"
    assert [(a.seq, a.witness) for a in statement.attributions] == [(1, "W2")]
    assert check_store(target).ok, check_store(target).problems

    def drop_attribution(entries: dict[str, bytes]) -> None:
        rows = json.loads(entries[fmt.ROWS])
        rows["attributions"] = []
        entries[fmt.ROWS] = json.dumps(rows).encode()
        rehash_manifest(entries)

    # A bundle that lost the logged attribution is refused, not imported without it.
    rewrite(out.path, tmp_path / "dropped.zip", drop_attribution)
    with pytest.raises(BundleError, match="attribution"):
        import_bundle(target, "bob", tmp_path / "dropped.zip")


def test_round_trip_keeps_hashes_findings_and_custody(source, target, tmp_path: Path):
    ws, code = source
    out = export_case(ws, "alice", code, tmp_path / "case bundle.zip")
    with zipfile.ZipFile(out.path) as zf:
        manifest = json.loads(zf.read(fmt.MANIFEST))
        for name, line in manifest["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == line["sha256"]
        report = json.loads(zf.read(fmt.REPORT))
    assert report["case"]["id"] == code and fmt.REPORT in manifest["files"]
    with ws.reading() as s:
        assert case_events(s, workflow.load_case(s, code))[-1].action == "export"

    result = import_bundle(target, "bob", out.path)
    assert result.case == "C-0002" and result.source_case == code
    src_case, dst_case = workflow.get_case(ws, code), workflow.get_case(target, result.case)
    assert sorted(i.sha256 for i in src_case.items) == sorted(i.sha256 for i in dst_case.items)
    assert dst_case.claim.text == "Market hit" and dst_case.sites[0].name == "market"
    src_f, dst_f = current_findings(ws, code), current_findings(target, result.case)
    assert [(f.check, f.verdict, f.detail) for f in src_f] == [
        (f.check, f.verdict, f.detail) for f in dst_f
    ]
    dst_codes = {i.code for i in dst_case.items}
    assert all(set(f.items) <= dst_codes for f in dst_f)  # item codes remapped
    assert check_store(target).ok, check_store(target).problems
    with target.reading() as s:
        first = case_events(s, workflow.load_case(s, result.case))[0]
    assert first.action == "import"
    assert first.details["source"]["bundle_sha256"] == result.bundle_sha256
    assert first.details["source"]["chain_head"] == manifest["chain_head"]

    with pytest.raises(BundleError, match="already imported"):
        import_bundle(target, "bob", out.path)
    with pytest.raises(BundleError, match="exported from this workspace"):
        import_bundle(ws, "alice", out.path)


def test_altered_original_is_refused_before_anything_is_stored(source, target, tmp_path):
    ws, code = source
    good = export_case(ws, "alice", code, tmp_path / "b.zip").path
    before = counts(target)

    def flip_original(entries):
        name = next(n for n in entries if n.startswith(fmt.ORIGINALS))
        data = bytearray(entries[name])
        data[len(data) // 2] ^= 1
        entries[name] = bytes(data)

    bad = tmp_path / "bad.zip"
    rewrite(good, bad, flip_original)
    with pytest.raises(BundleError, match="altered"):
        import_bundle(target, "bob", bad)
    # Even with the manifest recomputed, the original no longer hashes to its name.
    rewrite(good, bad, lambda e: (flip_original(e), rehash_manifest(e)))
    with pytest.raises(BundleError, match="does not hash to its name"):
        import_bundle(target, "bob", bad)
    assert counts(target) == before


@pytest.mark.parametrize(
    "edit",
    [
        lambda rows, log: rows["findings"][0].update(verdict="consistent"),
        lambda rows, log: rows["items"][0].update(source="forged"),
        lambda rows, log: rows["findings"].pop(),
        lambda rows, log: log[1].update(actor="mallory"),
        lambda rows, log: log.pop(2),
    ],
    ids=["edited-finding", "edited-item", "deleted-finding", "edited-event", "deleted-event"],
)
def test_records_edited_inside_the_bundle_fail_custody(source, target, tmp_path, edit):
    ws, code = source
    good = export_case(ws, "alice", code, tmp_path / "b.zip").path
    before = counts(target)

    def forge(entries):
        rows, log = json.loads(entries[fmt.ROWS]), json.loads(entries[fmt.CUSTODY])
        edit(rows, log)
        entries[fmt.ROWS], entries[fmt.CUSTODY] = (
            json.dumps(rows).encode(),
            json.dumps(log).encode(),
        )
        rehash_manifest(entries)  # a forger would fix the manifest too

    bad = tmp_path / "forged.zip"
    rewrite(good, bad, forge)
    with pytest.raises(BundleError, match="custody"):
        import_bundle(target, "bob", bad)
    assert counts(target) == before


def _zip_with(path: Path, name: str, data: bytes, *, symlink: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
        zf.writestr(fmt.MANIFEST, json.dumps({"format": fmt.FORMAT, "version": 1, "files": {}}))
    return path


@pytest.mark.parametrize(
    ("name", "symlink", "why"),
    [
        ("../evil.txt", False, "traversal"),
        ("originals/../../evil.txt", False, "traversal"),
        ("/etc/evil.txt", False, "absolute"),
        ("C:/evil.txt", False, "absolute"),
        ("originals\\..\\evil.txt", False, "backslash"),
        ("derived/link", True, "symbolic link"),
    ],
)
def test_unsafe_entries_are_refused(target, tmp_path: Path, name, symlink, why):
    data = b"/etc/passwd" if symlink else b"x"
    bundle = _zip_with(tmp_path / "evil.zip", name, data, symlink=symlink)
    before = counts(target)
    with pytest.raises(BundleError, match=why):
        import_bundle(target, "bob", bundle)
    assert counts(target) == before
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_and_oversized_bundles_are_refused(target, tmp_path: Path, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("originals/" + "0" * 64, b"\0" * (40 << 20))  # 40 MiB -> ~40 KiB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(BundleError, match="zip bomb"):
        import_bundle(target, "bob", bomb)
    monkeypatch.setattr(fmt, "MAX_TOTAL_UNCOMPRESSED", 1000)
    big = _zip_with(tmp_path / "big.zip", "derived/a/bb/bbb/x", b"y" * 2000)
    with pytest.raises(BundleError, match="expand to more than"):
        import_bundle(target, "bob", big)
    notzip = tmp_path / "not.zip"
    notzip.write_bytes(b"PK\x03\x04 but not really a zip")
    with pytest.raises(BundleError, match="not a readable zip"):
        import_bundle(target, "bob", notzip)
    assert not list((target.home).glob("import-*"))  # staging cleaned up


def test_cli_export_import_and_one_line_errors(tmp_path: Path):
    # CLI layer only (the library tests above cover both databases).
    src, dst = tmp_path / "src", tmp_path / "dst"
    run_cli(src, None, "init")
    code = run_cli(src, None, "case", "open", "T", "--date", "2019-07-22").stdout.strip()
    doc = tmp_path / "notes with spaces é.txt"
    doc.write_text("field notes", encoding="utf-8")
    assert (
        run_cli(src, None, "evidence", "add", code, str(doc), "--kind", "document").returncode == 0
    )
    bundle = tmp_path / "out.zip"
    r = run_cli(src, None, "export", code, "-o", str(bundle))
    assert r.returncode == 0, r.stderr
    run_cli(dst, None, "init")
    r = run_cli(dst, None, "import", str(bundle), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["items"] == 1
    assert run_cli(dst, None, "fsck").returncode == 0
    evil = _zip_with(tmp_path / "evil.zip", "../x", b"x")
    for args in (("import", str(evil)), ("import", str(bundle))):
        r = run_cli(dst, None, *args)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("fuzzsrc")
    ws = init_workspace(root / "ws")
    c = workflow.open_case(ws, "a", title="T", incident_date=date(2020, 1, 1))
    doc = root / "d.txt"
    doc.write_text("a short document", encoding="utf-8")
    add_evidence(ws, "a", c.code, [doc], kind="document")
    data = export_case(ws, "a", c.code, root / "b.zip").path.read_bytes()
    ws.dispose()
    return data


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    ws = init_workspace(tmp_path_factory.mktemp("fuzzdst") / "ws")
    yield ws
    ws.dispose()


@settings(
    max_examples=60,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), max_size=4))
def test_mutated_bundles_import_cleanly_or_fail_with_bundle_error(
    small_bundle, fuzz_target, tmp_path_factory, edits
):
    data = bytearray(small_bundle)
    for pos, value in edits:
        data[pos % len(data)] ^= value
    path = fuzz_target.home.parent / "mutant.zip"
    path.write_bytes(bytes(data))
    before = counts(fuzz_target)
    try:
        import_bundle(fuzz_target, "b", path)
    except BundleError as exc:
        assert "\n" not in str(exc)
        assert counts(fuzz_target) == before  # nothing accepted
    assert check_store(fuzz_target).ok


def _patch_central(data: bytes, offset: int, fmt_: str, value: int) -> bytes:
    import struct

    buf = bytearray(data)
    i = buf.rfind(b"PK\x01\x02")  # the last central-directory record: manifest.json
    struct.pack_into(fmt_, buf, i + offset, value)
    return bytes(buf)


@pytest.mark.parametrize(
    "damage",
    [
        # Regressions from fuzzing: each once escaped as an untyped error.
        lambda d: _patch_central(d, 6, "<H", 0x00FF),  # absurd "version needed" (NotImplemented)
        lambda d: _patch_central(d, 42, "<I", 0xFFFFFF00),  # header offset past the end (EINVAL)
        lambda d: _patch_central(d, 10, "<H", 99),  # unknown compression method
        lambda d: d[: len(d) // 2],  # truncated download
    ],
    ids=["version", "offset", "method", "truncated"],
)
def test_damaged_zip_structures_are_one_line_errors(small_bundle, tmp_path: Path, damage):
    ws = init_workspace(tmp_path / "ws")
    path = tmp_path / "damaged.zip"
    path.write_bytes(damage(small_bundle))
    with pytest.raises(BundleError) as info:
        import_bundle(ws, "b", path)
    assert "\n" not in str(info.value)
    assert counts(ws)[:2] == (0, 0)
    ws.dispose()


def _state(ws, code: str) -> tuple[list, dict]:
    """A case's current sites, and each item's links keyed by the item's bytes (codes are
    renumbered by import)."""
    c = workflow.get_case(ws, code)
    sites = [(s.name, s.lat, s.lon, s.radius_m, s.claimed) for s in c.sites]
    links = {
        i.sha256: sorted((lk.role, lk.site.name if lk.site else None) for lk in i.links)
        for i in c.items
    }
    return sites, links


def test_corrected_case_imports_to_the_same_current_state(source, target, tmp_path: Path, db_url):
    ws, code = source
    # Corrections after the fixture's verify run: a site added and corrected, one removed
    # (with the reference link of E-000001), a wrong claim link removed from E-000002.
    workflow.add_site(ws, "alice", code, name="depot", lat=43.47, lon=11.89)
    corrections.edit_site(ws, "alice", code, "depot", rename="fuel depot", radius_m=90)
    corrections.remove_site(ws, "alice", code, "market")
    corrections.unlink_item(ws, "alice", code, "E-000002", "supports_claim")
    out = export_case(ws, "alice", code, tmp_path / "corrected.zip")
    result = import_bundle(target, "bob", out.path)
    assert _state(target, result.case) == _state(ws, code)
    assert _state(ws, code)[0] == [("fuel depot", 43.47, 11.89, 90.0, False)]
    assert check_store(target).ok, check_store(target).problems
    # What the run did not see is still said after import, with this workspace's codes.
    src = build_report(ws, code)["verify_run"]["changes_since"]
    dst = build_report(target, result.case)["verify_run"]["changes_since"]
    assert src["sites_removed"] == dst["sites_removed"] == ["market"]
    assert src["sites_changed"] == dst["sites_changed"] == ["fuel depot"]
    assert src["sites_added"] == dst["sites_added"] == ["fuel depot"]
    codes = {
        s.sha256: t.code
        for s in workflow.get_case(ws, code).items
        for t in workflow.get_case(target, result.case).items
        if s.sha256 == t.sha256
    }
    by_code = {i.code: i.sha256 for i in workflow.get_case(ws, code).items}
    assert dst["roles_removed"] == [
        {**r, "item": codes[by_code[r["item"]]]} for r in src["roles_removed"]
    ]
    assert [r["role"] for r in dst["roles_removed"]] == ["site_reference", "supports_claim"]

    # Verified again before export: nothing is carried as unexamined.
    run_verify(ws, "alice", code, checks=[GpsPlaceCheck()])
    again = export_case(ws, "alice", code, tmp_path / "reverified.zip")
    with contextlib.ExitStack() as stack:
        url = None if db_url is None else stack.enter_context(fresh_postgres_database())
        third = init_workspace(tmp_path / "third", url)
        stack.callback(third.dispose)
        imported = import_bundle(third, "carol", again.path)
        assert _state(third, imported.case) == _state(ws, code)
        assert build_report(third, imported.case)["verify_run"]["changes_note"] is None
        assert check_store(third).ok, check_store(third).problems


@pytest.mark.parametrize("details", [["not", "a", "mapping"], {"name": "depot", "links": "x"}])
def test_a_malformed_correction_in_a_rehashed_chain_is_a_bundle_error(
    source, target, tmp_path: Path, details
):
    """A bundle whose chain was rebuilt around a malformed correction event (every hash
    recomputed, so the chain itself checks) is refused with one BundleError, nothing written."""
    ws, code = source
    workflow.add_site(ws, "alice", code, name="depot", lat=43.47, lon=11.89)
    corrections.edit_site(ws, "alice", code, "depot", radius_m=90)
    good = export_case(ws, "alice", code, tmp_path / "b.zip").path
    before = counts(target)

    def break_correction(entries: dict[str, bytes]) -> None:
        custody = json.loads(entries[fmt.CUSTODY])
        prev = None
        for event in custody:
            if event["action"] == "site-update":
                event["details"] = details
            if prev is not None:
                event["prev_hash"] = prev
            payload = {k: v for k, v in event.items() if k != "hash"}
            event["hash"] = hashlib.sha256(canonical_json(payload).encode()).hexdigest()
            prev = event["hash"]
        entries[fmt.CUSTODY] = json.dumps(custody).encode()
        rehash_manifest(entries)

    rewrite(good, tmp_path / "bad.zip", break_correction)
    with pytest.raises(BundleError):
        import_bundle(target, "bob", tmp_path / "bad.zip")
    assert counts(target)[:2] == before[:2]


def test_import_keeps_the_source_custody_history(source, target, tmp_path: Path):
    """Who added what and when, and the replaced wording of the claim, are the case's history:
    an exchange must not reduce them to one `import` event by the importing user."""
    from cases.report.data import build_report
    from cases.report.html import render_html
    from cases.report.markdown import render_markdown
    from cases.report.present import derived_reader

    ws, code = source
    workflow.set_claim(ws, "alice", code, text="Market hit, 12 killed", replace=True)
    with ws.reading() as s:
        events = case_events(s, workflow.load_case(s, code))
        source_chain = [(e.seq, e.actor, e.action) for e in events]
    out = export_case(ws, "alice", code, tmp_path / "bundle.zip")
    result = import_bundle(target, "bob", out.path)
    assert check_store(target).ok, check_store(target).problems

    report = build_report(target, result.case)
    assert report["claim"]["text"] == "Market hit, 12 killed"
    assert [v["text"] for v in report["claim"]["earlier_versions"]] == ["Market hit"]
    [before] = report["custody"]["before_import"]
    with zipfile.ZipFile(out.path) as zf:
        manifest = json.loads(zf.read(fmt.MANIFEST))
    assert before["source_case"] == code and before["chain_head"] == manifest["chain_head"]
    assert before["events"][-1]["hash"] == manifest["chain_head"]
    kept = [(e["seq"], e["actor"], e["action"]) for e in before["events"]]
    assert kept[: len(source_chain)] == source_chain  # then the export event itself
    assert {"alice"} == {actor for _, actor, _ in kept}
    html = render_html(report, derived_reader(target))
    md = render_markdown(report, derived_reader(target), tmp_path / "r_files", "r_files")
    assert (
        "Custody before import" in html and '<blockquote dir="auto">Market hit</blockquote>' in html
    )
    assert "Custody before import" in md and "\n> Market hit\n" in md

    # A second hop keeps the history too: exported again from the target, imported elsewhere.
    again = export_case(target, "bob", result.case, tmp_path / "again.zip")
    third = init_workspace(tmp_path / "third")
    try:
        moved = import_bundle(third, "carol", again.path)
        report = build_report(third, moved.case)
        assert [v["text"] for v in report["claim"]["earlier_versions"]] == ["Market hit"]
    finally:
        third.dispose()


def _rechain(entries: dict[str, bytes], rows: dict) -> None:
    """Rewrite case.json and rebuild the chain around it as anyone holding a bundle can: each
    logged row hash recomputed, every event re-hashed and re-linked, the manifest re-hashed."""
    refs = dict(_row_refs(rows))
    custody = json.loads(entries[fmt.CUSTODY])
    prev = None
    for event in custody:
        ref = (event.get("record_type"), event.get("record_id"))
        if ref in refs and event.get("record_hash"):
            event["record_hash"] = _row_hash(refs[ref])
        if prev is not None:
            event["prev_hash"] = prev
        payload = {k: v for k, v in event.items() if k != "hash"}
        event["hash"] = hashlib.sha256(canonical_json(payload).encode()).hexdigest()
        prev = event["hash"]
    entries[fmt.ROWS] = json.dumps(rows).encode()
    entries[fmt.CUSTODY] = json.dumps(custody).encode()
    rehash_manifest(entries)


@pytest.mark.parametrize(
    ("group", "field", "value"),
    [
        ("case", "title", ["a", "list"]),
        ("case", "title", None),
        ("case", "title", "NUL\x00"),
        ("case", "incident_date", 20190722),
        ("case", "lat", "north"),
        ("items", "file_metadata", "[1, 2]"),
        ("findings", "values", '"text"'),
        ("findings", "items", "E-000001"),
        ("items", "size", "12"),
        ("sites", "claimed", "yes"),
    ],
)
def test_a_wrong_typed_value_in_a_rehashed_bundle_is_refused_before_anything_is_stored(
    source, target, tmp_path: Path, group, field, value
):
    """A value the database cannot store in a bundle whose chain checks was an internal error
    (exit 70), stored by PostgreSQL (a list title) or refused only after the originals had been
    copied in; JSON of the wrong shape (a list where an item's metadata object goes) was
    imported, and evidence show, report and verify then failed on the case with internal
    errors. Each is a BundleError before any file or row is stored."""
    ws, code = source
    good = export_case(ws, "alice", code, tmp_path / "b.zip").path
    before = counts(target), sorted(target.blobs.iter_stored())

    def retype(entries: dict[str, bytes]) -> None:
        rows = json.loads(entries[fmt.ROWS])
        for row in [rows["case"]] if group == "case" else rows[group]:
            row[field] = value
        _rechain(entries, rows)

    rewrite(good, tmp_path / "bad.zip", retype)
    with pytest.raises(BundleError, match=rf"case\.json is malformed: \w+ {field} "):
        import_bundle(target, "bob", tmp_path / "bad.zip")
    assert (counts(target)[:2], sorted(target.blobs.iter_stored())) == (before[0][:2], before[1])


def test_import_never_replaces_a_picture_this_workspace_already_has(source, target, tmp_path: Path):
    """Derived pictures are named by the original's hash: a bundle carrying its own keyframe
    of a video this workspace also holds replaced the picture another case shows."""
    ws, code = source
    good = export_case(ws, "alice", code, tmp_path / "b.zip").path
    with ws.reading() as s:
        sha = workflow.load_case(s, code).items[0].sha256
    mine = target.derived.write("keyframes", sha, "00000000.jpg", b"this workspace's keyframe")
    fresh = f"{fmt.DERIVED}keyframes/{sha[:2]}/{sha}/00000024.jpg"

    def add_pictures(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries[fmt.MANIFEST])
        for name in (f"{fmt.DERIVED}{target.derived.relative(mine)}", fresh):
            entries[name] = b"the bundle's doctored keyframe"
            manifest["files"][name] = {}
        entries[fmt.MANIFEST] = json.dumps(manifest).encode()
        rehash_manifest(entries)

    rewrite(good, tmp_path / "pictures.zip", add_pictures)
    import_bundle(target, "bob", tmp_path / "pictures.zip")
    assert mine.read_bytes() == b"this workspace's keyframe"
    assert target.derived.resolve(fresh[len(fmt.DERIVED) :]).read_bytes().startswith(b"the bund")


def test_import_of_a_pipe_is_refused_not_waited_on(tmp_path: Path):
    """The bundle is hashed to its end first: a pipe (or /dev/zero) made import hang forever."""
    import os

    home = tmp_path / "ws"
    assert run_cli(home, None, "init").returncode == 0
    os.mkfifo(tmp_path / "pipe")
    done = run_cli(home, None, "import", str(tmp_path / "pipe"), timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "claimcheck: error: pipe is not a regular file"
