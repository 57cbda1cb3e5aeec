"""Printing shared by the commands: one-line errors on stderr and `--json` documents on stdout."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn, TextIO

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"claimcheck: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def emit(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# Terminal controls: C0 but newline and tab, DEL, and C1 (U+009B is a one-character CSI on some
# terminals). File names, EXIF text and video tags come from hostile sources: printed raw, a
# name could clear the screen, overwrite a line with forged output ("\r added ... as E-..."),
# or send OSC sequences (window title, clipboard on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Colour and style (SGR) sequences pass: Typer's help is styled with them, and at worst a name
# changes the colour of the text after it.
_SGR = re.compile(r"(\x1b\[[0-9;]*m)")


def shown(text: str) -> str:
    """`text` with terminal controls written as `\\u00XX`: visible on a terminal, and inside a
    `--json` document the same character (json leaves DEL and C1 unescaped)."""
    parts = _SGR.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", parts[i])
    return "".join(parts)


class ShownControls:
    """A text stream that writes through `shown`; everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.raw = stream

    def write(self, text: str) -> int:
        self.raw.write(shown(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a `ShownControls` (progress bars draw with cursor controls)."""
    return stream.raw if isinstance(stream, ShownControls) else stream
