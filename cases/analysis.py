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
from verify.hashing import hash_file
from verify.media import IMAGE_TYPES, VIDEO_TYPES
from verify.metadata import extract_metadata


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
    metadata: dict[str, Any] = {"media_type": media_type, "problems": []}
    frames: list[FrameAnalysis] = []
    if media_type in IMAGE_TYPES or media_type in VIDEO_TYPES:
        try:
            metadata = extract_metadata(path).to_dict()
        except VerifyError as exc:
            metadata["problems"].append(f"metadata: {exc}")
    if media_type in IMAGE_TYPES:
        try:
            frames.append(FrameAnalysis(0, None, hash_file(path).as_dict()))
        except VerifyError as exc:
            metadata.setdefault("problems", []).append(f"perceptual hashes: {exc}")
    return FileAnalysis(metadata=metadata, frames=frames)


def analyse_statement(text: str, encoding: str) -> FileAnalysis:
    return FileAnalysis(
        metadata={
            "media_type": "text/plain",
            "encoding": encoding,
            "characters": len(text),
            "problems": [],
        }
    )
