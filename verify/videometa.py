"""What a video says about itself: container metadata read with PyAV, no frame decoded.

Duration, frame rate, resolution, codec, creation time and the ISO 6709 location phones write
into QuickTime/MP4 metadata (`com.apple.quicktime.location.ISO6709`, `location`, which FFmpeg
also uses for the `©xyz` atom). Only the container header is parsed, so a corrupt file fails
fast; values that cannot be believed are dropped with the reason in `problems`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from verify.capturetime import CaptureTime, ZoneSource
from verify.errors import MetadataError, UnreadableMediaError, VerifyError
from verify.geo import GeoPoint
from verify.media import VIDEO_TYPES, require_media_type

# Location tags in the order they are trusted: Apple's key is the one phones write on purpose;
# `location` is FFmpeg's name for the `©xyz` atom (Android, older iPhones).
LOCATION_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng", "©xyz")
# Creation-time tags: Apple's carries the local offset, the container's is UTC by specification.
CREATION_KEYS = ("com.apple.quicktime.creationdate", "creation_time", "date")
# ffprobe-style caps on what the header parser may read (bytes and microseconds of streams),
# FFmpeg's defaults made explicit so a future default change cannot make probing unbounded.
PROBE_OPTIONS = {"probesize": "5000000", "analyzeduration": "5000000"}
# QuickTime counts from 1904 and Unix from 1970: writers with no clock leave these zero dates.
_ZERO_DATES = (datetime(1904, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))
# Longer than any real recording (a week); a declared duration beyond it is corruption.
MAX_DURATION_S = 7 * 24 * 3600.0

# High-speed phone modes reach 960 fps; beyond this a declared rate is corruption.
MAX_FRAME_RATE = 1000

_ISO6709 = re.compile(
    r"^(?P<lat>[+-]\d+(?:\.\d+)?)(?P<lon>[+-]\d+(?:\.\d+)?)(?P<alt>[+-]\d+(?:\.\d+)?)?"
    r"(?:CRS[A-Za-z0-9_:.]*)?/?$"
)


@dataclass(frozen=True)
class Iso6709Point:
    """A parsed ISO 6709 point: position and, when given, altitude in metres."""

    position: GeoPoint
    altitude_m: float | None


@dataclass(frozen=True)
class VideoLocation:
    """A position read from a video's ISO 6709 location tag (`tag` names which one)."""

    position: GeoPoint
    altitude_m: float | None
    tag: str
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat": self.position.lat,
            "lon": self.position.lon,
            "altitude_m": self.altitude_m,
            "tag": self.tag,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoLocation:
        return cls(GeoPoint(data["lat"], data["lon"]), data["altitude_m"], data["tag"], data["raw"])


@dataclass(frozen=True)
class VideoMetadata:
    """Container metadata of one video file, and what could not be read."""

    media_type: str
    container: str | None = None
    duration_s: float | None = None
    frame_rate: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    declared_frames: int | None = None
    creation: CaptureTime | None = None
    location: VideoLocation | None = None
    make: str | None = None
    model: str | None = None
    software: str | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "media_type": self.media_type,
            "container": self.container,
            "duration_s": self.duration_s,
            "frame_rate": self.frame_rate,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "declared_frames": self.declared_frames,
            "creation": self.creation.to_dict() if self.creation else None,
            "location": self.location.to_dict() if self.location else None,
            "make": self.make,
            "model": self.model,
            "software": self.software,
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoMetadata:
        creation, location = data.get("creation"), data.get("location")
        return cls(
            media_type=data["media_type"],
            container=data.get("container"),
            duration_s=data.get("duration_s"),
            frame_rate=data.get("frame_rate"),
            width=data.get("width"),
            height=data.get("height"),
            codec=data.get("codec"),
            declared_frames=data.get("declared_frames"),
            creation=CaptureTime.from_dict(creation) if creation else None,
            location=VideoLocation.from_dict(location) if location else None,
            make=data.get("make"),
            model=data.get("model"),
            software=data.get("software"),
            problems=tuple(data.get("problems", ())),
        )


def parse_iso6709(text: str) -> Iso6709Point:
    """Parse an ISO 6709 point ("+48.8577+002.2950+035.000/") into a position and altitude.

    Latitude and longitude may be decimal degrees (±DD.D, ±DDD.D), degrees and decimal minutes
    (±DDMM.M, ±DDDMM.M) or degrees, minutes and seconds (±DDMMSS.S, ±DDDMMSS.S), told apart by
    the number of integer digits as the standard prescribes. Raises MetadataError otherwise.
    """
    clean = text.strip()
    match = _ISO6709.match(clean)
    if match is None:
        raise MetadataError(f"location {clean[:60]!r} is not an ISO 6709 point")
    lat = _iso_angle(match.group("lat"), degree_digits=2)
    lon = _iso_angle(match.group("lon"), degree_digits=3)
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise MetadataError(f"location {clean[:60]!r} is out of range")
    alt = float(match.group("alt")) if match.group("alt") else None
    if alt is not None and not math.isfinite(alt):
        raise MetadataError(f"altitude in {clean[:60]!r} is not finite")
    return Iso6709Point(GeoPoint(lat, lon), alt)


def _iso_angle(field: str, *, degree_digits: int) -> float:
    sign = -1.0 if field[0] == "-" else 1.0
    body = field[1:]
    digits = len(body.split(".", 1)[0])
    value = float(body)
    # Decimal degrees: 1..degree_digits integer digits (short forms are written by some phones).
    if 1 <= digits <= degree_digits:
        return sign * value
    if digits == degree_digits + 2:
        degrees, minutes = divmod(value, 100.0)
        if minutes >= 60:
            raise MetadataError(f"minutes {minutes:g} in {field!r} not below 60")
        return sign * (degrees + minutes / 60.0)
    if digits == degree_digits + 4:
        degrees, rest = divmod(value, 10_000.0)
        minutes, seconds = divmod(rest, 100.0)
        if minutes >= 60 or seconds >= 60:
            raise MetadataError(f"minutes/seconds in {field!r} not below 60")
        return sign * (degrees + minutes / 60.0 + seconds / 3600.0)
    raise MetadataError(f"{field!r} has {digits} integer digits: not an ISO 6709 angle")


def extract_video_metadata(path: Path) -> VideoMetadata:
    """Read a video's container metadata. Raises UnsupportedMediaError for a non-video and
    UnreadableMediaError when no container can be parsed at all (empty, truncated header)."""
    media_type = require_media_type(path, VIDEO_TYPES, "a video")
    try:
        container = av.open(str(path), mode="r", options=PROBE_OPTIONS)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise UnreadableMediaError(f"cannot open video {path.name}: {exc}") from exc
    problems: list[str] = []
    try:
        return _read(container, media_type, problems)
    finally:
        container.close()


def _read(container: Any, media_type: str, problems: list[str]) -> VideoMetadata:
    tags = _lower_keys(container.metadata)
    fields: dict[str, Any] = {"container": container.format.name}
    if container.duration is not None and container.duration > 0:
        duration = container.duration / 1_000_000
        if duration <= MAX_DURATION_S:
            fields["duration_s"] = round(duration, 3)
        else:
            problems.append(f"declared duration {duration:.0f} s is beyond any real recording")
    video = container.streams.video[0] if container.streams.video else None
    if video is None:
        problems.append("no video stream in the container")
    else:
        ctx = video.codec_context
        tags = {**_lower_keys(video.metadata), **tags}
        fields["codec"] = ctx.name if ctx is not None else None
        if ctx is not None and ctx.width > 0 and ctx.height > 0:
            fields["width"], fields["height"] = int(ctx.width), int(ctx.height)
        rate = video.average_rate or video.guessed_rate
        if isinstance(rate, Fraction) and 0 < rate < MAX_FRAME_RATE:
            fields["frame_rate"] = round(float(rate), 3)
        elif rate:
            problems.append(f"declared frame rate {float(rate):g} fps is not believable")
        if video.frames and video.frames > 0:
            fields["declared_frames"] = int(video.frames)
    return VideoMetadata(
        media_type=media_type,
        creation=_creation(tags, problems),
        location=_location(tags, problems),
        make=tags.get("com.apple.quicktime.make") or tags.get("make"),
        model=tags.get("com.apple.quicktime.model") or tags.get("model"),
        software=tags.get("com.apple.quicktime.software") or tags.get("encoder"),
        problems=tuple(problems),
        **fields,
    )


def _lower_keys(metadata: dict[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v).strip()[:200] for k, v in metadata.items()}


def _location(tags: dict[str, str], problems: list[str]) -> VideoLocation | None:
    for key in LOCATION_KEYS:
        raw = tags.get(key)
        if not raw:
            continue
        try:
            point = parse_iso6709(raw)
        except (MetadataError, VerifyError, ValueError) as exc:
            problems.append(f"{key}: {exc}")
            continue
        return VideoLocation(point.position, point.altitude_m, key, raw)
    return None


def _creation(tags: dict[str, str], problems: list[str]) -> CaptureTime | None:
    for key in CREATION_KEYS:
        raw = tags.get(key)
        if not raw:
            continue
        try:
            stamp = datetime.fromisoformat(raw.replace(" ", "T", 1))
        except ValueError:
            problems.append(f"{key} {raw[:40]!r} is not an ISO 8601 time")
            continue
        if stamp.tzinfo is None:
            return CaptureTime(local=stamp, utc=None, zone=ZoneSource.UNKNOWN, source=key)
        try:
            utc = stamp.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-1200 from a hostile or garbled file
            problems.append(f"{key} {raw[:40]!r} is outside the calendar in UTC")
            continue
        if any(abs(utc - zero) < timedelta(days=1) for zero in _ZERO_DATES):
            problems.append(f"{key} {raw[:40]!r} is the container's zero date: clock unset")
            continue
        offset = stamp.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        if key == "creation_time":
            # The MP4/QuickTime creation time is UTC by specification; no local reading exists.
            return CaptureTime(local=None, utc=utc, zone=ZoneSource.CONTAINER_UTC, source=key)
        return CaptureTime(
            local=stamp.replace(tzinfo=None),
            utc=utc,
            zone=ZoneSource.OFFSET_TAG,
            source=key,
            utc_offset_minutes=minutes,
        )
    return None
