"""Printing shared by the commands: one-line errors on stderr and `--json` documents on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"claimcheck: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def emit(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
