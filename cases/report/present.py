"""Helpers both renderers share: how values, hops and sizes read, and where pictures come from.

Nothing here escapes: each renderer escapes for its own format at output time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidence_store.db import Workspace
from evidence_store.errors import BlobError

ArtefactReader = Callable[[str], bytes | None]

# Values that repeat the finding's own verdict and detail text are not shown twice.
_REPEATED_KEYS = ("verdict", "detail")
_HOP_KEYS = ("from", "to", "inliers")


def derived_reader(ws: Workspace) -> ArtefactReader:
    """Read a finding's picture from the derived store; None when it is gone (rebuildable by
    `claimcheck verify`) or its path points outside the store."""

    def read(relative: str) -> bytes | None:
        try:
            return ws.derived.resolve(relative).read_bytes()
        except (BlobError, OSError):
            return None

    return read


def shown_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not (k in _REPEATED_KEYS and isinstance(v, str))}


def hop_text(hop: dict[str, Any]) -> str:
    """One link of a `via` chain in words: `E-000009 frame 12 → E-000010 (312 inliers)`."""
    text = f"{hop.get('from', '?')} → {hop.get('to', '?')}"
    if hop.get("inliers") is not None:
        text += f" ({hop['inliers']} inliers)"
    extra = [f"{k} {v}" for k, v in hop.items() if k not in _HOP_KEYS]
    if extra:
        text += "; " + ", ".join(extra)
    return text


def columns(rows: list[Any]) -> list[str]:
    """The union of keys of a list of mappings, in first-seen order (a table's header)."""
    seen: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            for key in row:
                seen.setdefault(str(key), None)
    return list(seen)


def is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def scalar_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"
    return str(value)


def roles_text(roles: list[dict[str, Any]]) -> str:
    return ", ".join(r["role"] + (f" of {r['site']}" if r.get("site") else "") for r in roles)


def attributions_text(attributions: list[dict[str, Any]]) -> str:
    """Further attributions of an item in words: `witness Y, statement date 2020-01-01; source
    dup` (what each re-add recorded, in order)."""
    return "; ".join(
        ", ".join(
            f"{key.replace('_', ' ')} {value}"
            for key, value in a.items()
            if value is not None and key not in ("seq", "recorded_at")
        )
        for a in attributions
    )


def version_fields(version: dict[str, Any]) -> str:
    """An earlier claim or denial's fields other than its text, in words."""
    names = {"updated_at": "recorded"}
    return ", ".join(
        f"{names.get(key, key.replace('_', ' '))} {value}"
        for key, value in version.items()
        if value is not None and key not in ("case", "text")
    )


_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def distance_text(metres: float) -> str:
    """`380 m`, `4.3 km`, `51.2 km`: metres to the metre below a kilometre, else 0.1 km."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def offset_text(offset: dict[str, Any] | None) -> str:
    """Where a point lies from its reference (see `data._offset`): `51.2 km NE (47°) of popular
    market`; empty when there is nothing to measure from."""
    if not offset:
        return ""
    if offset["bearing_deg"] is None or offset["distance_m"] < 1:
        return f"at {offset['from']}"
    bearing = offset["bearing_deg"]
    compass = _COMPASS[round(bearing / 45) % 8]
    return f"{distance_text(offset['distance_m'])} {compass} ({bearing:.0f}°) of {offset['from']}"
