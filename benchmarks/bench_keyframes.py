"""Video: decoder choice, keyframe extraction speed on 720p, and the shot-cut calibration.

Run: python benchmarks/bench_keyframes.py

The test video is 60 s of 720p/30 fps H.264 (libx264 through PyAV, CRF 23) made from the 17 real
frames of ../shared/data/sequence: four "shots", each a slow pan-and-zoom across one frame, then
the real sequence cross-faded frame to frame, then a cut to a static shot. Real footage, real codec.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hash_transforms import DATA, dev_images
from verify.keyframes import SHOT_CUT_MAD, _shot_difference, _shot_signature, extract_keyframes
from verify.media import load_image

W, H, FPS = 1280, 720, 30


def _pan(rgb: np.ndarray, t: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    zoom = 1.0 + 0.15 * t
    cw, ch = w / zoom, h / zoom
    x0, y0 = (w - cw) * t, (h - ch) * 0.5
    m = np.array([[cw / W, 0, x0], [0, ch / H, y0]], dtype=np.float64)
    return cv2.warpAffine(rgb, m, (W, H), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)


def make_video(path: Path) -> tuple[float, list[float]]:
    frames = [load_image(p) for p in sorted((DATA / "sequence").glob("*.png"))]
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.options = {"preset": "veryfast", "crf": "23"}
    cuts = []
    n = 0

    def emit(rgb: np.ndarray) -> None:
        nonlocal n
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            out.mux(packet)
        n += 1

    for shot, src in enumerate([frames[0], frames[5], frames[10], frames[16]]):
        if shot:
            cuts.append(n / FPS)
        for k in range(8 * FPS):
            emit(_pan(src, k / (8 * FPS)))
    cuts.append(n / FPS)
    resized = [cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR) for f in frames]
    for k in range(20 * FPS):
        i = min(len(resized) - 2, k * (len(resized) - 1) // (20 * FPS))
        t = (k * (len(resized) - 1) / (20 * FPS)) - i
        emit((resized[i] * (1 - t) + resized[i + 1] * t).astype(np.uint8))
    cuts.append(n / FPS)
    static = cv2.resize(load_image(dev_images()[0].path), (W, H), interpolation=cv2.INTER_AREA)
    for _ in range(8 * FPS):
        emit(static)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return n / FPS, cuts


def decoders(path: Path, duration: float) -> list[str]:
    rows = ["| decoder | work | seconds | x real time |", "| --- | --- | --- | --- |"]
    start = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    while cap.grab():
        pass
    cap.release()
    t = time.perf_counter() - start
    rows.append(
        f"| OpenCV VideoCapture | grab() every frame, no conversion | {t:.2f} | "
        f"{duration / t:.1f} |"
    )
    start = time.perf_counter()
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    for i, frame in enumerate(container.decode(stream)):
        if i % 6 == 0:
            frame.to_ndarray(width=640, height=360, format="rgb24")
    container.close()
    t = time.perf_counter() - start
    rows.append(
        f"| PyAV, frame threads | decode all, every 6th frame to RGB 640x360 | {t:.2f} | "
        f"{duration / t:.1f} |"
    )
    return rows


def shot_calibration() -> list[str]:
    images = dev_images()
    seq = [_shot_signature(load_image(s.path, max_side=640)) for s in images if s.group]
    other = [_shot_signature(load_image(s.path, max_side=640)) for s in images if not s.group]
    within = [_shot_difference(a, b) for a, b in itertools.pairwise(seq)]
    across = [_shot_difference(a, b) for a, b in itertools.combinations(other, 2)]
    return [
        f"consecutive hand-held frames of sequence/ (1 s apart): max {max(within):.1f}, "
        f"{sum(d > SHOT_CUT_MAD for d in within)}/{len(within)} above {SHOT_CUT_MAD:g}",
        f"pairs of different photos: min {min(across):.1f}, "
        f"{np.mean(np.array(across) > SHOT_CUT_MAD):.0%} above {SHOT_CUT_MAD:g} "
        f"({len(across)} pairs)",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "720p.mp4"
        duration, cuts = make_video(path)
        print(
            f"Test video: {duration:.0f} s, {W}x{H} at {FPS} fps, H.264, "
            f"{path.stat().st_size / 1e6:.1f} MB; cuts at {', '.join(f'{c:.0f}' for c in cuts)} s\n"
        )
        print("\n".join(decoders(path, duration)))
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            keyframes = extract_keyframes(path)
            best = max(best, duration / (time.perf_counter() - start))
        print(
            f"\nextract_keyframes: {best:.1f}x real time (best of 3), {len(keyframes)} keyframes, "
            f"shots detected {len({k.shot for k in keyframes})} (true shots {len(cuts) + 1})"
        )
        print("keyframes (s, shot): " + ", ".join(f"{k.time:.1f}/{k.shot}" for k in keyframes))
    print("\nShot-cut threshold (mean abs difference of 64x36 gray frames):\n")
    for line in shot_calibration():
        print(f"- {line}")


if __name__ == "__main__":
    main()
