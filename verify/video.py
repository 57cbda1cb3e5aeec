"""Video decoding behind one small interface, so the backend can change without touching checks.

The backend is PyAV (FFmpeg): with frame threading and scaling done by swscale it decoded 720p
H.264 about 20% faster than OpenCV's `VideoCapture.grab()` loop, which cannot skip decoding either
(benchmarks/bench_keyframes.py, "decoder" table). Hostile files are refused before decoding
(absurd declared sizes, lengths or frame rates) and decoding stops at a hard frame cap, so a file
lying about its length cannot make us loop for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from verify.errors import (
    InvalidValueError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
)
from verify.media import sniff_media_type

# Six hours covers any single piece of footage we expect (body cams, CCTV exports, livestream
# recordings); beyond it a declared length is either hostile or wants splitting first.
MAX_VIDEO_SECONDS = 6 * 3600
# 8K UHD: no camera we handle records more.
MAX_VIDEO_PIXELS = 7680 * 4320
# 240 fps is the fastest slow-motion phone mode; a declared rate above this is a broken header.
MAX_VIDEO_FPS = 240.0
# The most frames we ever decode from one file, whatever it declares.
MAX_VIDEO_FRAMES = int(MAX_VIDEO_SECONDS * 60)

_NOT_VIDEO_PREFIXES = ("image/", "text/", "application/pdf", "application/zip")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container declares: frames (0 when the container does not say), frames
    per second, duration in seconds, and the picture size in pixels."""

    frame_count: int
    fps: float
    duration: float
    width: int
    height: int


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its index in decode order, its time in seconds, and RGB uint8 pixels."""

    index: int
    time: float
    image: np.ndarray


def probe_video(path: Path) -> VideoInfo:
    """Read and sanity-check what a video declares, without decoding any frame."""
    path = Path(path)
    with _open(path) as container:
        return _info(path, container)


def iter_frames(
    path: Path, *, every_n: int = 1, max_side: int | None = None
) -> Iterator[VideoFrame]:
    """Decode a video and yield every `every_n`-th frame, scaled so its longest side is at most
    `max_side` (scaling is done by the decoder's scaler, only for frames that are yielded)."""
    if every_n < 1:
        raise InvalidValueError(f"every_n must be >= 1, got {every_n}")
    if max_side is not None and max_side < 8:
        raise InvalidValueError(f"max_side must be >= 8, got {max_side}")
    path = Path(path)
    with _open(path) as container:
        info = _info(path, container)
        stream = container.streams.video[0]
        # Frame threading decodes several frames at once on all cores; it is what makes 720p
        # H.264 run many times faster than real time.
        stream.thread_type = "AUTO"
        width, height = _scaled_size(info.width, info.height, max_side)
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if index >= MAX_VIDEO_FRAMES:
                    raise MediaTooLargeError(
                        f"video {path.name} has more than {MAX_VIDEO_FRAMES} frames"
                    )
                if index % every_n:
                    continue
                time = float(frame.time) if frame.time is not None else index / info.fps
                rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
                yield VideoFrame(index, time, rgb)
        except av.FFmpegError as exc:
            raise UnreadableMediaError(f"cannot decode video {path.name}: {exc}") from exc
        if index < 0:
            raise UnreadableMediaError(f"video {path.name} has no decodable frame")


class _open:
    """av.open with every failure turned into a typed error, closed on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: av.container.InputContainer | None = None

    def __enter__(self) -> av.container.InputContainer:
        path = self.path
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UnreadableMediaError(f"cannot read video {path.name}: {exc}") from exc
        if size == 0:
            raise UnreadableMediaError(f"video {path.name} is empty")
        media_type = sniff_media_type(path)
        if media_type.startswith(_NOT_VIDEO_PREFIXES):
            raise UnsupportedMediaError(f"{path.name} is {media_type}, not a video")
        try:
            self.container = av.open(str(path), mode="r")
        except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
            raise UnreadableMediaError(f"cannot open video {path.name}: {exc}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise UnsupportedMediaError(f"{path.name} has no video stream")
        return self.container

    def __exit__(self, *exc_info: object) -> None:
        if self.container is not None:
            self.container.close()


def _info(path: Path, container: av.container.InputContainer) -> VideoInfo:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise UnreadableMediaError(f"video {path.name} declares no picture size")
    if width * height > MAX_VIDEO_PIXELS:
        raise MediaTooLargeError(
            f"video {path.name} declares {width}x{height} pixels, more than 8K"
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if isinstance(rate, Fraction | int) and rate else 0.0
    if not 0 < fps <= MAX_VIDEO_FPS:
        raise UnreadableMediaError(f"video {path.name} declares an invalid frame rate {fps:g}")
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    declared = int(stream.frames or 0)
    if declared < 0 or duration < 0:
        raise UnreadableMediaError(f"video {path.name} declares a negative length")
    if declared > MAX_VIDEO_FRAMES or duration > MAX_VIDEO_SECONDS:
        raise MediaTooLargeError(
            f"video {path.name} declares {declared} frames / {duration:.0f} s, more than the "
            f"{MAX_VIDEO_SECONDS // 3600} h limit"
        )
    if duration == 0.0 and declared:
        duration = declared / fps
    return VideoInfo(declared, fps, duration, width, height)


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    # Even sizes keep swscale on its fast paths for 4:2:0 sources.
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
