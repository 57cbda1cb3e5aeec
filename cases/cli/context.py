"""What every command of one `claimcheck` call shares: the workspace and who is acting.

The root callback fills `_state` from the global options; the workspace opens on first use,
so `--help` and usage errors never touch the store.
"""

from __future__ import annotations

from typing import Any

from evidence_store.db import Workspace, open_workspace

_state: dict[str, Any] = {}


def actor() -> str:
    return _state["actor"]


def ws() -> Workspace:
    if "ws" not in _state:
        _state["ws"] = open_workspace(_state["home"], _state["db"])
    return _state["ws"]
