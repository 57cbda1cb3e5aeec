"""Tests for verify.metadata: dispatch by content and JSON round trips of both kinds."""

from __future__ import annotations

import json

import pytest

from verify.errors import UnreadableMediaError, UnsupportedMediaError
from verify.exif import PhotoMetadata
from verify.metadata import extract_metadata, metadata_from_dict
from verify.videometa import VideoMetadata

from .test_videometa import write_video


def test_dispatch_and_round_trip(tmp_path, exif_dir):
    video = write_video(tmp_path / "clip.bin", {"location": "+36.2+037.1/"})  # extension lies
    for path, kind in ((exif_dir / "gps" / "DSCN0027.jpg", PhotoMetadata), (video, VideoMetadata)):
        meta = extract_metadata(path)
        assert isinstance(meta, kind)
        assert metadata_from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


def test_refusals(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(UnreadableMediaError):
        extract_metadata(tmp_path / "empty")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    with pytest.raises(UnsupportedMediaError):
        extract_metadata(tmp_path / "doc.pdf")
    with pytest.raises(UnsupportedMediaError):
        metadata_from_dict({"media_type": "text/plain"})
