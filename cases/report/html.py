"""The report as one self-contained HTML page: pictures inline, no scripts, no requests.

Jinja autoescaping is on for every value; a Content-Security-Policy forbids scripts and any
load that is not an inline `data:` picture, so even a mistake in escaping could not run code or
call out.
"""

from __future__ import annotations

import base64
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from cases.report import present
from cases.report.bidi import isolate_runs, show_controls
from cases.report.mapsvg import draw_map
from cases.report.present import ArtefactReader

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def isolate_rtl(text: Any) -> Markup:
    """Escape `text` and wrap each right-to-left run in `<bdi>`.

    Finding details, timeline rows and captions are the tool's English sentences with user
    text inside (file, site, witness names). Without isolation the bidirectional algorithm
    lets a number that follows an Arabic name ("'السوق' 15") be drawn on the name's other
    side, next to another site's name, and a sentence that starts with an Arabic file name
    is reordered as a whole.
    """
    value = "" if text is None else str(text)
    return Markup(
        isolate_runs(value, lambda run: f"<bdi>{escape(run)}</bdi>", lambda t: str(escape(t)))
    )


def _finalize(value: Any) -> Any:
    """Every `{{ }}` value: reordering controls in text shown (`cases.report.bidi`)."""
    if isinstance(value, Markup):
        # Built by this module or a filter from escaped parts; the controls, if any, are text.
        return Markup(show_controls(str(value)))
    if isinstance(value, str):
        return show_controls(value)
    return value


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cases.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
        finalize=_finalize,
    )
    env.filters.update(
        hop=present.hop_text,
        size=present.human_size,
        scalar=present.scalar_text,
        roles=present.roles_text,
        attributed=present.attributions_text,
        version_fields=present.version_fields,
        shown=present.shown_values,
        columns=present.columns,
        offset=present.offset_text,
        isolate=isolate_rtl,
    )
    env.tests["table"] = present.is_table
    return env


def _data_uri(read: ArtefactReader, artefact: dict[str, Any]) -> str | None:
    if not artefact["media_type"].startswith("image/"):
        return None
    data = read(artefact["path"])
    if data is None:
        return None
    return f"data:{artefact['media_type']};base64,{base64.b64encode(data).decode('ascii')}"


def render_html(report: dict[str, Any], read: ArtefactReader) -> str:
    """The HTML page of `report` (from `build_report`); `read` fetches finding pictures."""
    env = _environment()
    drawing = draw_map(report["map"])
    template = env.get_template("report.html.j2")
    return template.render(
        r=report,
        csp=CONTENT_SECURITY_POLICY,
        # The SVG is built from escaped parts in mapsvg; it is the one pre-rendered fragment.
        map_svg=Markup(drawing.svg) if drawing is not None else None,
        map_off=drawing.off_map if drawing is not None else (),
        data_uri=lambda artefact: _data_uri(read, artefact),
    )
