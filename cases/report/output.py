"""Writing a case's report to a file in one of the formats, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cases.errors import InputError
from cases.report.data import build_report
from cases.report.errors import ReportError
from cases.report.html import render_html
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from cases.validate import unsafe_output
from evidence_store.db import Workspace

FORMATS = ("html", "md", "json", "pdf")
_EXTENSIONS = {"html": "html", "md": "md", "json": "json", "pdf": "pdf"}


def default_output(case_code: str, fmt: str) -> Path:
    return Path(f"{case_code.strip().upper()}-report.{_EXTENSIONS[fmt]}")


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_pdf(html: str) -> bytes:
    """PDF through WeasyPrint (the optional `pdf` extra)."""
    from PIL import ImageFile

    # Importing WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process; evidence
    # checks rely on truncated images failing loudly, so the flag is put back afterwards.
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        try:
            from weasyprint import HTML
        except ImportError as exc:
            raise ReportError(
                "PDF needs WeasyPrint: pip install 'claimcheck[pdf]' (or use --format html and "
                "print it)"
            ) from exc
        except OSError as exc:  # WeasyPrint installed but its system library Pango is missing
            raise ReportError(f"WeasyPrint cannot start: {exc}") from exc
        return bytes(HTML(string=html).write_pdf())
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            # mkstemp makes the file private; a report is meant to be shared.
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_report(
    ws: Workspace,
    case_code: str,
    fmt: str,
    output: Path | None = None,
    *,
    now: datetime | None = None,
    on_original: Callable[[], None] | None = None,
) -> Path:
    """Build the report of a case and write it as `fmt`; returns the path written.

    Markdown puts its pictures and map in `<stem>_files/` beside the file.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    path = output or default_output(case_code, fmt)
    if path.is_dir():
        raise ReportError(f"{path} is a directory: give a file name with -o")
    refusal = unsafe_output(ws, path, "report")
    if refusal is not None:
        raise ReportError(refusal)
    report = build_report(ws, case_code, now=now, on_original=on_original)
    read = derived_reader(ws)
    if fmt == "json":
        data = report_json(report).encode("utf-8")
    elif fmt == "md":
        files_dir = path.with_name(f"{path.stem}_files")
        data = render_markdown(report, read, files_dir, files_dir.name).encode("utf-8")
    elif fmt == "html":
        data = render_html(report, read).encode("utf-8")
    else:
        data = render_pdf(render_html(report, read))
    _write_atomic(path, data)
    return path
