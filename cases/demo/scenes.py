"""Build the demo case's media: reference imagery of two markets, damaged claim photos, denial
footage that really shows the other market, a recycled older photo and a witness statement.

Everything is rendered from procedurally generated 3D scenes (see `markets` and `scene3d`), so
the demo needs no downloads and the same seed always yields byte-identical files (with the same
OpenCV and Pillow versions: their resampling and encoders define the exact bytes). Generation takes
about 4 s of CPU on one core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from cases.demo.effects import republish, strike_damage
from cases.demo.exifwrite import CameraTags, write_jpeg
from cases.demo.facts import (
    ALHAL_MARKET,
    CLAIM,
    DENIAL,
    DENIAL_EARLY_STILL_TIME,
    DENIAL_FOOTAGE_TIME,
    INCIDENT_TIME,
    OLDER_ITEM_TIME,
    POPULAR_MARKET,
    WITNESS,
    WITNESS_STATEMENT,
    DemoSite,
    DemoStatement,
    DemoWitness,
)
from cases.demo.markets import ALHAL_LAYOUT, POPULAR_LAYOUT, build_market
from cases.demo.scene3d import Camera, Scene, render

PHOTO_SIZE = (1280, 720)
VIDEO_SIZE = (960, 540)
VIDEO_FPS = 12
VIDEO_SECONDS = 7
VIDEO_FRAMES = VIDEO_FPS * VIDEO_SECONDS
RECYCLE_WATERMARK = "MINISTRY OF DEFENCE"

# Viewpoints (x, y, z in metres; yaw, pitch in degrees). Reference photos stand back from the
# street; claim and denial photos are taken from other spots so no view is a copy of another.
_POPULAR_REFERENCE_VIEWS = (
    (-5.0, 1.6, -8.0, -8.0, 9.0),
    (2.0, 1.7, -5.0, 4.0, 8.0),
    (8.0, 1.6, -9.0, 14.0, 9.0),
)
_ALHAL_REFERENCE_VIEWS = (
    (-6.0, 1.6, -8.0, -6.0, 9.0),
    (1.0, 1.6, -6.0, 3.0, 8.0),
    (7.0, 1.7, -9.0, 8.0, 9.0),
)
_CLAIM_VIEWS = ((0.0, 1.6, -2.0, -2.0, 8.0, 0.55), (-8.0, 1.5, -4.0, -14.0, 10.0, 0.7))
_OLDER_VIEW = (-2.0, 1.6, -7.0, -2.0, 8.0)
_GPS_STILL_VIEW = (4.0, 1.6, -3.0, 6.0, 8.0)
# Its pHash is at least 20 bits from every other demo photo: no near-duplicate of anything.
_EARLY_STILL_VIEW = (-1.0, 1.6, -3.5, -18.0, 9.0)
# The walk-through leaves the stretch of street the references show: the first two overlap the
# references, the last two only their neighbours (issue 9, footage graph).
_WALKTHROUGH_VIEWS = (
    (13.0, 1.6, -4.0, 10.0, 8.0),
    (22.0, 1.6, -3.0, 10.0, 8.0),
    (38.0, 1.6, -3.0, 10.0, 8.0),
    (47.0, 1.6, -2.0, 6.0, 8.0),
)
_WALKTHROUGH_DIRECT = 2


@dataclass(frozen=True)
class DemoAssets:
    """Every file of the demo case, grouped by the role it plays, and the facts of the story."""

    out_dir: Path
    seed: int
    # reference imagery, three viewpoints per market
    reference_popular: tuple[Path, ...]
    reference_alhal: tuple[Path, ...]
    # the claim: photos of the damaged popular market, EXIF time and GPS on the incident
    claim_photos: tuple[Path, ...]
    # the denial: a video and two stills, all of the al Hal market
    denial_video: Path
    denial_stills: tuple[Path, ...]  # (gps_still, recycled_still)
    gps_still: Path  # EXIF GPS at the al Hal market
    recycled_still: Path  # re-published copy of older_item
    early_still: Path  # denial still of al Hal market, EXIF time two days before the strike
    denial_walkthrough: tuple[Path, ...]  # further denial photos along the al Hal street
    # the last walk-through photos, which share no view with the references: only their
    # neighbours in the walk tie them to the al Hal market (issue 9)
    walkthrough_beyond_references: tuple[Path, ...]
    # a photo of al Hal market from 2017, collected earlier (belongs to an older case)
    older_item: Path
    statement_text: Path
    video_fps: int
    video_frame_count: int
    # the story
    popular_market: DemoSite
    alhal_market: DemoSite
    incident_time: datetime
    incident_date: date
    denial_footage_time: datetime
    older_item_time: datetime
    claim: DemoStatement
    denial: DemoStatement
    witness: DemoWitness


def _camera(view: tuple[float, ...]) -> Camera:
    x, y, z, yaw, pitch = view[:5]
    return Camera((x, y, z), yaw, pitch)


def _render_photo(scene: Scene, view: tuple[float, ...]) -> np.ndarray:
    return render(scene, _camera(view), *PHOTO_SIZE)


def _phone(taken: datetime, site: DemoSite | None, model: str = "Galaxy A50") -> CameraTags:
    lat = None if site is None else site.latitude
    lon = None if site is None else site.longitude
    return CameraTags(make="samsung", model=model, taken=taken, latitude=lat, longitude=lon)


def _video_camera(i: int) -> Camera:
    """A handheld walk along the al Hal street: forward and right, panning, with a slight bob."""
    t = i / (VIDEO_FRAMES - 1)
    ease = 0.5 - 0.5 * math.cos(math.pi * t)
    x = -4.0 + 10.0 * ease
    z = -7.0 + 4.0 * ease
    bob = 0.03 * math.sin(2 * math.pi * 1.8 * t * VIDEO_SECONDS / 2)
    return Camera((x, 1.65 + bob, z), -10.0 + 25.0 * ease, 8.0 + 0.5 * bob * 10)


def _write_video(scene: Scene, path: Path) -> int:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), VIDEO_FPS, VIDEO_SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MP4 video to {path}")
    try:
        for i in range(VIDEO_FRAMES):
            frame = render(scene, _video_camera(i), *VIDEO_SIZE)
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()
    return VIDEO_FRAMES


def build_demo_assets(out_dir: Path, *, seed: int = 2019) -> DemoAssets:
    """Render every demo file into out_dir (created if needed) and return where each one is."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(4)
    popular = build_market(np.random.default_rng(seeds[0]), POPULAR_LAYOUT)
    alhal = build_market(np.random.default_rng(seeds[1]), ALHAL_LAYOUT)
    damage_rng = np.random.default_rng(seeds[2])

    ref_pop = tuple(
        write_jpeg(out_dir / f"reference_popular_market_{i}.jpg", _render_photo(popular, v))
        for i, v in enumerate(_POPULAR_REFERENCE_VIEWS, 1)
    )
    ref_alhal = tuple(
        write_jpeg(out_dir / f"reference_alhal_market_{i}.jpg", _render_photo(alhal, v))
        for i, v in enumerate(_ALHAL_REFERENCE_VIEWS, 1)
    )
    claim_photos = []
    for i, view in enumerate(_CLAIM_VIEWS, 1):
        damaged = strike_damage(damage_rng, _render_photo(popular, view), centre_x=view[5])
        taken = INCIDENT_TIME + timedelta(minutes=14 + 9 * i)
        claim_photos.append(
            write_jpeg(
                out_dir / f"claim_photo_{i}.jpg",
                damaged,
                tags=_phone(taken, POPULAR_MARKET, "SM-J530F"),
            )
        )

    older = _render_photo(alhal, _OLDER_VIEW)
    older_item = write_jpeg(
        out_dir / "older_alhal_market_2017.jpg",
        older,
        tags=_phone(OLDER_ITEM_TIME, ALHAL_MARKET, "GT-I9300"),
    )
    recycled = republish(older, crop=0.04, width=1024, watermark=RECYCLE_WATERMARK)
    recycled_still = write_jpeg(out_dir / "denial_still_recycled.jpg", recycled, quality=78)
    gps_still = write_jpeg(
        out_dir / "denial_still_gps.jpg",
        _render_photo(alhal, _GPS_STILL_VIEW),
        tags=_phone(DENIAL_FOOTAGE_TIME, ALHAL_MARKET),
    )
    early_still = write_jpeg(
        out_dir / "denial_still_before_strike.jpg",
        _render_photo(alhal, _EARLY_STILL_VIEW),
        tags=_phone(DENIAL_EARLY_STILL_TIME, None),
    )
    walkthrough = tuple(
        write_jpeg(
            out_dir / f"denial_walkthrough_{i}.jpg",
            _render_photo(alhal, view),
            tags=_phone(DENIAL_FOOTAGE_TIME + timedelta(minutes=2 * i), None),
        )
        for i, view in enumerate(_WALKTHROUGH_VIEWS, 1)
    )
    video = out_dir / "denial_video.mp4"
    frames = _write_video(alhal, video)
    statement = out_dir / "witness_statement.txt"
    statement.write_text(WITNESS_STATEMENT, encoding="utf-8")

    return DemoAssets(
        out_dir=out_dir,
        seed=seed,
        reference_popular=ref_pop,
        reference_alhal=ref_alhal,
        claim_photos=tuple(claim_photos),
        denial_video=video,
        denial_stills=(gps_still, recycled_still),
        gps_still=gps_still,
        recycled_still=recycled_still,
        early_still=early_still,
        denial_walkthrough=walkthrough,
        walkthrough_beyond_references=walkthrough[_WALKTHROUGH_DIRECT:],
        older_item=older_item,
        statement_text=statement,
        video_fps=VIDEO_FPS,
        video_frame_count=frames,
        popular_market=POPULAR_MARKET,
        alhal_market=ALHAL_MARKET,
        incident_time=INCIDENT_TIME,
        incident_date=INCIDENT_TIME.date(),
        denial_footage_time=DENIAL_FOOTAGE_TIME,
        older_item_time=OLDER_ITEM_TIME,
        claim=CLAIM,
        denial=DENIAL,
        witness=WITNESS,
    )
