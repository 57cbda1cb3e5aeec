"""The two demo market scenes, laid out in 3D from a per-market random generator.

Both are a street of shop-fronted buildings with a second row behind, fruit stalls under awnings in
front, a side wall on the left and a minaret behind; they differ in every colour, width, height,
sign and stall, so views of one never match views of the other. The street runs along x for about
80 m so that a walk-through can leave the part the reference photos show (issue 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cases.demo.scene3d import Plane, Scene
from cases.demo.textures import MarketStyle, awning, facade, minaret, paving, stall_front

_DOWN = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class MarketLayout:
    """What distinguishes one market's street: style, depth, building sizes, minaret position."""

    style: MarketStyle
    street_depth_m: float
    building_width_m: tuple[float, float]
    building_height_m: tuple[float, float]
    minaret_x_m: float
    stall_height_m: tuple[float, float]
    street_start_x_m: float = -32.0
    street_end_x_m: float = 58.0


POPULAR_LAYOUT = MarketLayout(
    style=MarketStyle(
        walls=((214, 190, 150), (226, 210, 180), (200, 170, 125), (235, 228, 212)),
        frames=((205, 190, 160), (120, 85, 60), (60, 110, 80)),
        awnings=((40, 120, 60), (180, 40, 40), (40, 80, 160)),
        paving=(150, 140, 125),
        fonts=(cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX),
        family_names=("AL-HAMWI", "ABU AHMAD", "AL-SHAMI", "KHALIL", "AL-NOURI", "HADDAD"),
        arched_windows=True,
        slab_m=0.8,
        shop_height_m=3.6,
        shutter_fraction=(0.1, 0.45),
    ),
    street_depth_m=20.0,
    building_width_m=(6.0, 9.5),
    building_height_m=(8.0, 13.0),
    minaret_x_m=6.0,
    stall_height_m=(0.9, 1.2),
)

ALHAL_LAYOUT = MarketLayout(
    style=MarketStyle(
        walls=((170, 175, 180), (190, 200, 210), (150, 160, 170), (210, 205, 200)),
        frames=((225, 228, 232), (90, 90, 95), (150, 60, 50)),
        awnings=((200, 120, 30), (120, 60, 140), (30, 140, 150)),
        paving=(120, 118, 115),
        fonts=(cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX),
        family_names=("AL-ASWAD", "SALEH", "AL-MASRI", "DARWISH", "QASSEM", "AL-HALABI"),
        arched_windows=False,
        slab_m=1.3,
        shop_height_m=4.3,
        shutter_fraction=(0.4, 0.8),
    ),
    street_depth_m=17.0,
    building_width_m=(5.0, 8.0),
    building_height_m=(10.0, 16.0),
    minaret_x_m=-9.0,
    stall_height_m=(1.4, 1.7),
)


def _facing_camera(x: float, z: float, yaw: float, width: float, height: float) -> tuple:
    """Origin and u-axis of a vertical plane whose left edge is at (x, z), turned by yaw radians."""
    u = np.array([np.cos(yaw), 0.0, np.sin(yaw)])
    origin = np.array([x, height, z])
    return origin, u


def _row(
    rng: np.random.Generator, layout: MarketLayout, z: float, heights: tuple[float, float]
) -> list[Plane]:
    planes = []
    x = layout.street_start_x_m
    while x < layout.street_end_x_m:
        w = float(rng.uniform(*layout.building_width_m))
        h = float(rng.uniform(*heights))
        yaw = float(rng.uniform(-0.08, 0.08))
        zz = z + float(rng.uniform(-1.0, 1.0))
        origin, u = _facing_camera(x, zz, yaw, w, h)
        tex = facade(rng, layout.style, w, h)
        planes.append(Plane(origin, u, _DOWN, (w, h), tex))
        x += w * np.cos(yaw) - 0.05
    return planes


def _stalls(rng: np.random.Generator, layout: MarketLayout) -> list[Plane]:
    planes = []
    z_front = layout.street_depth_m - 4.5
    x = layout.street_start_x_m + float(rng.uniform(0, 3))
    while x < layout.street_end_x_m - 4:
        w = float(rng.uniform(2.2, 3.6))
        h = float(rng.uniform(*layout.stall_height_m))
        planes.append(
            Plane(
                np.array([x, h, z_front]),
                np.array([1.0, 0, 0]),
                _DOWN,
                (w, h),
                stall_front(rng, layout.style, w, h),
            )
        )
        # The awning slopes down from the facade towards the street; seen from below by walkers.
        back = np.array([x - 0.3, 3.2, layout.street_depth_m - 1.5])
        front = np.array([x - 0.3, 2.5, z_front - 0.8])
        depth_vec = front - back
        depth = float(np.linalg.norm(depth_vec))
        planes.append(
            Plane(
                back,
                np.array([1.0, 0, 0]),
                depth_vec / depth,
                (w + 0.6, depth),
                awning(rng, layout.style, w + 0.6, depth),
                two_sided=True,
            )
        )
        x += w + float(rng.uniform(1.5, 4.0))
    return planes


def _side_wall(rng: np.random.Generator, layout: MarketLayout) -> list[Plane]:
    """Buildings along the left of the square, facing +x, from near the camera to the street."""
    planes = []
    z = -4.0
    x_wall = layout.street_start_x_m + 16.0
    while z < layout.street_depth_m - 3:
        w = float(rng.uniform(*layout.building_width_m))
        h = float(rng.uniform(*layout.building_height_m))
        origin = np.array([x_wall, h, z])
        planes.append(
            Plane(origin, np.array([0.0, 0, 1.0]), _DOWN, (w, h), facade(rng, layout.style, w, h))
        )
        z += w
    return planes


def build_market(rng: np.random.Generator, layout: MarketLayout) -> Scene:
    """Lay out one market street; every texture and size comes from `rng`."""
    planes: list[Plane] = []
    depth = layout.street_depth_m
    width = layout.street_end_x_m - layout.street_start_x_m + 20
    ground_depth = depth + 12
    planes.append(
        Plane(
            np.array([layout.street_start_x_m - 10, 0.0, depth + 2]),
            np.array([1.0, 0, 0]),
            np.array([0.0, 0, -1.0]),
            (width, ground_depth),
            paving(rng, layout.style, width, ground_depth),
            layer=0,
        )
    )
    mw, mh = 3.6, 30.0
    planes.append(
        Plane(
            np.array([layout.minaret_x_m, mh, depth + 22]),
            np.array([1.0, 0, 0]),
            _DOWN,
            (mw, mh),
            minaret(rng, mw, mh),
        )
    )
    planes += _row(
        rng, layout, depth + 9, (layout.building_height_m[1], layout.building_height_m[1] + 6)
    )
    planes += _row(rng, layout, depth, layout.building_height_m)
    planes += _side_wall(rng, layout)
    planes += _stalls(rng, layout)
    return Scene(tuple(planes), sky_top=(95, 140, 200), sky_horizon=(200, 215, 230))
