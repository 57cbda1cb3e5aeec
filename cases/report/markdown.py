"""The report as Markdown, with its pictures and map written as files beside it.

Escaping is the default, not something each template line must remember: every `{{ }}` value
passes through `escape_markdown` unless it is a `MdRaw` that this module built itself (image
links, line-broken quotes). Text cannot open a tag, a link, emphasis or a table cell.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from cases.report import present
from cases.report.bidi import FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE, isolate_runs
from cases.report.errors import ReportError
from cases.report.mapsvg import draw_map
from cases.report.present import ArtefactReader

# ASCII punctuation CommonMark lets a backslash escape, that can start markup inline.
_INLINE = re.compile(r"([\\`*_\[\]{}()#+!|~])")
# Markup that only counts at the start of a line: headings, quotes, lists, rules, tables.
_LINE_START = re.compile(r"^(\s*)([-=])", re.MULTILINE)
_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)", re.MULTILINE)


class MdRaw(str):
    """Markdown this module produced from escaped parts: emitted as is."""


def escape_markdown(value: Any, *, isolate: bool = True) -> str:
    """Text as Markdown that renders as exactly that text: HTML characters become entities,
    punctuation that could start markup is backslash-escaped, line breaks become spaces.
    Right-to-left runs are isolated (`isolate=False`: text that is a paragraph of its own,
    whose direction its first letter should set) and reordering controls shown."""
    if isinstance(value, MdRaw):
        return value
    if value is None:
        return ""
    # See `cases.report.bidi`; the isolate marks are no Markdown syntax, so escaping after
    # them is unaffected.
    text = isolate_runs(
        str(value),
        (lambda run: f"{FIRST_STRONG_ISOLATE}{run}{POP_DIRECTIONAL_ISOLATE}") if isolate else str,
        str,
    )
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    text = _ORDERED.sub(r"\1\\\2", text)
    return " ".join(text.splitlines())


def quote_block(value: Any) -> MdRaw:
    """Multi-line text as a block quote that keeps its line breaks (a witness's words)."""
    lines = str(value or "").splitlines()
    bodies = [escape_markdown(line, isolate=False).strip() for line in lines] or [""]
    out = []
    for body, following in zip(bodies, [*bodies[1:], ""], strict=True):
        # A trailing backslash is a hard line break in CommonMark, but only inside a
        # paragraph: before a blank line or at the end it would show as a backslash.
        out.append(f"> {body}\\" if body and following else f"> {body}" if body else ">")
    return MdRaw("\n".join(out))


def cell(value: Any) -> MdRaw:
    """A table cell: escaped, on one line (`|` is already escaped)."""
    return MdRaw(escape_markdown(value))


def _code(value: Any) -> MdRaw:
    """Inline code for commands and hashes; our own texts hold no backticks."""
    text = str(value).replace("`", "'")
    return MdRaw(f"`{text}`")


def _values_lines(value: Any, depth: int = 0) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item and not _flat(item):
                lines.append(f"{pad}- {escape_markdown(key)}:")
                lines.extend(_values_lines(item, depth + 1))
            else:
                lines.append(f"{pad}- {escape_markdown(key)}: {_inline(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                parts = [f"{escape_markdown(k)} {_inline(v)}" for k, v in item.items()]
                lines.append(f"{pad}- " + ", ".join(parts))
            else:
                lines.append(f"{pad}- {_inline(item)}")
    else:
        lines.append(f"{pad}- {_inline(value)}")
    return lines


def _flat(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _inline(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_inline(v) for v in value) if value else "*none*"
    if isinstance(value, dict):
        return ", ".join(f"{escape_markdown(k)} {_inline(v)}" for k, v in value.items())
    if value is None:
        return "*none*"
    return escape_markdown(present.scalar_text(value))


def values_list(values: dict[str, Any]) -> MdRaw:
    return MdRaw("\n".join(_values_lines(present.shown_values(values))))


class _Pictures:
    """Writes finding pictures into the `<stem>_files/` directory and links them."""

    def __init__(self, read: ArtefactReader, files_dir: Path, link_prefix: str) -> None:
        self.read, self.files_dir, self.link_prefix = read, files_dir, link_prefix
        self.used: set[str] = set()

    def write(self, name: str, data: bytes) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "picture"
        stem, dot, ext = safe.rpartition(".")
        candidate, n = safe, 1
        while candidate in self.used:
            n += 1
            candidate = f"{stem}-{n}.{ext}" if dot else f"{safe}-{n}"
        self.used.add(candidate)
        try:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            (self.files_dir / candidate).write_bytes(data)
        except OSError as exc:
            raise ReportError(f"cannot write {self.files_dir / candidate}: {exc.strerror}") from exc
        return f"{self.link_prefix}/{candidate}"

    def image(self, finding_id: str, artefact: dict[str, Any]) -> MdRaw:
        data = self.read(artefact["path"]) if artefact["media_type"].startswith("image/") else None
        if data is None:
            return MdRaw(
                f"*picture not available ({escape_markdown(artefact['path'])}): re-run "
                "`claimcheck verify` to rebuild it*"
            )
        name = f"{finding_id}-{Path(artefact['path']).name}"
        link = self.write(name, data)
        return MdRaw(f"![{escape_markdown(artefact['caption'])}](<{link}>)")


def render_markdown(
    report: dict[str, Any], read: ArtefactReader, files_dir: Path, link_prefix: str
) -> str:
    """Markdown of `report`; pictures and `map.svg` go to `files_dir`, linked as
    `link_prefix/NAME` (a path relative to the Markdown file)."""
    pictures = _Pictures(read, files_dir, link_prefix)
    drawing = draw_map(report["map"])
    map_link = (
        pictures.write("map.svg", drawing.svg.encode("utf-8")) if drawing is not None else None
    )
    env = Environment(
        loader=PackageLoader("cases.report", "templates"),
        autoescape=False,
        finalize=escape_markdown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        hop=present.hop_text,
        size=present.human_size,
        scalar=present.scalar_text,
        roles=present.roles_text,
        attributed=present.attributions_text,
        version_fields=present.version_fields,
        quote=quote_block,
        cell=cell,
        code=_code,
        values_list=values_list,
        offset=present.offset_text,
    )
    template = env.get_template("report.md.j2")
    return template.render(
        r=report,
        map_link=MdRaw(map_link) if map_link else None,
        map_off=drawing.off_map if drawing is not None else (),
        picture=pictures.image,
    )
