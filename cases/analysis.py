"""What is computed from an item's bytes at ingest: metadata, perceptual hashes, keyframes.

All of it is a pure function of the bytes, so it is computed once, outside any transaction,
and stored with the item. A file that cannot be analysed still ingests: the original is the
evidence, and the metadata records what could not be read and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.errors import VerifyError
from verify.media import IMAGE_TYPES, VIDEO_TYPES, open_image


@dataclass(frozen=True)
class FrameAnalysis:
    index: int
    time_s: float | None
    hashes: dict[str, Any]
    thumbnail_jpeg: bytes | None = None


@dataclass(frozen=True)
class FileAnalysis:
    metadata: dict[str, Any]
    frames: list[FrameAnalysis] = field(default_factory=list)


def analyse_file(path: Path, media_type: str, kind: str) -> FileAnalysis:
    problems: list[str] = []
    metadata: dict[str, Any] = {"media_type": media_type, "problems": problems}
    if media_type in IMAGE_TYPES:
        try:
            with open_image(path) as img:
                metadata["image"] = {"width": img.width, "height": img.height, "format": img.format}
        except VerifyError as exc:
            problems.append(str(exc))
    elif media_type in VIDEO_TYPES:
        metadata["video"] = {}
    return FileAnalysis(metadata=metadata)


def analyse_statement(text: str, encoding: str) -> FileAnalysis:
    return FileAnalysis(
        metadata={
            "media_type": "text/plain",
            "encoding": encoding,
            "characters": len(text),
            "problems": [],
        }
    )
