"""Image-space effects for the demo: strike damage on the claim photos, and the re-publication
(crop, resize, watermark) that turns an older photo into a "new" denial still.
"""

from __future__ import annotations

import cv2
import numpy as np

from cases.demo.textures import fractal_noise


def _soft_blob(
    rng: np.random.Generator, h: int, w: int, cx: float, cy: float, r: float
) -> np.ndarray:
    """A ragged round mask in [0, 1], centred at (cx, cy) with radius about r pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot((xx - cx) / r, (yy - cy) / (r * 0.8))
    ragged = dist + 0.35 * fractal_noise(rng, h, w, octaves=4)
    return np.clip(1.3 - ragged, 0, 1)


def strike_damage(rng: np.random.Generator, rgb: np.ndarray, centre_x: float) -> np.ndarray:
    """Scorch the facades around one point, heap rubble below it and raise smoke above.

    `centre_x` is the impact's horizontal position as a fraction of the width; the damage covers
    roughly a third of the picture so the rest still shows the market as the reference photos do.
    """
    h, w = rgb.shape[:2]
    out = rgb.astype(np.float32)
    cx, cy = centre_x * w, 0.62 * h
    scorch = _soft_blob(rng, h, w, cx, cy, 0.17 * w)
    soot = np.array([28, 24, 20], np.float32)
    out = out * (1 - 0.85 * scorch[..., None]) + soot * 0.85 * scorch[..., None]
    # rubble: broken blocks of masonry and twisted metal at the foot of the scorched facades
    for _ in range(160):
        bx = rng.normal(cx, 0.09 * w)
        by = h * 0.8 + abs(rng.normal(0, 0.05 * h))
        size = rng.uniform(6, 26)
        pts = np.array(
            [
                (bx + size * np.cos(a), by + 0.6 * size * np.sin(a))
                for a in np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            ],
            np.int32,
        )
        grey = rng.uniform(60, 170)
        colour = (grey * rng.uniform(0.95, 1.1), grey, grey * rng.uniform(0.8, 1.0))
        cv2.fillConvexPoly(out, pts, colour, cv2.LINE_AA)
    # smoke: billowing grey-black plume, densest at the source, thinning as it rises
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    spread = 0.06 + 0.25 * (1 - yy)
    column = np.exp(-(((xx - centre_x - 0.12 * (1 - yy)) / spread) ** 2))
    column *= np.clip((cy / h + 0.08 - yy) * 8, 0, 1) * np.clip(0.75 + 0.3 * yy, 0, 1)
    billow = np.clip(0.8 + 0.7 * fractal_noise(rng, h, w, octaves=5), 0, 1)
    smoke = np.clip(column * billow, 0, 0.9)
    smoke_colour = np.array([52, 50, 48], np.float32)
    out = out * (1 - smoke[..., None]) + smoke_colour * smoke[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def republish(rgb: np.ndarray, *, crop: float, width: int, watermark: str) -> np.ndarray:
    """What a press office does to an old photo: crop the edges, resize, stamp its logo."""
    h, w = rgb.shape[:2]
    dy, dx = round(h * crop / 2), round(w * crop / 2)
    cropped = rgb[dy : h - dy, dx : w - dx]
    height = round(width * cropped.shape[0] / cropped.shape[1])
    out = cv2.resize(cropped, (width, height), interpolation=cv2.INTER_AREA)
    # a translucent banner with the logo text in the bottom-right corner
    font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, 0.6, 1
    (tw, th), _ = cv2.getTextSize(watermark, font, scale, thick)
    x0, y0 = width - tw - 24, height - th - 24
    banner = out.copy()
    cv2.rectangle(banner, (x0 - 8, y0 - 8), (width - 12, height - 12), (20, 40, 90), -1)
    out = cv2.addWeighted(banner, 0.6, out, 0.4, 0)
    cv2.putText(out, watermark, (x0, y0 + th), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
