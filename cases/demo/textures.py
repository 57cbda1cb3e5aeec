"""Procedural textures for the demo market scenes: plaster facades with windows and shop fronts,
fruit stalls, striped awnings, a minaret and paving.

Every texture is drawn from the caller's RNG, so one market's facades never repeat another's, and
each is dense in the blobs, corners and lettering that local-feature matchers (SIFT) latch onto.
Textures are RGBA uint8; alpha cuts out roof lines, awning scallops and the minaret's silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Texture resolution. At 60 px per metre a facade 20 m from a 1280 px camera (f about 1150 px) is
# seen at roughly its own resolution, so rendering neither blurs nor aliases much.
PX_PER_M = 60

_SHOP_WORDS = (
    "SPICES",
    "BAKERY",
    "FALAFEL",
    "PHARMACY",
    "MOBILE",
    "SWEETS",
    "BUTCHER",
    "TAILOR",
    "GROCERY",
    "JUICE",
    "SHOES",
    "HARDWARE",
    "PERFUME",
    "BOOKS",
    "DAIRY",
    "TEXTILES",
    "BARBER",
    "NUTS",
    "CAFE",
    "ELECTRIC",
)
# Goods in shop interiors and litter on the ground: produce, sacks, packets, in earthy tones.
_GOODS_COLOURS = (
    (200, 150, 60),
    (170, 60, 40),
    (90, 120, 50),
    (220, 200, 150),
    (140, 100, 70),
    (60, 80, 120),
    (230, 120, 40),
    (180, 170, 160),
)


def _goods(rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(_GOODS_COLOURS[rng.integers(len(_GOODS_COLOURS))], np.float32)
    r, g, b = (int(c) for c in np.clip(base * rng.uniform(0.6, 1.15), 0, 255))
    return r, g, b


@dataclass(frozen=True)
class MarketStyle:
    """What a market is built from: colours, lettering, shop owners' names, window shapes.

    Each market gets its own so that no generic element (a window corner in the same frame colour,
    a sign in the same font with the same name) looks alike in both; shared generic elements are
    exactly what make a fundamental-matrix check find spurious inliers between different places.
    """

    walls: tuple[tuple[int, int, int], ...]
    frames: tuple[tuple[int, int, int], ...]
    awnings: tuple[tuple[int, int, int], ...]
    paving: tuple[int, int, int]
    fonts: tuple[int, ...]
    family_names: tuple[str, ...]
    arched_windows: bool
    slab_m: float
    shop_height_m: float
    shutter_fraction: tuple[float, float]


def _rgb(rng: np.random.Generator, choices: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    base = np.array(choices[rng.integers(len(choices))], dtype=np.float32)
    return np.clip(base + rng.normal(0, 10, 3), 0, 255)


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, octaves: int = 5
) -> np.ndarray:
    """Zero-mean multi-octave value noise in about [-1, 1]: stains, weathering, uneven plaster."""
    out = np.zeros((height, width), np.float32)
    amplitude, total = 1.0, 0.0
    cells = 3
    for _ in range(octaves):
        coarse = rng.standard_normal((cells, max(cells * width // max(height, 1), 2))).astype(
            np.float32
        )
        out += amplitude * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amplitude
        amplitude *= 0.55
        cells *= 2
    return out / total


def _weather(rng: np.random.Generator, rgb: np.ndarray, strength: float = 0.12) -> np.ndarray:
    """Modulate a finished texture by mid-frequency grime (cells of about 4 px).

    Flat painted shapes (a fruit disc, a window pane) have the same SIFT descriptor in every
    market, so they match across markets by chance and a fundamental matrix with horizontal
    epipolar lines accepts rows of them. Grime that belongs to this one texture makes each
    descriptor specific to its place while staying stable between viewpoints, as real dirt does.
    """
    h, w = rgb.shape[:2]
    fine = rng.standard_normal((h // 4 + 1, w // 4 + 1), dtype=np.float32)
    mid = rng.standard_normal((h // 12 + 1, w // 12 + 1), dtype=np.float32)
    grime = cv2.resize(fine, (w, h), interpolation=cv2.INTER_CUBIC) + cv2.resize(
        mid, (w, h), interpolation=cv2.INTER_CUBIC
    )
    # multiplicative on bright paint, additive so that dark interiors and glass get grime too
    shade = 1.0 + strength * 0.5 * grime
    offset = strength * 60.0 * grime
    out = rgb.astype(np.float32) * shade[..., None] + offset[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _blank(height_m: float, width_m: float) -> np.ndarray:
    h, w = round(height_m * PX_PER_M), round(width_m * PX_PER_M)
    return np.zeros((h, w, 4), np.uint8)


def _plaster(rng: np.random.Generator, h: int, w: int, colour: np.ndarray) -> np.ndarray:
    """Weathered wall: the colour modulated by broad stains and fine grain."""
    # fine grain comes later from _weather, so broad stains are enough here
    shade = 1.0 + 0.16 * fractal_noise(rng, h, w, octaves=4)
    img = shade[..., None] * colour.astype(np.float32)[None, None, :]
    return np.clip(img, 0, 255).astype(np.uint8)


def _text(
    img: np.ndarray,
    rng: np.random.Generator,
    fonts: tuple[int, ...],
    text: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, ...],
) -> None:
    """Draw `text` fitted inside box (x0, y0, x1, y1) with a random Hershey font."""
    x0, y0, x1, y1 = box
    font = fonts[rng.integers(len(fonts))]
    thickness = int(rng.integers(2, 4))
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = min((x1 - x0) * 0.9 / max(tw, 1), (y1 - y0) * 0.7 / max(th, 1))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    org = (x0 + (x1 - x0 - tw) // 2, y0 + (y1 - y0 + th) // 2)
    cv2.putText(img, text, org, font, scale, colour, thickness, cv2.LINE_AA)


def _shop_name(rng: np.random.Generator, style: MarketStyle) -> str:
    name = style.family_names[rng.integers(len(style.family_names))]
    word = _SHOP_WORDS[rng.integers(len(_SHOP_WORDS))]
    return f"{name} {word}" if rng.random() < 0.7 else word


def _window(
    rng: np.random.Generator, style: MarketStyle, img: np.ndarray, x: int, y: int, w: int, h: int
) -> None:
    """A window: frame, dark glass with reflections, maybe shutters or a balcony rail or AC unit."""
    frame = tuple(int(c) for c in _rgb(rng, style.frames))
    glass = rng.integers(20, 70, 3)
    if style.arched_windows:  # stone-framed arch: the older town centre
        r = w // 2
        cv2.ellipse(img, (x + r, y + r), (r + 7, r + 7), 0, 180, 360, frame, -1)
        cv2.rectangle(img, (x - 7, y + r), (x + w + 7, y + h + 7), frame, -1)
        cv2.ellipse(img, (x + r, y + r), (r, r), 0, 180, 360, tuple(int(c) for c in glass), -1)
        cv2.rectangle(img, (x, y + r), (x + w, y + h), tuple(int(c) for c in glass), -1)
    else:  # aluminium frame with a grille: post-1970s concrete blocks
        cv2.rectangle(img, (x - 4, y - 4), (x + w + 4, y + h + 4), frame, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), tuple(int(c) for c in glass), -1)
        for gx in range(x + w // 5, x + w, max(w // 5, 1)):
            cv2.line(img, (gx, y), (gx, y + h), (70, 70, 70), 1)
    # reflections: a few pale slanted streaks, unique per window
    for _ in range(int(rng.integers(1, 4))):
        px = int(x + rng.integers(0, max(w - 10, 1)))
        cv2.line(
            img,
            (px, y + h),
            (px + int(rng.integers(8, 30)), y),
            tuple(int(c) for c in glass + 60),
            int(rng.integers(2, 6)),
        )
    cv2.line(img, (x + w // 2, y), (x + w // 2, y + h), frame, 3)
    kind = rng.random()
    if kind < 0.3:  # half-closed shutter with slats
        closed = int(h * rng.uniform(0.3, 1.0))
        colour = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(img, (x, y), (x + w, y + closed), colour, -1)
        for sy in range(y, y + closed, 7):
            cv2.line(img, (x, sy), (x + w, sy), tuple(max(c - 50, 0) for c in colour), 1)
    elif kind < 0.55:  # balcony rail
        rail = (40, 40, 40)
        cv2.rectangle(img, (x - 14, y + h - 30), (x + w + 14, y + h + 6), rail, 2)
        for bx in range(x - 14, x + w + 14, int(rng.integers(8, 14))):
            cv2.line(img, (bx, y + h - 30), (bx, y + h + 6), rail, 2)
    elif kind < 0.7:  # AC unit under the window
        ac = (int(rng.integers(190, 235)),) * 3
        ay = y + h + 10
        cv2.rectangle(img, (x + 4, ay), (x + 4 + w // 2, ay + 28), ac, -1)
        for gx in range(x + 8, x + w // 2, 4):
            cv2.line(img, (gx, ay + 4), (gx, ay + 24), (110, 110, 110), 1)


def _shop_front(
    rng: np.random.Generator, style: MarketStyle, img: np.ndarray, x: int, y: int, w: int, h: int
) -> None:
    """Ground-floor shop: sign board with a name, dark interior with goods, rolled-up shutter."""
    sign_h = int(h * 0.22)
    sign_col = rng.integers(30, 230, 3)
    cv2.rectangle(img, (x, y), (x + w, y + sign_h), tuple(int(c) for c in sign_col), -1)
    ink = (255, 255, 255) if sign_col.mean() < 130 else (20, 20, 20)
    _text(
        img,
        rng,
        style.fonts,
        _shop_name(rng, style),
        (x + 6, y + 2, x + w - 6, y + sign_h - 2),
        ink,
    )
    top = y + sign_h + 6
    cv2.rectangle(img, (x, top), (x + w, y + h), (45, 38, 32), -1)
    # goods on shelves: rows of coloured blobs of varied size
    for _ in range(int(w * h / 2000)):
        cx = int(rng.integers(x + 4, x + w - 4))
        cy = int(rng.integers(top + 20, y + h - 4))
        col = _goods(rng)
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), int(rng.integers(3, 9)), col, -1)
        else:
            sw, sh = int(rng.integers(5, 18)), int(rng.integers(8, 24))
            cv2.rectangle(img, (cx, cy), (cx + sw, cy + sh), col, -1)
    shutter = int((h - sign_h) * rng.uniform(*style.shutter_fraction))
    grey = int(rng.integers(120, 190))
    # roll-up shutter: dented slats of uneven shade (regular slat lines are generic features
    # that match between any two markets along a horizontal epipolar band)
    if shutter > 0:
        slats = rng.integers(grey - 25, grey + 25, (max(shutter // 6, 1), max(w // 40, 1)))
        img[top : top + shutter, x : x + w] = cv2.resize(
            slats.astype(np.uint8), (w, shutter), interpolation=cv2.INTER_LINEAR
        )[..., None]
    cv2.rectangle(img, (x, y), (x + w, y + h), (30, 30, 30), 2)


def _posters_and_graffiti(rng: np.random.Generator, img: np.ndarray, wall_bottom: int) -> None:
    """Pasted notices, short spray-painted tags and cracks on the wall above the shops."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        pw, ph = int(rng.integers(25, 45)), int(rng.integers(35, 60))
        px = int(rng.integers(0, w - pw))
        py = int(rng.integers(max(wall_bottom - 3 * PX_PER_M, 0), wall_bottom - ph))
        col = tuple(int(c) for c in rng.integers(170, 250, 3))
        cv2.rectangle(img, (px, py), (px + pw, py + ph), col, -1)
        # the poster's picture: a coarse random mosaic, different on every poster
        mosaic = rng.integers(0, 255, (4, 3, 3)).astype(np.uint8)
        img[py + 3 : py + ph * 2 // 3, px + 3 : px + pw - 3] = cv2.resize(
            mosaic, (pw - 6, ph * 2 // 3 - 3), interpolation=cv2.INTER_NEAREST
        )
        for ly in range(py + ph * 2 // 3, py + ph - 3, 5):
            cv2.line(img, (px + 4, ly), (px + pw - 4, ly), (40, 40, 40), 1)
    for _ in range(int(rng.integers(1, 4))):  # short tags
        x0 = int(rng.integers(0, w - 80))
        y0 = int(rng.integers(max(wall_bottom - PX_PER_M, 0), wall_bottom - 20))
        pts = np.stack(
            [x0 + np.cumsum(rng.integers(4, 14, 7)), y0 + rng.integers(-12, 12, 7)], axis=1
        ).astype(np.int32)
        col = tuple(int(c) for c in rng.integers(0, 120, 3))
        cv2.polylines(img, [pts], False, col, 2, cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 6))):  # cracks
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        crack = [(x, y)]
        for _ in range(5):
            x += int(rng.integers(-12, 13))
            y += int(rng.integers(4, 18))
            crack.append((x, y))
        cv2.polylines(img, [np.array(crack, np.int32)], False, (90, 85, 78), 1, cv2.LINE_AA)


def _roofline(rng: np.random.Generator, alpha: np.ndarray, rgb: np.ndarray) -> None:
    """Cut a skyline into the top of a facade: parapet steps, water tanks, stairwell huts."""
    w = alpha.shape[1]
    top = int(rng.integers(int(PX_PER_M * 1.2), int(PX_PER_M * 1.8)))
    alpha[:top] = 0
    x = 0
    while x < w:
        tw = int(rng.integers(40, 110))
        kind = rng.random()
        if kind < 0.35:  # cylindrical water tank
            th = int(rng.integers(40, top - 5))
            col = tuple(int(c) for c in rng.integers(40, 230, 3))
            cv2.rectangle(rgb, (x, top - th), (x + tw // 2, top), col, -1)
            cv2.ellipse(rgb, (x + tw // 4, top - th), (tw // 4, 6), 0, 0, 360, col, -1)
            alpha[top - th - 6 : top, x : x + tw // 2] = 255
            cv2.line(rgb, (x, top - th // 2), (x + tw // 2, top - th // 2), (30, 30, 30), 2)
        elif kind < 0.55:  # stairwell hut on the roof, with a door
            hh, hw = int(rng.integers(50, top)), int(rng.integers(50, 90))
            col = tuple(
                int(c) for c in np.clip(rgb[top + 5, min(x, w - 1)].astype(int) - 25, 0, 255)
            )
            cv2.rectangle(rgb, (x, top - hh), (x + hw, top), col, -1)
            cv2.rectangle(
                rgb, (x + hw // 3, top - hh * 2 // 3), (x + hw * 2 // 3, top), (60, 50, 45), -1
            )
            alpha[top - hh : top, x : x + hw] = 255
        elif kind < 0.75:  # parapet step
            sh = int(rng.integers(8, 30))
            alpha[top - sh : top, x : x + tw] = 255
        x += tw + int(rng.integers(10, 60))


def facade(
    rng: np.random.Generator, style: MarketStyle, width_m: float, height_m: float
) -> np.ndarray:
    """A building front: floors of windows over a row of shops, weathering, posters, a skyline."""
    tex = _blank(height_m, width_m)
    h, w = tex.shape[:2]
    rgb = _plaster(rng, h, w, _rgb(rng, style.walls))
    floor = 3 * PX_PER_M
    shop_h = int(style.shop_height_m * PX_PER_M)
    n_shops = max(1, round(width_m / rng.uniform(3.0, 4.5)))
    sw = w // n_shops
    for i in range(n_shops):
        _shop_front(rng, style, rgb, i * sw + 8, h - shop_h, sw - 16, shop_h - 4)
    cv2.line(rgb, (0, h - shop_h - 6), (w, h - shop_h - 6), (90, 85, 80), 5)
    n_cols = max(1, round(width_m / rng.uniform(2.2, 3.2)))
    win_w = int(rng.uniform(0.8, 1.3) * PX_PER_M)
    win_h = int(rng.uniform(1.2, 1.7) * PX_PER_M)
    y = h - shop_h - floor + (floor - win_h) // 2
    roof_margin = int(1.9 * PX_PER_M)
    while y > roof_margin:
        for c in range(n_cols):
            if rng.random() < 0.9:
                cx = int((c + 0.5) * w / n_cols + rng.integers(-8, 9))
                _window(rng, style, rgb, cx - win_w // 2, y, win_w, win_h)
        y -= floor
    _posters_and_graffiti(rng, rgb, h - shop_h - 10)
    alpha = np.full((h, w), 255, np.uint8)
    _roofline(rng, alpha, rgb)
    tex[..., :3] = _weather(rng, rgb, 0.2)
    tex[..., 3] = alpha
    return tex


def stall_front(
    rng: np.random.Generator, style: MarketStyle, width_m: float, height_m: float
) -> np.ndarray:
    """The front of a market stall: stacked wooden crates heaped with fruit and vegetables."""
    tex = _blank(height_m, width_m)
    h, w = tex.shape[:2]
    wood = np.array([int(rng.integers(110, 170)), int(rng.integers(80, 120)), 50], np.float32)
    rgb = _plaster(rng, h, w, wood)
    crate_w = int(rng.integers(50, 80))
    crate_top = int(h * 0.35)
    for cx in range(0, w, crate_w):
        cv2.rectangle(rgb, (cx, crate_top), (cx + crate_w - 3, h - 1), (70, 50, 30), 2)
        for py in range(crate_top + 10, h, 14):
            cv2.line(rgb, (cx + 2, py), (cx + crate_w - 5, py), (90, 65, 40), 2)
        _text(
            rgb,
            rng,
            style.fonts,
            f"{rng.integers(5, 95)}",
            (cx + 6, h - 28, cx + crate_w - 8, h - 4),
            (250,) * 3,
        )
    # produce heaped on top of each crate: many overlapping shaded circles
    produce = ((245, 140, 20), (210, 30, 25), (80, 150, 40), (100, 40, 110), (240, 210, 60))
    for cx in range(0, w, crate_w):
        col = np.array(produce[rng.integers(len(produce))], np.float32)
        for _ in range(int(crate_w * 0.9)):
            r = int(rng.integers(6, 12))
            px = int(rng.integers(cx + r, cx + crate_w - r))
            py = int(crate_top - abs(rng.normal(0, crate_top * 0.35)) + r)
            c = np.clip(col * rng.uniform(0.6, 1.15), 0, 255)
            cv2.circle(rgb, (px, py), r, tuple(int(v) for v in c), -1, cv2.LINE_AA)
    tex[..., :3] = _weather(rng, rgb, 0.25)
    tex[..., 3] = 255
    return tex


def awning(
    rng: np.random.Generator, style: MarketStyle, width_m: float, depth_m: float
) -> np.ndarray:
    """A faded striped canvas awning with a scalloped front edge and dirt."""
    tex = _blank(depth_m, width_m)
    h, w = tex.shape[:2]
    a = _rgb(rng, style.awnings)
    b = np.array([235, 230, 220], np.float32)
    stripe = int(rng.integers(18, 34))
    xs = (np.arange(w) // stripe) % 2
    base = np.where(xs[None, :, None] == 0, a[None, None, :], b[None, None, :])
    dirt = fractal_noise(rng, h, w, octaves=6)[..., None]
    rgb = np.clip(base * (1 + 0.22 * dirt) + rng.normal(0, 5, (h, w, 1)), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 10))):  # patches and repairs
        px, py = int(rng.integers(0, w - 30)), int(rng.integers(0, h - 20))
        col = tuple(int(c) for c in rng.integers(60, 220, 3))
        cv2.rectangle(rgb, (px, py), (px + int(rng.integers(12, 40)), py + 16), col, -1)
    alpha = np.full((h, w), 255, np.uint8)
    r = stripe // 2
    for sx in range(0, w, stripe):
        cv2.circle(alpha, (sx + r, h - r), r, 0, -1)
    alpha[h - r :] = 0
    for sx in range(0, w, stripe):
        cv2.circle(alpha, (sx + r, h - r), r, 255, -1)
    tex[..., :3] = rgb
    tex[..., 3] = alpha
    return tex


def minaret(rng: np.random.Generator, width_m: float, height_m: float) -> np.ndarray:
    """A stone minaret seen side-on: courses of ashlar, a balcony, slit windows, a pointed cap."""
    tex = _blank(height_m, width_m)
    h, w = tex.shape[:2]
    stone = np.array([int(rng.integers(190, 225)), int(rng.integers(175, 205)), 150], np.float32)
    rgb = _plaster(rng, h, w, stone)
    course = int(rng.integers(14, 22))
    for i, y in enumerate(range(0, h, course)):
        cv2.line(rgb, (0, y), (w, y), (140, 130, 110), 1)
        off = (i % 2) * course
        for x in range(off, w, course * 2):
            cv2.line(rgb, (x, y), (x, y + course), (150, 140, 120), 1)
    shaft = int(w * 0.2)
    cap = int(h * 0.14)
    alpha = np.zeros((h, w), np.uint8)
    alpha[cap:, shaft : w - shaft] = 255
    balcony = int(h * 0.3)
    alpha[balcony : balcony + 25, :] = 255
    cv2.rectangle(rgb, (0, balcony), (w, balcony + 25), (120, 110, 95), -1)
    for bx in range(0, w, 9):
        cv2.line(rgb, (bx, balcony), (bx, balcony + 25), (200, 190, 170), 2)
    cone = np.array([[shaft, cap], [w - shaft, cap], [w // 2, 0]], np.int32)
    cv2.fillConvexPoly(alpha, cone, 255)
    cv2.fillConvexPoly(rgb, cone, (70, 110, 90))
    for y in range(cap + 40, h - 60, int(rng.integers(70, 110))):
        cv2.rectangle(rgb, (w // 2 - 5, y), (w // 2 + 5, y + 34), (30, 25, 20), -1)
    tex[..., :3] = rgb
    tex[..., 3] = alpha
    return tex


def paving(
    rng: np.random.Generator, style: MarketStyle, width_m: float, depth_m: float
) -> np.ndarray:
    """Worn paving slabs seen from above; coarse resolution, since it is seen at grazing angles."""
    scale = 0.25  # quarter resolution keeps the huge ground plane cheap to warp
    h, w = round(depth_m * PX_PER_M * scale), round(width_m * PX_PER_M * scale)
    base = np.array(style.paving, np.float32)
    rgb = _plaster(rng, h, w, base)
    slab = int(PX_PER_M * scale * style.slab_m)
    for y in range(0, h, slab):
        cv2.line(rgb, (0, y), (w, y), (int(base[0] * 0.7),) * 3, 1)
    for x in range(0, w, slab):
        cv2.line(rgb, (x, 0), (x, h), (int(base[0] * 0.7),) * 3, 1)
    for _ in range(int(w * h / 3000)):  # litter, stains, dropped produce
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.circle(rgb, (cx, cy), int(rng.integers(1, 3)), _goods(rng), -1)
    tex = np.zeros((h, w, 4), np.uint8)
    tex[..., :3] = rgb
    tex[..., 3] = 255
    return tex
