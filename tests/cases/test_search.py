"""`claimcheck search` end to end, and keyframes stored at ingest: copies of real photos are
found, unrelated photos are not, a still finds the moment of a stored video, JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from cases import workflow
from cases.analysis import (
    ANCHOR_SET_KEY,
    ANCHORS_KEY,
    PICTURE_FEATURES_NAMESPACE,
    picture_features_name,
)
from cases.ingest import LinkSpec, add_evidence
from cases.search import (
    FrameIndex,
    query_pictures,
    search_files,
    stored_items,
    workspace_pixels,
)
from evidence_store.db import init_workspace, open_workspace
from evidence_store.models import Frame
from tests.verify.test_video import write_video
from verify.hashing import HASH_WORKING_SIDE
from verify.media import load_image, load_image_sizes
from verify.samepicture import (
    ANCHOR_COUNT,
    ANCHOR_SET,
    CONFIRM_SIDE,
    FEATURE_SETTINGS,
    MIN_ANCHOR_VOTES,
    PictureFeatures,
    anchor_descriptors,
    anchors_to_hex,
)

ROOT = Path(__file__).resolve().parents[2]


def cc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cases.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def save(path: Path, rgb: np.ndarray, quality: int = 90) -> Path:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@pytest.fixture(scope="module")
def photos(sites_dir: Path) -> dict[str, Path]:
    return {
        "bridge": sites_dir / "london_bridge" / "london_bridge_94185272_3874562886.jpg",
        "castle": sites_dir / "ettlingen_castle" / "0000.jpg",
        "capitol": sites_dir
        / "united_states_capitol"
        / "united_states_capitol_98169888_3347710852.jpg",
        "church": sites_dir / "herz_jesu_church" / "0000.jpg",
        "church_next": sites_dir / "herz_jesu_church" / "0001.jpg",
        "unrelated": sites_dir
        / "piazza_san_marco"
        / sorted(p.name for p in (sites_dir / "piazza_san_marco").glob("*.jpg"))[0],
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory, photos: dict[str, Path]) -> tuple[Path, dict[str, str], Path]:
    """A workspace: C-0001 holds the church photo, C-0002 a three-shot video (bridge, castle,
    capitol, 1.5 s each) and an undecodable video."""
    tmp = tmp_path_factory.mktemp("search")
    frames = []
    for name in ("bridge", "castle", "capitol"):
        rgb = load_image(photos[name], max_side=480)
        h, w = rgb.shape[:2]
        for k in range(15):
            m = round(k * 0.002 * w)
            frames.append(cv2.resize(rgb[m : h - m, m : w - m], (320, 240)))
    video = write_video(tmp / "shots.mp4", frames, 10.0)
    broken = tmp / "broken.mp4"
    broken.write_bytes(video.read_bytes()[:3000])
    home = tmp / "ws"
    w = init_workspace(home)
    ids = {}
    for title in ("Church", "Video"):
        workflow.open_case(w, "tester", title=title, incident_date=date(2020, 1, 1))
    ids["church"] = add_evidence(w, "t", "C-0001", [photos["church"]], kind="photo")[0].item
    seen: list[tuple[str, float, float]] = []
    results = add_evidence(
        w,
        "t",
        "C-0002",
        [video, broken],
        kind="video",
        links=[LinkSpec("denial_footage")],
        on_video_progress=lambda name, done, total: seen.append((name, done, total)),
    )
    ids["video"], ids["broken"] = results[0].item, results[1].item
    assert seen and seen[-1][0] == "shots.mp4" and seen[-1][2] == pytest.approx(4.5, abs=0.2)
    return home, ids, tmp


@pytest.fixture(scope="module")
def searched(store, photos) -> list[dict]:
    """One search call for every query (one process, one index): copies of the church photo,
    other photos, stills of the video's shots and the video itself."""
    home, _, tmp = store
    church = load_image(photos["church"])
    h, w = church.shape[:2]
    small = cv2.resize(church, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    queries = [
        save(tmp / "reencoded.jpg", church, quality=30),
        save(tmp / "resized.jpg", small),
        save(tmp / "cropped.jpg", church[round(0.06 * h) :, round(0.08 * w) : w - round(0.02 * w)]),
        # A 25% crop: whole-picture hashes are lost, the ORB anchors find it.
        save(tmp / "cropped_25.jpg", church[round(h / 6) : h - round(h / 12), round(w / 6) :]),
        photos["church_next"],
        photos["unrelated"],
        photos["castle"],
        photos["capitol"],
        tmp / "shots.mp4",
        save(tmp / "mirrored.jpg", np.ascontiguousarray(church[:, ::-1])),
    ]
    r = cc(home, "search", *map(str, queries), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["results"]
    assert [x["query"] for x in doc["results"]] == [str(q) for q in queries]
    return doc["results"]


def test_video_keyframes_are_stored_with_thumbnails(store):
    home, ids, _ = store
    item = workflow.get_item(open_workspace(home), ids["video"])
    assert item.file_metadata["keyframes"] == 3
    assert [round(f.time_s) for f in item.frames] == [0, 2, 3]
    thumbs = sorted((home / "derived" / "keyframes").rglob("*.jpg"))
    assert len(thumbs) == 3
    assert cv2.imread(str(thumbs[0])).shape[:2] == (240, 320)


def test_undecodable_video_still_ingests_with_the_reason(store):
    home, ids, _ = store
    item = workflow.get_item(open_workspace(home), ids["broken"])
    assert item.file_metadata["keyframes"] == 0 and item.frames == []
    assert any(p.startswith("keyframes: cannot open video") for p in item.file_metadata["problems"])


def test_copies_found_unrelated_not_json_shape(store, searched):
    _, ids, _ = store
    for found in searched[:4]:
        assert [m["item"] for m in found["matches"]] == [ids["church"]], found
        m = found["matches"][0]
        assert {"item", "case", "sha256", "distance", "time"} <= set(m)  # the shape
        assert set(m) - {"item", "case", "sha256", "distance", "time"} == {
            "query_time",
            "mirrored",
            "confirmed_by",
            "alignment",
        }
        assert m["confirmed_by"] in ("hashes", "pixel_alignment")
        assert (m["alignment"] is None) == (m["confirmed_by"] == "hashes")
        assert m["case"] == "C-0001" and m["time"] is None and len(m["sha256"]) == 64
        assert set(m["distance"]) == {"phash", "dhash", "pdq", "colorhash"}
    # Another photo of the same church, and a photo of another place: no match.
    assert searched[4]["matches"] == [] and searched[5]["matches"] == []


def test_a_still_finds_the_video_moment(store, searched):
    _, ids, _ = store
    castle, capitol = searched[6]["matches"], searched[7]["matches"]
    assert [m["item"] for m in castle] == [ids["video"]]
    assert castle[0]["case"] == "C-0002" and castle[0]["time"] == pytest.approx(1.5, abs=0.25)
    assert [m["item"] for m in capitol] == [ids["video"]]
    assert capitol[0]["time"] == pytest.approx(3.0, abs=0.25)


def test_a_video_query_reports_each_moment_best_first(store, searched):
    _, ids, _ = store
    matches = searched[8]["matches"]
    assert {m["item"] for m in matches} == {ids["video"]}
    assert sorted(round(m["time"]) for m in matches) == [0, 2, 3]
    pdq = [m["distance"]["pdq"] for m in matches]
    assert pdq == sorted(pdq)
    assert all(m["query_time"] is not None for m in matches)


def test_json_says_how_a_match_was_made(store, searched):
    _, ids, _ = store
    [mirrored] = searched[9]["matches"]
    assert mirrored["item"] == ids["church"] and mirrored["mirrored"] is True
    assert mirrored["confirmed_by"] == "hashes" and mirrored["query_time"] is None
    [crop] = searched[3]["matches"]  # the 25% crop: only pixel alignment can confirm it
    assert crop["confirmed_by"] == "pixel_alignment" and crop["mirrored"] is False
    assert crop["alignment"]["is_same"] is True and crop["alignment"]["inliers"] >= 25
    [plain] = searched[0]["matches"]
    assert plain["mirrored"] is False and plain["confirmed_by"] == "hashes"


def test_search_can_be_restricted_to_one_case(store, photos):
    home, _, _ = store
    r = cc(home, "search", str(photos["castle"]), "--case", "C-0001", "--json")
    assert json.loads(r.stdout)["results"][0]["matches"] == []


def test_bad_inputs_are_one_line_errors(store, tmp_path):
    home, _, _ = store
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for args, message in (
        ([str(tmp_path / "missing.jpg")], "file not found"),
        ([str(text)], "neither a photo nor a video"),
        ([str(store[2] / "broken.mp4")], "cannot open video"),
        ([], "Missing argument"),
    ):
        r = cc(home, "search", *args)
        assert r.returncode != 0
        assert message in r.stderr and "Traceback" not in r.stderr
    r = cc(home, "search", str(text), "--case", "C-0099")
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_a_file_that_cannot_be_read_is_named(store, photos, tmp_path):
    """Among many query files, the error names the one that failed (a 1x1 picture cannot be
    hashed), on one line; the other files' results are still given, and the exit status says
    that one was refused."""
    home, _, _ = store
    tiny = save(tmp_path / "tiny.png", np.zeros((1, 1, 3), np.uint8))
    good = next(iter(photos.values()))
    for args in ((str(good), str(tiny)), (str(tiny), str(good))):
        r = cc(home, "search", *args)
        assert r.returncode == 1, r.stderr
        assert f"cannot search {tiny}:" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert f"{good}: " in r.stdout and str(tiny) not in r.stdout
    r = cc(home, "search", str(tiny), str(good), "--json")
    assert r.returncode == 1 and f"cannot search {tiny}:" in r.stderr
    [result] = json.loads(r.stdout)["results"]
    assert result["query"] == str(good) and result["matches"]


def test_ingest_caches_picture_features_for_the_pixel_check(store):
    home, _, _ = store
    cached = sorted((home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("*.npz"))
    # The church photo and the three keyframes of the video.
    assert len(cached) == 4
    assert all(p.name.startswith(FEATURE_SETTINGS) for p in cached)


def test_older_anchor_sets_and_lost_caches_are_recomputed(tmp_path, photos):
    """A workspace whose frames carry anchors of another definition (or of the first one, which
    recorded no name) and whose feature cache is gone or damaged: its anchors are recomputed,
    never compared across definitions, and the 25% crop is still found."""
    home = tmp_path / "ws"
    ws = init_workspace(home)
    workflow.open_case(ws, "tester", title="Church", incident_date=date(2020, 1, 1))
    church_id = add_evidence(ws, "t", "C-0001", [photos["church"]], kind="photo")[0].item
    add_evidence(ws, "t", "C-0001", [photos["unrelated"]], kind="photo")
    church = load_image(photos["church"])
    h, w = church.shape[:2]
    crop = save(tmp_path / "crop.jpg", church[h // 6 : h - h // 12, w // 6 :])
    crop_anchors = anchors_to_hex(anchor_descriptors(load_image(crop, max_side=CONFIRM_SIDE)))

    def age(session) -> None:
        for frame in session.scalars(select(Frame)):
            hashes = dict(frame.hashes)
            if frame.item.code == church_id:
                # As the first definition stored it: no name, other anchors.
                hashes.pop(ANCHOR_SET_KEY)
                hashes[ANCHORS_KEY] = hashes[ANCHORS_KEY][:64]
            else:
                # Under another definition, anchors that would vote for the crop if compared.
                hashes[ANCHOR_SET_KEY] = "strongest64-some-other-definition"
                hashes[ANCHORS_KEY] = crop_anchors
            frame.hashes = hashes

    ws.run_write(age)
    cached = sorted((home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("*.npz"))
    cached[0].write_bytes(b"damaged")
    cached[1].unlink()
    ws = open_workspace(home)
    # Evidence added after the upgrade has current anchors: the index holds both kinds.
    castle_id = add_evidence(ws, "t", "C-0001", [photos["castle"]], kind="photo")[0].item
    index = FrameIndex(stored_items(ws), workspace_pixels(ws))
    query = PictureFeatures(load_image(crop, max_side=CONFIRM_SIDE))
    assert index._anchor_votes(query, index._anchors) == {}  # stale anchors are not compared
    index._refresh_stale_anchors()
    votes = index._anchor_votes(query, index._anchors)
    church_frame = next(i for i, f in enumerate(index.frames) if f.item.code == church_id)
    assert votes.most_common(1)[0][0] == church_frame
    assert votes[church_frame] >= MIN_ANCHOR_VOTES
    [result] = search_files(ws, [crop])
    assert [m.item for m in result.matches] == [church_id]
    # The cache was rebuilt: both pictures' features are readable again, and their current
    # anchors are cached too (an older workspace pays for them once, not per call).
    for sha in {f.item.sha256 for f in index.frames if f.item.code != castle_id}:
        blob = ws.derived.read(PICTURE_FEATURES_NAMESPACE, sha, picture_features_name(0))
        assert blob is not None
        PictureFeatures.from_bytes(blob, lambda: church)
        anchors = ws.derived.read(PICTURE_FEATURES_NAMESPACE, sha, f"{ANCHOR_SET}-00000000.anchors")
        assert anchors is not None and len(anchors) == 32 * ANCHOR_COUNT
    church_sha = index.frames[church_frame].item.sha256
    church_anchors = ws.derived.read(
        PICTURE_FEATURES_NAMESPACE, church_sha, f"{ANCHOR_SET}-00000000.anchors"
    )
    expected = anchor_descriptors(load_image(photos["church"], max_side=CONFIRM_SIDE))
    assert church_anchors == expected.tobytes()


def test_heic_evidence_is_hashed_and_found(tmp_path, sites_dir):
    """A phone's HEIC photo is decoded at ingest like a JPEG: the JPEG it shows finds it."""
    from PIL import Image

    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2020, 1, 1)).code
    castle = sites_dir / "ettlingen_castle" / "0003.jpg"
    Image.open(castle).save(tmp_path / "IMG_0001.heic", quality=80)
    (added,) = add_evidence(ws, "t", code, [tmp_path / "IMG_0001.heic"], kind="photo")
    assert added.warning is None
    (result,) = search_files(ws, [castle])
    assert [m.item for m in result.matches] == [added.item]


def test_a_query_decoded_once_finds_what_two_decodes_find(store, photos, tmp_path, monkeypatch):
    """A phone-sized JPEG (hashes and pixel check both decode it at 1/8 scale) and a PNG are
    decoded once for both; the matches and their measurements are those of two decodes."""
    home, _, _ = store
    church = load_image(photos["church"])
    h, w = church.shape[:2]

    def phone_sized(rgb: np.ndarray) -> np.ndarray:
        scale = 3024 / min(rgb.shape[:2])
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)

    png = tmp_path / "screenshot.png"
    cv2.imwrite(str(png), cv2.cvtColor(church[: h * 4 // 5, w // 8 :], cv2.COLOR_RGB2BGR))
    queries = [
        save(tmp_path / "phone.jpg", phone_sized(church)),
        save(tmp_path / "phone_crop.jpg", phone_sized(church[h // 6 : h - h // 12, w // 6 :])),
        png,
    ]
    assert all(load_image_sizes(q, HASH_WORKING_SIDE, CONFIRM_SIDE) is not None for q in queries)
    shared = [r.as_dict() for r in search_files(open_workspace(home), queries)]
    assert all(r["matches"] for r in shared)
    assert any(m["confirmed_by"] == "pixel_alignment" for r in shared for m in r["matches"])
    monkeypatch.setattr("cases.search.load_image_sizes", lambda *args: None)
    assert [r.as_dict() for r in search_files(open_workspace(home), queries)] == shared


def test_mirror_votes_counted_on_the_near_pictures_alone_decide_as_all_would(
    store, photos, tmp_path, monkeypatch
):
    """A search of a file counts the mirror image's anchor votes against the anchors of the
    near pictures closer mirrored only: the pairs to align, and their orientation, are those
    counting against every stored anchor gives."""
    home, _, _ = store
    church = load_image(photos["church"])
    h = church.shape[0]
    queries = [
        save(tmp_path / "mirrored_crop.jpg", np.ascontiguousarray(church[h // 10 :, ::-1])),
        save(tmp_path / "mirrored.jpg", np.ascontiguousarray(church[:, ::-1]), quality=40),
        photos["church_next"],
        photos["castle"],
    ]
    index = FrameIndex(stored_items(open_workspace(home)), workspace_pixels(open_workspace(home)))

    def plan() -> list[list[tuple[int, object, bool]]]:
        out = []
        for q in queries:
            [picture] = query_pictures(q)
            assert picture.pixels is not None
            out.append(index.candidates(picture.hashes, picture.pixels).to_align)
        return out

    subset = plan()
    monkeypatch.setattr(FrameIndex, "_anchor_index", lambda self, positions: self._anchors)
    assert plan() == subset
    assert any(flip for pairs in subset for _, _, flip in pairs)
