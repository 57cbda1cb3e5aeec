"""Right-to-left text and bidirectional control characters in reports.

Two hazards of user text (file, site and witness names, quoted statements) inside the tool's
own English sentences:

- An Arabic or Hebrew name pulls neighbouring numbers to its side: "'السوق' 15" can be drawn
  with 15 next to another site's name. Each right-to-left run is isolated (HTML `<bdi>`,
  Markdown U+2068 FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE).
- Embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069) reorder whatever
  follows them: a file named "photo\u202egpj.exe" is displayed as "photoexe.jpg". A report must
  show what the name is, so each such control is replaced by a visible "[U+202E]". The JSON
  report keeps the text exactly as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko and their presentation forms).
_RTL = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc"
# A run of right-to-left text: RTL letters joined by what occurs inside a name (spaces,
# joiners, dots, dashes, Arabic punctuation, digits), never by quotes or commas, which the
# tool's own sentences put between a name and its number.
_RTL_RUN = re.compile(f"[{_RTL}](?:[ \u00a0\u200c\u200d._\\-\u060c\u061b0-9]*[{_RTL}])*")
# Controls that change the display order of the text after them. The marks (U+200E, U+200F,
# U+061C) only set the direction of neighbouring punctuation and are common in typed Arabic.
_REORDERING = re.compile("[\u202a-\u202e\u2066-\u2069]")

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


def show_controls(text: str) -> str:
    """`text` with every reordering control replaced by a visible "[U+XXXX]"."""
    return _REORDERING.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def isolate_runs(text: str, wrap: Callable[[str], str], plain: Callable[[str], str]) -> str:
    """`text` with reordering controls shown, each right-to-left run passed through `wrap` and
    the text between runs through `plain` (each renderer escapes in both)."""
    value = show_controls(text)
    out, last = [], 0
    for m in _RTL_RUN.finditer(value):
        out.append(plain(value[last : m.start()]))
        out.append(wrap(m.group()))
        last = m.end()
    out.append(plain(value[last:]))
    return "".join(out)
