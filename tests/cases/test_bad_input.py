"""Bad input never crashes, hangs or exhausts memory: each file gets a one-line error, or is
stored with the reason its analysis is partial (issue 7). The CLI runs under an address-space
limit so a memory blowup would fail the test instead of the machine."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from cases.errors import CaseError, InputError, WrongKindError
from cases.ingest import LinkSpec, add_evidence, add_statement
from cases.workflow import add_site, get_item, load_case, open_case
from evidence_store.db import init_workspace
from evidence_store.errors import SourceFileError, StoreError
from evidence_store.fsck import check_store
from tests.cases.cli_helpers import ROOT, cli_args
from tests.cases.hostile_files import absurd_exif_jpeg, png_bomb, video_declaring_frames

# Generous for a loaded 2-core machine; a hang (the invalid EXIF set once looped forever) blows it.
SECONDS_PER_FILE = 10.0
MEMORY_LIMIT_BYTES = 3 << 30


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sites_dir: Path, exif_dir: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    real = (sites_dir / "ettlingen_castle" / "0000.jpg").read_bytes()
    files = {
        "truncated.jpg": real[: len(real) // 3],
        "corrupt.png": b"\x89PNG\r\n\x1a\n" + os.urandom(3000),
        "corrupt.mp4": b"\0\0\0\x18ftypmp42" + os.urandom(5000),
        "png disguised as.jpg": None,
    }
    out: dict[str, Path] = {}
    for name, data in files.items():
        if data is not None:
            (d / name).write_bytes(data)
            out[name] = d / name
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(d / "png disguised as.jpg", format="PNG")
    out["png disguised as.jpg"] = d / "png disguised as.jpg"
    out["bomb.png"] = png_bomb(d / "bomb.png")
    out["absurd exif.jpg"] = absurd_exif_jpeg(d / "absurd exif.jpg", real)
    out["huge frames.mp4"] = video_declaring_frames(d / "huge frames.mp4", 2_000_000)
    for p in sorted((exif_dir / "invalid").glob("*.jpg")):
        out[f"invalid/{p.name}"] = p
    return out


@pytest.fixture
def ws(tmp_path: Path):
    w = init_workspace(tmp_path / "ws")
    open_case(w, "t", title="T", incident_date=date(2019, 7, 22))
    yield w
    w.dispose()


def test_each_hostile_file_is_stored_with_reasons_or_refused(ws, hostile):
    for name, path in hostile.items():
        kind = "video" if name.endswith(".mp4") else "photo"
        start = time.monotonic()
        try:
            [result] = add_evidence(ws, "t", "C-0001", [path], kind=kind)
        except (CaseError, StoreError) as exc:
            assert "\n" not in str(exc)
            continue
        finally:
            assert time.monotonic() - start < SECONDS_PER_FILE, name
        item = get_item(ws, result.item)
        meta = item.file_metadata or {}
        if name in ("truncated.jpg", "corrupt.png", "corrupt.mp4", "bomb.png"):
            assert meta.get("problems"), f"{name}: partial analysis without a reason"
        if name == "bomb.png":
            assert any("100000x100000" in p or "bomb" in p for p in meta["problems"])
            assert not item.frames  # no pixels decoded, so no perceptual hash
        # Stored but not analysable: the investigator is told at once, with the reason.
        assert (result.warning is not None) == (not item.frames), name
        if result.warning is not None:
            assert result.item in result.warning and "\n" not in result.warning
        if name == "png disguised as.jpg":
            assert item.media_type == "image/png"  # sniffed, never the extension
    assert check_store(ws).ok


def test_refusals_are_one_line_typed_errors(ws, tmp_path: Path):
    empty = tmp_path / "zero.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture", encoding="utf-8")
    for path, kind, error in (
        (empty, "photo", SourceFileError),
        (text, "photo", WrongKindError),
        (text, "video", WrongKindError),
        (tmp_path / "missing.mp4", "video", SourceFileError),
        (tmp_path, "document", SourceFileError),
    ):
        with pytest.raises(error) as info:
            add_evidence(ws, "t", "C-0001", [path], kind=kind)
        assert "\n" not in str(info.value)


def test_a_site_goes_with_reference_imagery_only(ws, tmp_path: Path, sites_dir: Path):
    """A claim item linked to a site would become reference imagery of it (audit 1); reference
    imagery of no site is a reference of nothing (audit 14). Both are refused before anything
    is stored, also for a file already in the case."""
    add_site(ws, "t", "C-0001", name="market", lat=1.0, lon=1.0)
    photo = sites_dir / "ettlingen_castle" / "0000.jpg"
    [held] = add_evidence(ws, "t", "C-0001", [photo], kind="photo", links=[LinkSpec("other")])
    fresh = sites_dir / "ettlingen_castle" / "0001.jpg"
    for link in (
        LinkSpec("supports_claim", "market"),
        LinkSpec("denial_footage", "market"),
        LinkSpec("other", "market"),
        LinkSpec("site_reference"),
    ):
        for path in (photo, fresh):
            with pytest.raises(InputError) as info:
                add_evidence(ws, "t", "C-0001", [path], kind="photo", links=[link])
            assert "\n" not in str(info.value) and "site_reference" in str(info.value)
    with pytest.raises(InputError):
        add_statement(ws, "t", "C-0001", witness="W", text="I saw it.", role="site_reference")
    with ws.reading() as session:
        case = load_case(session, "C-0001")
        assert [i.code for i in case.items] == [held.item]
        assert [(lk.role, lk.site) for lk in case.items[0].links] == [("other", None)]
    assert check_store(ws).ok


def test_statements_in_unexpected_encodings(ws, tmp_path: Path):
    words = "رأيت الطائرة فوق السوق"
    cp1256 = tmp_path / "witness.txt"
    cp1256.write_bytes(words.encode("cp1256"))
    with pytest.raises(InputError, match="--encoding"):
        add_statement(ws, "t", "C-0001", witness="W", file=cp1256)
    assert add_statement(ws, "t", "C-0001", witness="W", file=cp1256, encoding="cp1256").new_item
    utf16 = tmp_path / "witness16.txt"
    utf16.write_bytes(words.encode("utf-16"))
    assert add_statement(ws, "t", "C-0001", witness="W2", file=utf16).new_item
    with pytest.raises(InputError, match="unknown text encoding"):
        add_statement(ws, "t", "C-0001", witness="W", file=cp1256, encoding="klingon-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\0\1\2" * 100)
    with pytest.raises((InputError, WrongKindError)):
        add_statement(ws, "t", "C-0001", witness="W", file=binary)


def test_a_huge_statement_file_is_refused_without_being_read(ws, tmp_path: Path):
    """The size limit was checked after reading the whole file: a 2 GB text file took 2.2 GB
    of memory to refuse, and a larger one exhausted it."""
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as fh:
        fh.write("شاهد ".encode() * 100)
        fh.truncate(1 << 28)  # sparse: costs no disk
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"larger than .* add it as a document"):
            add_statement(ws, "t", "C-0001", witness="W", file=huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 26


def test_paths_with_spaces_unicode_and_dotdot(ws, tmp_path: Path, sites_dir: Path):
    folder = tmp_path / "témoin files" / "صور"
    folder.mkdir(parents=True)
    photo = folder / "photo of the market ✓.jpg"
    photo.write_bytes((sites_dir / "ettlingen_castle" / "0001.jpg").read_bytes())
    via_dotdot = tmp_path / "témoin files" / "صور" / ".." / "صور" / photo.name
    [r] = add_evidence(ws, "t", "C-0001", [via_dotdot], kind="photo")
    assert get_item(ws, r.item).filename == "photo of the market ✓.jpg"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(home, None, *args), capture_output=True, text=True, cwd=ROOT, timeout=300,
        preexec_fn=_limited, env=os.environ | {"CLAIMCHECK_ACTOR": "t"},
    )  # fmt: skip


def test_cli_ingests_and_verifies_hostile_footage_under_a_memory_limit(
    tmp_path, hostile, sites_dir
):
    home = tmp_path / "ws"
    assert _cli(home, "init").returncode == 0
    assert _cli(home, "case", "open", "T", "--date", "2019-07-22").returncode == 0
    assert (
        _cli(
            home, "site", "add", "C-0001", "castle", "--lat", "48.9", "--lon", "8.4", "--claimed"
        ).returncode
        == 0
    )
    ref = sites_dir / "ettlingen_castle" / "0002.jpg"
    r = _cli(home, "evidence", "add", "C-0001", str(ref), "--kind", "photo", "--site", "castle")
    assert r.returncode == 0, r.stderr
    photos = [str(p) for n, p in hostile.items() if not n.endswith(".mp4")]
    videos = [str(p) for n, p in hostile.items() if n.endswith(".mp4")]
    for files, kind in ((photos, "photo"), (videos, "video")):
        r = _cli(
            home, "evidence", "add", "C-0001", *files, "--kind", kind, "--role", "denial_footage"
        )
        assert r.returncode == 0, r.stderr
    r = _cli(home, "verify", "C-0001", "--json")
    assert r.returncode == 0, r.stderr
    findings = json.loads(r.stdout)["findings"]
    site = {tuple(f["items"]): f for f in findings if f["check"] == "site_match"}
    listed = json.loads(_cli(home, "evidence", "list", "C-0001", "--json").stdout)["items"]
    by_name = {i["filename"]: i["id"] for i in listed}
    for name in ("bomb.png", "huge frames.mp4", "corrupt.mp4", "corrupt.png"):
        f = site[(by_name[name],)]
        assert f["verdict"] == "inconclusive" and f["detail"], f
    r = _cli(home, "evidence", "add", "C-0001", str(tmp_path / "nope.jpg"), "--kind", "photo")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert _cli(home, "fsck").returncode == 0


def test_pictures_too_small_to_compare_are_stored_with_a_reason(ws, tmp_path: Path):
    """A photo with a side under 4 pixels (a 3x300 strip, a 2x2 icon) or a 2x2 video made ORB's
    pyramid abort inside OpenCV: `evidence add` and `search` ended in an internal error (exit
    70). They are stored with the reason, as any undecodable picture is."""
    import numpy as np
    from PIL import Image

    from cases.search import search_files
    from tests.verify.test_video import write_video
    from verify.errors import UnreadableMediaError

    rng = np.random.default_rng(0)
    files = []
    for name, (h, w) in (("strip.png", (3, 300)), ("icon.png", (2, 2))):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
        files.append(tmp_path / name)
    frames = [np.full((2, 2, 3), 9 * i, np.uint8) for i in range(8)]
    video = write_video(tmp_path / "tiny.mp4", frames, 25)
    for path in [*files, video]:
        kind = "video" if path.suffix == ".mp4" else "photo"
        [result] = add_evidence(ws, "t", "C-0001", [path], kind=kind)
        assert result.warning is not None and "too small" in result.warning
        # The error names the query file (search takes many) and says why.
        with pytest.raises(InputError, match="too small") as raised:
            search_files(ws, [path])
        assert str(path) in str(raised.value)
        assert isinstance(raised.value.__cause__, UnreadableMediaError)
    assert check_store(ws).ok
