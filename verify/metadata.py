"""One entry point for ingest: the metadata of any photo or video, and its stored JSON form.

The media type is judged from the content (never the extension); the stored dict carries it, so
`metadata_from_dict` knows which dataclass to rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verify.errors import UnreadableMediaError, UnsupportedMediaError
from verify.exif import PhotoMetadata, extract_photo_metadata
from verify.media import IMAGE_TYPES, VIDEO_TYPES, sniff_media_type
from verify.videometa import VideoMetadata, extract_video_metadata


def extract_metadata(path: Path) -> PhotoMetadata | VideoMetadata:
    """Photo or video metadata by content type; UnsupportedMediaError for anything else."""
    try:
        media_type = sniff_media_type(path)
    except OSError as exc:
        raise UnreadableMediaError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if media_type in VIDEO_TYPES:
        return extract_video_metadata(path)
    if media_type in IMAGE_TYPES or path.stat().st_size == 0:
        return extract_photo_metadata(path)
    raise UnsupportedMediaError(f"{path.name} is neither a photo nor a video ({media_type})")


def metadata_from_dict(data: dict[str, Any]) -> PhotoMetadata | VideoMetadata:
    """Rebuild what `to_dict()` of either dataclass stored."""
    media_type = str(data.get("media_type", ""))
    if media_type.startswith("video/"):
        return VideoMetadata.from_dict(data)
    if media_type.startswith("image/"):
        return PhotoMetadata.from_dict(data)
    raise UnsupportedMediaError(f"stored metadata has unknown media type {media_type!r}")
