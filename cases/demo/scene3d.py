"""A tiny planar 3D renderer: textured rectangles in the world, seen through a pinhole camera.

Each plane maps to the image by an exact homography (H = K R [U V (O - C)]), so views from
different positions carry true perspective and parallax. That is what makes the demo honest: a
fundamental-matrix check between two views of one market finds hundreds of consistent matches
because the geometry is real, not because one image is a warped copy of another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

# Planes closer than this (metres, along the view axis) are clipped, so no point behind the camera
# is ever projected.
_NEAR_M = 0.2


@dataclass(frozen=True, eq=False)
class Plane:
    """A textured rectangle. `origin` is the world position of the texture's top-left pixel;
    `u_axis` and `v_axis` are unit world directions of texture columns and rows; `size_m` is
    (width, height) in metres. `layer` 0 is drawn first (the ground); higher layers by distance."""

    origin: np.ndarray
    u_axis: np.ndarray
    v_axis: np.ndarray
    size_m: tuple[float, float]
    texture: np.ndarray  # RGBA uint8
    layer: int = 1
    two_sided: bool = False
    # (rgb, alpha or None when opaque) per mip-map level, filled in __post_init__
    pyramid: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Mip-map levels: a plane seen small is warped from a pre-blurred level, as a camera would
        # integrate it, instead of aliasing into noise that no other view reproduces.
        levels = [self.texture]
        while min(levels[-1].shape[:2]) > 32 and len(levels) < 6:
            levels.append(cv2.pyrDown(levels[-1]))
        opaque = bool((self.texture[..., 3] == 255).all())
        for level in levels:
            rgb = np.ascontiguousarray(level[..., :3])
            alpha = None if opaque else np.ascontiguousarray(level[..., 3])
            self.pyramid.append((rgb, alpha))

    def corners(self) -> np.ndarray:
        w, h = self.size_m
        o, u, v = self.origin, self.u_axis * w, self.v_axis * h
        return np.array([o, o + u, o + u + v, o + v])

    def normal(self) -> np.ndarray:
        return np.cross(self.u_axis, self.v_axis)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at `position` (world metres: x right, y up, z forward), turned `yaw_deg`
    to the right and `pitch_deg` up, with horizontal field of view `hfov_deg`."""

    position: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float = 0.0
    hfov_deg: float = 60.0

    def rotation(self) -> np.ndarray:
        """World-to-camera rotation; camera axes are x right, y down, z forward."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        forward = np.array(
            [math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)]
        )
        right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
        up = np.cross(forward, right)
        return np.stack([right, -up, forward])

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        f = 0.5 * width / math.tan(math.radians(self.hfov_deg) / 2)
        return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])


@dataclass(frozen=True)
class Scene:
    """Planes plus the sky colours behind them."""

    planes: tuple[Plane, ...]
    sky_top: tuple[int, int, int]
    sky_horizon: tuple[int, int, int]


def _clip_near(points_cam: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon (camera coordinates) against z >= _NEAR_M."""
    out = []
    n = len(points_cam)
    for i in range(n):
        a, b = points_cam[i], points_cam[(i + 1) % n]
        a_in, b_in = a[2] >= _NEAR_M, b[2] >= _NEAR_M
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (_NEAR_M - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out)


def _clip_rect(poly: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Clip a 2D convex polygon to a rectangle, so fill coordinates stay small."""
    for axis, bound, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if len(poly) == 0:
            return poly
        out = []
        for i in range(len(poly)):
            a, b = poly[i], poly[(i + 1) % len(poly)]
            a_in = a[axis] >= bound if keep_above else a[axis] <= bound
            b_in = b[axis] >= bound if keep_above else b[axis] <= bound
            if a_in:
                out.append(a)
            if a_in != b_in:
                t = (bound - a[axis]) / (b[axis] - a[axis])
                out.append(a + t * (b - a))
        poly = np.array(out)
    return poly


def _sky(scene: Scene, width: int, height: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    top, horizon = np.array(scene.sky_top, np.float32), np.array(scene.sky_horizon, np.float32)
    column = top * (1 - t) + horizon * t
    return np.repeat(column[:, None, :], width, axis=1).reshape(height, width, 3).astype(np.uint8)


def _draw_plane(
    canvas: np.ndarray, plane: Plane, rot: np.ndarray, k: np.ndarray, centre: np.ndarray
) -> None:
    height, width = canvas.shape[:2]
    cam_pts = (rot @ (plane.corners() - centre).T).T
    clipped = _clip_near(cam_pts)
    if len(clipped) < 3:
        return
    proj = (k @ clipped.T).T
    poly = _clip_rect(proj[:, :2] / proj[:, 2:3], 0, 0, width, height)
    if len(poly) < 3:
        return
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    # Homography from texture pixels (level 0) to image pixels.
    tex_h, tex_w = plane.texture.shape[:2]
    u_step = plane.u_axis * plane.size_m[0] / tex_w
    v_step = plane.v_axis * plane.size_m[1] / tex_h
    hom = k @ rot @ np.stack([u_step, v_step, plane.origin - centre], axis=1)
    # Pick the mip level whose texels are about one image pixel at the plane's visible middle.
    mid = poly.mean(axis=0)
    try:
        inv = np.linalg.inv(hom)
    except np.linalg.LinAlgError:
        return
    jac_pts = np.array([[mid[0], mid[1], 1], [mid[0] + 1, mid[1], 1], [mid[0], mid[1] + 1, 1]]).T
    tex_pts = inv @ jac_pts
    tex_pts = tex_pts[:2] / tex_pts[2]
    texels_per_px = max(
        float(np.linalg.norm(tex_pts[:, 1] - tex_pts[:, 0])),
        float(np.linalg.norm(tex_pts[:, 2] - tex_pts[:, 0])),
    )
    level = int(np.clip(math.floor(math.log2(max(texels_per_px, 1e-6))), 0, len(plane.pyramid) - 1))
    rgb, alpha = plane.pyramid[level]
    scale = np.diag([tex_w / rgb.shape[1], tex_h / rgb.shape[0], 1.0])
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    matrix = shift @ hom @ scale
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(rgb, matrix, size, flags=cv2.INTER_LINEAR)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shifted = np.round((poly - [x0, y0]) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, shifted, 255, cv2.LINE_8, shift=4)
    if alpha is not None:
        coverage = cv2.warpPerspective(alpha, matrix, size, flags=cv2.INTER_LINEAR)
        _, coverage = cv2.threshold(coverage, 127, 255, cv2.THRESH_BINARY)
        mask = cv2.bitwise_and(mask, coverage)
    cv2.copyTo(warped, mask, canvas[y0:y1, x0:x1])


def render(scene: Scene, camera: Camera, width: int, height: int) -> np.ndarray:
    """Render the scene as an RGB uint8 image, far planes first (painter's algorithm)."""
    rot = camera.rotation()
    k = camera.intrinsics(width, height)
    centre = np.array(camera.position, dtype=np.float64)
    canvas = _sky(scene, width, height)

    def visible(plane: Plane) -> bool:
        mid = plane.corners().mean(axis=0)
        return plane.two_sided or float(np.dot(plane.normal(), centre - mid)) > 0

    def order(plane: Plane) -> tuple[int, float]:
        mid = plane.corners().mean(axis=0)
        return (plane.layer, -float(np.linalg.norm(mid - centre)))

    for plane in sorted(filter(visible, scene.planes), key=order):
        _draw_plane(canvas, plane, rot, k, centre)
    return canvas
