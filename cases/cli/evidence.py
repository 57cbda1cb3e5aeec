"""`claimcheck evidence`: add files as evidence, list and show items, remove a wrong role."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cases import corrections, workflow
from cases.cli.context import actor, ws
from cases.cli.options import CaseArg, ItemArg, JsonOpt
from cases.cli.output import emit
from cases.cli.progress import RichProgress, video_progress
from cases.ingest import ItemFacts, LinkSpec, add_evidence
from cases.originals import recorded_problems
from cases.report.data import attribution_dict
from cases.snapshot import reference_sites
from cases.validate import EARLIEST_COLLECTION, parse_when
from evidence_store.timeutil import iso_utc

evidence_app = typer.Typer(
    no_args_is_help=True, help="Add and inspect evidence items; remove a wrong role."
)


@evidence_app.command("add")
def evidence_add(
    case: CaseArg,
    files: Annotated[list[Path], typer.Argument(help="The files to add, stored untouched.")],
    kind: Annotated[str, typer.Option(help="photo, video, document or statement.")],
    source: Annotated[
        str | None, typer.Option(help="Where the file came from (channel, person, archive).")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            help="supports_claim, denial_footage, site_reference or other; default "
            "site_reference with --site, else other."
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(help="The site this file is reference imagery of (role site_reference)."),
    ] = None,
    collected_by: Annotated[str | None, typer.Option(help="Who collected the file.")] = None,
    collected_at: Annotated[
        str | None, typer.Option(help="When: YYYY-MM-DD or ISO 8601 time (UTC if no zone).")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Anything else worth recording.")] = None,
) -> None:
    """Add files as evidence; the same bytes again name the existing item (and add the role)."""
    role = role or ("site_reference" if site else "other")
    facts = ItemFacts(
        source=source,
        collected_by=collected_by,
        collected_at=(
            parse_when(collected_at, "collection time", EARLIEST_COLLECTION)
            if collected_at
            else None
        ),
        notes=notes,
    )
    add_with_progress(case, files, kind, LinkSpec(role, site), facts)


def add_with_progress(
    case: str, files: list[Path], kind: str | None, link: LinkSpec, facts: ItemFacts
) -> None:
    """Ingest files with a progress bar on stderr, then one line per file."""
    with RichProgress() as progress:
        task = progress.task("adding evidence", len(files))
        results = add_evidence(
            ws(),
            actor(),
            case,
            files,
            kind=kind,
            links=[link],
            facts=facts,
            on_progress=lambda _r: task.advance(),
            on_video_progress=video_progress(progress),
        )
    for r in results:
        print(r.message, file=sys.stderr)
        if r.warning:
            print(f"claimcheck: warning: {r.warning}", file=sys.stderr)


def item_dict(i: Any) -> dict[str, Any]:
    return {
        "id": i.code,
        "kind": i.kind,
        "sha256": i.sha256,
        "filename": i.filename,
        "media_type": i.media_type,
        "size": i.size,
        "roles": sorted({lk.role for lk in i.links}),
        # Which site reference imagery shows: the role alone does not say.
        "reference_of": sorted(reference_sites(i.links)),
        "source": i.source,
        "ingested_at": iso_utc(i.ingested_at),
        "witness": i.witness,
        "collected_by": i.collected_by,
        "collected_at": iso_utc(i.collected_at) if i.collected_at else None,
        "notes": i.notes,
        "statement_date": i.statement_date.isoformat() if i.statement_date else None,
        "language": i.language,
        # Further witnesses, sources or collectors of the same bytes, in the order recorded.
        "attributions": [attribution_dict(a) for a in i.attributions],
    }


@evidence_app.command("list")
def evidence_list(case: CaseArg, as_json: JsonOpt = False) -> None:
    """List a case's evidence items."""
    c = workflow.get_case(ws(), case)
    if as_json:
        emit({"case": c.code, "items": [item_dict(i) for i in c.items]})
        return
    for i in c.items:
        print(f"{i.code}  {i.kind:9} {i.sha256[:12]}  {i.filename}")


@evidence_app.command("show")
def evidence_show(item: ItemArg, as_json: JsonOpt = False) -> None:
    """Show one item: its roles, attributions and the metadata read from the file."""
    i = workflow.get_item(ws(), item)
    metadata = dict(i.file_metadata or {})
    if "problems" in metadata:
        metadata["problems"] = recorded_problems(metadata["problems"], i.sha256, i.code)
    data = item_dict(i) | {"case": i.case.code, "metadata": metadata}
    if as_json:
        emit(data)
        return
    metadata = data.pop("metadata") or {}
    attributions = data.pop("attributions")
    for key, value in data.items():
        if value is not None and value != []:
            print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    for a in attributions:
        facts = ", ".join(f"{k}: {v}" for k, v in a.items() if v is not None and k != "seq")
        print(f"also attributed ({a['seq']}): {facts}")
    print("metadata (read from the file at ingest):")
    print_tree(metadata, indent="  ")


@evidence_app.command("unlink")
def evidence_unlink(
    case: CaseArg,
    item: ItemArg,
    role: Annotated[
        str,
        typer.Option(
            help="The role recorded by mistake: supports_claim, denial_footage, site_reference "
            "or other."
        ),
    ],
    site: Annotated[
        str | None,
        typer.Option(help="For --role site_reference: the site the item was wrongly linked to."),
    ] = None,
) -> None:
    """Remove one role of an item recorded by mistake; the item and its original stay."""
    out = corrections.unlink_item(ws(), actor(), case, item, role, site)
    left = ", ".join(out.roles_left) or "none (counted as other evidence)"
    print(
        f"removed {out.item}'s link as {corrections.link_words(out.role, out.site)} (kept in the "
        f"custody log); the item and its original are kept; its links now: {left}",
        file=sys.stderr,
    )


def print_tree(data: dict[str, Any], indent: str) -> None:
    """Nested metadata as indented `key: value` lines; absent values are left out."""
    for key, value in data.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            print_tree(value, indent + "  ")
        elif isinstance(value, list):
            print(f"{indent}{key}:")
            for entry in value:
                print(f"{indent}  - {entry}")
        else:
            print(f"{indent}{key}: {value}")
