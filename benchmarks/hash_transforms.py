"""The transform suite and image sets the hashing benchmarks share (benchmark code only).

Each transform maps an RGB uint8 picture to the edited copy a re-poster would make; the copy is
saved as JPEG (quality 90 unless the transform says otherwise) and hashed from the file, so the
whole ingest path (reduced decode included) is exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"
CALIBRATION = SHARED / "calibration"


@dataclass(frozen=True)
class SourceImage:
    """One distinct picture; `group` names pictures that are frames of one continuous shot."""

    path: Path
    group: str | None = None


def dev_images() -> list[SourceImage]:
    """The distinct real photos in ../shared/data.

    Only orientation 1 of each EXIF-orientation set counts: the other seven files are the same
    photo. The 17 `sequence/` frames are consecutive frames of one hand-held shot, about a second
    apart: they are neither copies nor unrelated pictures, so pairs between them are left out of
    the false-match count and reported on their own (group "sequence").
    """
    images = [SourceImage(p) for p in sorted((DATA / "sites").glob("*/*.jpg"))]
    images += [SourceImage(p) for p in sorted((DATA / "exif" / "gps").glob("*.jpg"))]
    images += [
        SourceImage(DATA / "exif" / "orientation" / name)
        for name in ("landscape_1.jpg", "portrait_1.jpg")
    ]
    images += [SourceImage(p, "sequence") for p in sorted((DATA / "sequence").glob("*.png"))]
    return images


def calibration_images() -> list[SourceImage]:
    """The 17 overlapping drone photos: neighbours overlap but are different pictures."""
    return [SourceImage(p) for p in sorted((CALIBRATION / "palm_desert_drone").glob("*.JPG"))]


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _crop(rgb: np.ndarray, fraction: float) -> np.ndarray:
    # Removes `fraction` of the width and of the height, unevenly (2/3 from the left/top),
    # as a re-poster trimming a border or a caption would.
    h, w = rgb.shape[:2]
    dx, dy = round(w * fraction), round(h * fraction)
    left, top = dx * 2 // 3, dy * 2 // 3
    return rgb[top : h - (dy - top), left : w - (dx - left)].copy()


def _overlay(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    h, w = out.shape[:2]
    scale = w / 600
    cv2.putText(
        out,
        "BREAKING NEWS 24",
        (round(0.05 * w), round(0.9 * h)),
        cv2.FONT_HERSHEY_SIMPLEX,
        1.2 * scale,
        (255, 255, 255),
        max(1, round(3 * scale)),
        cv2.LINE_AA,
    )
    # A channel logo in the top-right corner: a filled badge with a letter in it.
    x0, y0, side = round(0.82 * w), round(0.04 * h), round(0.12 * w)
    cv2.rectangle(out, (x0, y0), (x0 + side, y0 + side // 2), (200, 20, 20), -1)
    cv2.putText(
        out,
        "TV",
        (x0 + side // 5, y0 + side * 2 // 5),
        cv2.FONT_HERSHEY_DUPLEX,
        0.9 * scale,
        (255, 255, 255),
        max(1, round(2 * scale)),
    )
    return out


def _brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _contrast(rgb: np.ndarray, factor: float) -> np.ndarray:
    mean = rgb.astype(np.float32).mean()
    return np.clip((rgb.astype(np.float32) - mean) * factor + mean, 0, 255).astype(np.uint8)


def _blur(rgb: np.ndarray) -> np.ndarray:
    # Sigma 0.4% of the long side, kept within 1.5-4 px: visibly soft at any photo size.
    sigma = min(4.0, max(1.5, 0.004 * max(rgb.shape[:2])))
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def _rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def _screenshot(rgb: np.ndarray) -> np.ndarray:
    # A phone screenshot of a post: dark UI bars above and below, thin side margins, text in bars.
    h, w = rgb.shape[:2]
    top, bottom, side = round(0.15 * h), round(0.25 * h), round(0.03 * w)
    canvas = np.full((h + top + bottom, w + 2 * side, 3), 24, dtype=np.uint8)
    canvas[top : top + h, side : side + w] = rgb
    scale = w / 600
    cv2.putText(
        canvas,
        "@ministry  2h",
        (side + 10, round(top * 0.6)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.8 * scale,
        (230, 230, 230),
        max(1, round(2 * scale)),
    )
    cv2.putText(
        canvas,
        "Like  Comment  Share",
        (side + 10, top + h + round(bottom * 0.5)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.8 * scale,
        (230, 230, 230),
        max(1, round(2 * scale)),
    )
    return canvas


@dataclass(frozen=True)
class Transform:
    name: str
    apply: Callable[[np.ndarray], np.ndarray]
    jpeg_quality: int = 90


TRANSFORMS: tuple[Transform, ...] = (
    Transform("resize_0.5", lambda x: _resize(x, 0.5)),
    Transform("resize_0.25", lambda x: _resize(x, 0.25)),
    Transform("jpeg_q30", lambda x: x, 30),
    Transform("crop_10", lambda x: _crop(x, 0.10)),
    Transform("crop_25", lambda x: _crop(x, 0.25)),
    Transform("overlay_text_logo", _overlay),
    Transform("brightness_+20", lambda x: _brightness(x, 1.2)),
    Transform("brightness_-20", lambda x: _brightness(x, 0.8)),
    Transform("contrast_+20", lambda x: _contrast(x, 1.2)),
    Transform("contrast_-20", lambda x: _contrast(x, 0.8)),
    Transform("gaussian_blur", _blur),
    Transform("rotate_5", lambda x: _rotate(x, 5.0)),
    Transform("mirror", lambda x: np.ascontiguousarray(x[:, ::-1])),
    Transform("screenshot_padding", _screenshot),
)


# Harder edits than the suite, for choosing crop-tolerant anchors on the dev set once the suite is
# saturated there (benchmarks/bench_anchor_variants.py --proxy). Combinations investigators meet:
# a deeper crop; a crop re-posted as a small, heavily compressed thumbnail; a picture straightened
# by a few degrees and cropped to hide the corners; a cropped copy with a channel's watermark.
# Fixed before any anchor variant was scored on them; never part of the robustness target.
HARD_TRANSFORMS: tuple[Transform, ...] = (
    Transform("crop_35", lambda x: _crop(x, 0.35)),
    Transform("crop_25+resize_0.5+q40", lambda x: _resize(_crop(x, 0.25), 0.5), 40),
    Transform("rotate_3+crop_25", lambda x: _crop(_rotate(x, 3.0), 0.25)),
    Transform("crop_25+overlay", lambda x: _overlay(_crop(x, 0.25))),
    Transform("crop_35+resize_0.5+q40", lambda x: _resize(_crop(x, 0.35), 0.5), 40),
)


def write_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    path.write_bytes(buf.tobytes())
