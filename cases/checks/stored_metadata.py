"""The metadata ingest stored with an item, rebuilt for the metadata checks.

Ingest keeps `PhotoMetadata.to_dict()` / `VideoMetadata.to_dict()` in `file_metadata`; items
whose file could not be read keep only `problems`, which these checks report as the reason they
cannot decide.
"""

from __future__ import annotations

from cases.originals import recorded_problems
from cases.snapshot import ItemInfo
from verify.errors import VerifyError
from verify.exif import PhotoMetadata
from verify.metadata import metadata_from_dict
from verify.videometa import VideoMetadata

# Roles whose items are offered as footage of the events themselves (the claim's photos and the
# denial's footage "filmed at the market"): what such an item's metadata says is tested against
# what the side offering it says.
OFFERED_ROLES = {"supports_claim": "claim", "denial_footage": "denial"}


def stored_metadata(item: ItemInfo) -> tuple[PhotoMetadata | VideoMetadata | None, str]:
    """The item's stored metadata, or None and the reason it is missing."""
    problems = "; ".join(
        recorded_problems(item.metadata.get("problems", ()), item.sha256, item.code)
    )
    try:
        return metadata_from_dict(item.metadata), problems
    except (VerifyError, KeyError, TypeError, ValueError) as exc:
        reason = problems or f"stored metadata not readable ({type(exc).__name__})"
        return None, reason


def offered_as(item: ItemInfo) -> list[str]:
    """Which side offers the item ("claim", "denial"), in that order; empty for other roles."""
    return [side for role, side in OFFERED_ROLES.items() if role in item.roles]
