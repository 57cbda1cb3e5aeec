"""The exchange bundle's layout, limits and entry-name rules, shared by export and import.

A bundle is a zip file:
- `manifest.json`: format, version, case, source workspace, and the SHA-256 and size of every
  other entry. Import accepts nothing until every entry hashes to its manifest line.
- `case.json`: the case's rows in their canonical forms (exactly what the custody log hashed),
  plus verify runs and frame hashes.
- `custody.json`: the case's custody chain, every event with its hash.
- `originals/<sha256>`: the evidence files, untouched.
- `derived/<path>`: keyframe thumbnails and finding pictures (rebuildable, carried for review).
- `report.json`: the case report, when the report module is installed.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import PurePosixPath

FORMAT = "claimcheck-bundle"
VERSION = 1
MANIFEST = "manifest.json"
ROWS = "case.json"
CUSTODY = "custody.json"
REPORT = "report.json"
ORIGINALS = "originals/"
DERIVED = "derived/"

# Import limits. A case is originals plus small JSON; 64 GiB of originals covers hours of
# drone footage, and anything larger should be moved by other means than one zip.
MAX_TOTAL_UNCOMPRESSED = 64 * 1024**3
MAX_ENTRIES = 200_000
# Deflate can reach ~1030:1 on constant bytes; real media barely compresses and JSON reaches
# ~20:1, so 100:1 on any entry over 1 MiB only refuses what is built to expand (a zip bomb).
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1 << 20
# The JSON documents are parsed in memory: bound them separately.
MAX_JSON_BYTES = 256 * 1024**2


def unsafe_name(name: str) -> str | None:
    """Why an entry name may not be extracted, or None when it is a plain relative path."""
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts) or "//" in name:
        return "path traversal"
    return None


def is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)
