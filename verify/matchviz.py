"""Side-by-side match pictures for the report: footage frame, reference image, inlier lines.

An investigator (or a court) should not have to trust an inlier count: the picture shows which
points of the footage correspond to which points of the reference image.
"""

from __future__ import annotations

import cv2
import numpy as np

from verify.errors import InvalidValueError
from verify.geometry import PairMatch

# Bump whenever the drawing changes (layout, colours, sampling of lines, JPEG encoding) in a way
# the arguments of `draw_matches`/`encode_jpeg` do not show: stored match pictures are redrawn
# when the version they were drawn with differs (see cases.checks.match_pictures).
DRAWING_VERSION = 1
# Height of the caption strip under the picture, in pixels, and the gap between the two images.
CAPTION_HEIGHT = 28
GAP = 8
# Inlier lines are drawn in a few alternating colours so that crossing lines stay traceable.
_LINE_COLOURS = ((0, 230, 0), (0, 200, 255), (255, 200, 0), (255, 80, 200))


def draw_matches(
    image_a: np.ndarray,
    image_b: np.ndarray,
    match: PairMatch,
    *,
    max_side: int = 800,
    max_lines: int = 200,
    caption: str | None = None,
) -> np.ndarray:
    """Draw A and B side by side at one height with `match`'s inlier correspondences as lines.

    The images may be at any resolution (e.g. decoded with `load_image(max_side=...)`): the
    match's points, in original-image coordinates, are rescaled using `match.size_a/size_b`.
    The result is RGB uint8, at most `max_side` wide plus the caption strip. At most
    `max_lines` lines are drawn, evenly sampled, so dense matches stay readable.
    """
    a, b = _as_rgb(image_a), _as_rgb(image_b)
    if max_side < 64 or max_lines < 0:
        raise InvalidValueError(f"max_side must be >= 64 and max_lines >= 0 ({max_side=})")
    height = min(a.shape[0], b.shape[0], max_side)
    scale_a, scale_b = height / a.shape[0], height / b.shape[0]
    width_a, width_b = max(1, round(a.shape[1] * scale_a)), max(1, round(b.shape[1] * scale_b))
    # Shrink both further if the pair is wider than max_side.
    shrink = min(1.0, (max_side - GAP) / (width_a + width_b))
    height = max(1, round(height * shrink))
    width_a, width_b = max(1, round(width_a * shrink)), max(1, round(width_b * shrink))
    small_a = cv2.resize(a, (width_a, height), interpolation=cv2.INTER_AREA)
    small_b = cv2.resize(b, (width_b, height), interpolation=cv2.INTER_AREA)
    strip = CAPTION_HEIGHT if caption else 0
    canvas = np.full((height + strip, width_a + GAP + width_b, 3), 255, np.uint8)
    canvas[:height, :width_a] = small_a
    canvas[:height, width_a + GAP :] = small_b

    pa = _to_canvas(match.points_a, match.size_a, (width_a, height))
    pb = _to_canvas(match.points_b, match.size_b, (width_b, height))
    pb[:, 0] += width_a + GAP
    count = len(pa)
    if count and max_lines:
        chosen = np.unique(np.linspace(0, count - 1, min(count, max_lines)).round().astype(int))
        for n, k in enumerate(chosen):
            colour = _LINE_COLOURS[n % len(_LINE_COLOURS)]
            p = (round(float(pa[k, 0])), round(float(pa[k, 1])))
            q = (round(float(pb[k, 0])), round(float(pb[k, 1])))
            cv2.line(canvas, p, q, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, p, 2, colour, -1, cv2.LINE_AA)
            cv2.circle(canvas, q, 2, colour, -1, cv2.LINE_AA)
    if caption:
        cv2.putText(
            canvas,
            caption,
            (6, height + CAPTION_HEIGHT - 9),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return canvas


def encode_jpeg(arr: np.ndarray, quality: int = 85) -> bytes:
    """Encode an RGB (or gray) uint8 array as JPEG bytes."""
    if not 1 <= quality <= 100:
        raise InvalidValueError(f"JPEG quality must be 1-100, got {quality}")
    rgb = _as_rgb(arr)
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise InvalidValueError("OpenCV could not encode the picture as JPEG")
    return buf.tobytes()


def _as_rgb(arr: np.ndarray) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
        raise InvalidValueError("picture must be a uint8 numpy array")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidValueError(f"picture must be RGB (H, W, 3) or gray (H, W), got {arr.shape}")
    return np.ascontiguousarray(arr)


def _to_canvas(points: np.ndarray, original: tuple[int, int], drawn: tuple[int, int]) -> np.ndarray:
    """Map original-image pixel coordinates onto the drawn (resized) image."""
    sx = drawn[0] / max(1, original[0])
    sy = drawn[1] / max(1, original[1])
    out = np.asarray(points, np.float64).reshape(-1, 2).copy()
    out[:, 0] = (out[:, 0] + 0.5) * sx - 0.5
    out[:, 1] = (out[:, 1] + 0.5) * sy - 0.5
    return out
