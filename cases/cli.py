"""The `claimcheck` command line: the only place that prints.

Library errors become one line on stderr and a non-zero exit; `--json` prints one document.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, NoReturn

import typer

from cases import corrections, workflow
from cases.errors import CaseError, InputError
from cases.freshness import case_sides_and_changes, side_label
from cases.ingest import ItemFacts, LinkSpec, add_evidence, add_statement, precheck_files
from cases.originals import recorded_problems
from cases.report.data import attribution_dict
from cases.snapshot import reference_sites
from cases.validate import EARLIEST_COLLECTION, parse_date, parse_when
from cases.verification import current_findings, run_verify
from evidence_store.custody import case_events
from evidence_store.db import Workspace, default_home, init_workspace, open_workspace
from evidence_store.errors import StoreError
from evidence_store.timeutil import iso_utc
from verify.errors import VerifyError

# Pillow logs plugin chatter (e.g. "STREAM b'IHDR'") through the root logger's last-resort
# handler; stderr is for claimcheck's own messages, and decoding problems reach the user as
# typed errors or recorded metadata problems instead.
logging.getLogger("PIL").addHandler(logging.NullHandler())
logging.getLogger("PIL").propagate = False

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Verify attack claims against official denials: a case store with untouched originals "
    "and a tamper-evident custody log.",
)
case_app = typer.Typer(no_args_is_help=True, help="Open and inspect cases.")
claim_app = typer.Typer(no_args_is_help=True, help="Record the attack claim.")
denial_app = typer.Typer(no_args_is_help=True, help="Record the official denial.")
site_app = typer.Typer(
    no_args_is_help=True, help="Register, inspect and correct the places footage may show."
)
evidence_app = typer.Typer(
    no_args_is_help=True, help="Add and inspect evidence items; remove a wrong role."
)
statement_app = typer.Typer(no_args_is_help=True, help="Add witness statements.")
for sub, name in (
    (case_app, "case"),
    (claim_app, "claim"),
    (denial_app, "denial"),
    (site_app, "site"),
    (evidence_app, "evidence"),
    (statement_app, "statement"),
):
    app.add_typer(sub, name=name)

_state: dict[str, Any] = {}
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
CaseArg = Annotated[str, typer.Argument(help="The case id, e.g. C-0001.", show_default=False)]
SiteArg = Annotated[str, typer.Argument(help="The site's name, as registered.")]
ItemArg = Annotated[str, typer.Argument(help="The evidence item id, e.g. E-000001.")]


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"claimcheck: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def actor() -> str:
    return _state["actor"]


def ws() -> Workspace:
    if "ws" not in _state:
        _state["ws"] = open_workspace(_state["home"], _state["db"])
    return _state["ws"]


class _RichTask:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self._bar, self._id = bar, task_id

    def advance(self, steps: float = 1) -> None:
        self._bar.advance(self._id, steps)


class RichProgress:
    """Progress bars on stderr, so stdout stays a clean JSON document or id."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        # Off a terminal (pipes, logs, tests) a bar is noise: stderr carries only messages.
        self._bar = Progress(console=console, transient=True, disable=not console.is_terminal)

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def task(self, description: str, total: float | None) -> _RichTask:
        return _RichTask(self._bar, self._bar.add_task(description, total=total))


def emit(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@app.callback()
def _main(
    home: Annotated[
        Path | None,
        typer.Option(
            envvar="CLAIMCHECK_HOME",
            help="Workspace folder (originals, database, derived pictures); default ./.claimcheck.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            envvar="CLAIMCHECK_DB",
            help="Database URL for a shared PostgreSQL store (postgresql+psycopg://...); "
            "default the workspace's own SQLite file.",
        ),
    ] = None,
    actor_: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="CLAIMCHECK_ACTOR",
            help="Who is doing this, as the custody log records it; default your login name.",
        ),
    ] = None,
) -> None:
    _state["home"] = home or default_home()
    _state["db"] = db
    try:
        default_actor = getpass.getuser()
    except (KeyError, OSError):
        default_actor = "unknown"
    if actor_ is not None and not actor_.strip():
        # An empty name would silently log the OS user instead of who is doing this.
        raise InputError("--actor is empty: name who is doing this, for the custody log")
    _state["actor"] = actor_ or default_actor


@app.command()
def init() -> None:
    """Create a workspace."""
    w = init_workspace(_state["home"], _state["db"])
    print(f"initialised workspace {w.home} ({w.fingerprint})", file=sys.stderr)


def case_dict(c: Any) -> dict[str, Any]:
    return {
        "id": c.code,
        "title": c.title,
        "incident_date": c.incident_date.isoformat(),
        "place": c.place_name,
        "lat": c.lat,
        "lon": c.lon,
        "summary": c.summary,
        "status": c.status,
        "created_at": iso_utc(c.created_at),
    }


@case_app.command("open")
def case_open(
    title: Annotated[str, typer.Argument(help='A short title, e.g. "Market strike".')],
    date: Annotated[str, typer.Option("--date", help="Day of the incident (YYYY-MM-DD).")],
    place: Annotated[str | None, typer.Option(help="Place name of the incident.")] = None,
    lat: Annotated[
        float | None, typer.Option(help="Latitude of the incident (decimal degrees).")
    ] = None,
    lon: Annotated[
        float | None, typer.Option(help="Longitude of the incident (decimal degrees).")
    ] = None,
    summary: Annotated[str | None, typer.Option(help="A few words on what happened.")] = None,
) -> None:
    """Open a case; prints its id alone."""
    c = workflow.open_case(
        ws(),
        actor(),
        title=title,
        incident_date=parse_date(date, "incident date"),
        place_name=place,
        lat=lat,
        lon=lon,
        summary=summary,
    )
    print(c.code)


@case_app.command("list")
def case_list(as_json: JsonOpt = False) -> None:
    """List the cases in this workspace."""
    cases = workflow.list_cases(ws())
    if as_json:
        emit({"cases": [case_dict(c) for c in cases]})
        return
    for c in cases:
        print(f"{c.code}  {c.incident_date}  {c.title}")


@case_app.command("show")
def case_show(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Show a case: its sites, claim, denial and number of items."""
    c = workflow.get_case(ws(), case)
    data = case_dict(c)
    data["sites"] = [
        {"name": s.name, "lat": s.lat, "lon": s.lon, "radius_m": s.radius_m, "claimed": s.claimed}
        for s in c.sites
    ]
    data["claim"] = (
        {"text": c.claim.text, "source": c.claim.source, "url": c.claim.url} if c.claim else None
    )
    if c.claim:  # what `claim set` records beyond the text (issue 2: casualties, perpetrator)
        data["claim"] |= {
            "date": c.claim.published.isoformat() if c.claim.published else None,
            "killed": c.claim.killed,
            "children": c.claim.children,
            "women": c.claim.women,
            "perpetrator": c.claim.perpetrator,
        }
    data["denial"] = (
        {
            "by": c.denial.by,
            "date": c.denial.date.isoformat(),
            "text": c.denial.text,
            "url": c.denial.url,
        }
        if c.denial
        else None
    )
    data["items"] = len(c.items)
    if as_json:
        emit(data)
        return
    for key, value in data.items():
        print(f"{key}: {value}")


LatOpt = Annotated[float, typer.Option(help="Latitude of the site (decimal degrees).")]
LonOpt = Annotated[float, typer.Option(help="Longitude of the site (decimal degrees).")]
RadiusOpt = Annotated[
    float, typer.Option(help="Metres around the site's point that count as the site.")
]
ReplaceOpt = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Change an existing record: only the options given change, the rest is kept; "
        "the previous version stays in the custody log.",
    ),
]


@claim_app.command("set")
def claim_set(
    case: CaseArg,
    text: Annotated[
        str | None,
        typer.Option(help="What the claim says, in its words. Required unless --replace."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Who made the claim. Required unless --replace.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Where the claim was published.")] = None,
    date: Annotated[
        str | None, typer.Option(help="Day the claim was published (YYYY-MM-DD).")
    ] = None,
    killed: Annotated[int | None, typer.Option(help="People killed, as the claim says.")] = None,
    children: Annotated[
        int | None, typer.Option(help="Children among the killed, as the claim says.")
    ] = None,
    women: Annotated[
        int | None, typer.Option(help="Women among the killed, as the claim says.")
    ] = None,
    perpetrator: Annotated[
        str | None, typer.Option(help="Who carried out the attack, as the claim says.")
    ] = None,
    replace: ReplaceOpt = False,
) -> None:
    """Record the attack claim (or change it with --replace)."""
    workflow.set_claim(
        ws(),
        actor(),
        case,
        text=text,
        source=source,
        url=url,
        published=parse_date(date) if date else None,
        killed=killed,
        children=children,
        women=women,
        perpetrator=perpetrator,
        replace=replace,
    )


@denial_app.command("set")
def denial_set(
    case: CaseArg,
    by: Annotated[
        str | None, typer.Option(help="Who issued the denial. Required unless --replace.")
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(help="Day of the denial (YYYY-MM-DD). Required unless --replace."),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(help="What the denial says, in its words. Required unless --replace."),
    ] = None,
    url: Annotated[str | None, typer.Option(help="Where the denial was published.")] = None,
    footage: Annotated[
        list[Path] | None,
        typer.Option(help="Footage offered with the denial (repeat for several files)."),
    ] = None,
    replace: ReplaceOpt = False,
) -> None:
    """Record the official denial (or change it with --replace), with its footage."""
    if footage:  # every file checked before the denial is recorded: a typo stores nothing
        precheck_files(footage, None)
    workflow.set_denial(
        ws(),
        actor(),
        case,
        by=by,
        on=parse_date(date) if date else None,
        text=text,
        url=url,
        replace=replace,
    )
    if footage:
        add_with_progress(case, footage, None, LinkSpec("denial_footage"), ItemFacts())


@site_app.command("add")
def site_add(
    case: CaseArg,
    name: Annotated[str, typer.Argument(help='A name for the site, e.g. "popular market".')],
    lat: LatOpt,
    lon: LonOpt,
    radius: RadiusOpt = 150.0,
    claimed: Annotated[
        bool, typer.Option("--claimed", help="This is where the claim says the attack was.")
    ] = False,
    imagery: Annotated[
        list[Path] | None,
        typer.Option(
            help="Reference photo of the site, to match footage against (repeat for several)."
        ),
    ] = None,
) -> None:
    """Register a site: a place the footage may show, with its reference imagery."""
    if imagery:  # every file checked before the site is created: a typo stores nothing
        precheck_files(imagery, "photo")
    workflow.add_site(
        ws(), actor(), case, name=name, lat=lat, lon=lon, radius_m=radius, claimed=claimed
    )
    if imagery:
        add_with_progress(case, imagery, "photo", LinkSpec("site_reference", name), ItemFacts())


def site_dict(site: Any, items: list[Any]) -> dict[str, Any]:
    """A site with the items that are its reference imagery."""
    return {
        "name": site.name,
        "lat": site.lat,
        "lon": site.lon,
        "radius_m": site.radius_m,
        "claimed": site.claimed,
        "created_at": iso_utc(site.created_at),
        "reference_items": [
            {"id": i.code, "filename": i.filename}
            for i in items
            if site.name in reference_sites(i.links)
        ],
    }


def print_site(site: dict[str, Any]) -> None:
    claimed = "  claimed site" if site["claimed"] else ""
    refs = ", ".join(f"{r['id']} ({r['filename']})" for r in site["reference_items"]) or "none"
    print(
        f"{site['name']}  {site['lat']:.6f}, {site['lon']:.6f}  radius {site['radius_m']:g} m"
        f"{claimed}  reference imagery: {refs}"
    )


@site_app.command("list")
def site_list(case: CaseArg, as_json: JsonOpt = False) -> None:
    """List a case's sites with their reference imagery."""
    c = workflow.get_case(ws(), case)
    sites = [site_dict(s, c.items) for s in c.sites]
    if as_json:
        emit({"case": c.code, "sites": sites})
        return
    if not sites:
        print(f"{c.code} has no sites yet (claimcheck site add)", file=sys.stderr)
    for site in sites:
        print_site(site)


@site_app.command("show")
def site_show(case: CaseArg, name: SiteArg, as_json: JsonOpt = False) -> None:
    """Show one site: its point, radius, whether it is the claimed site, its reference imagery."""
    c = workflow.get_case(ws(), case)
    data = {"case": c.code} | site_dict(workflow.find_site(c, name), c.items)
    if as_json:
        emit(data)
        return
    refs = data.pop("reference_items")
    for key, value in data.items():
        print(f"{key}: {value}")
    print("reference imagery:" + ("" if refs else " none"))
    for r in refs:
        print(f"  {r['id']}  {r['filename']}")


@site_app.command("edit")
def site_edit(
    case: CaseArg,
    name: SiteArg,
    lat: Annotated[
        float | None, typer.Option(help="New latitude of the site (decimal degrees).")
    ] = None,
    lon: Annotated[
        float | None, typer.Option(help="New longitude of the site (decimal degrees).")
    ] = None,
    radius: Annotated[
        float | None,
        typer.Option(help="New radius: metres around the site's point that count as the site."),
    ] = None,
    claimed: Annotated[
        bool | None,
        typer.Option(
            "--claimed/--not-claimed",
            help="Whether this is where the claim says the attack was (one claimed site per case).",
            show_default=False,
        ),
    ] = None,
    rename: Annotated[str | None, typer.Option(help="A new name for the site.")] = None,
) -> None:
    """Correct a site: only the options given change; the custody log keeps the old record."""
    out = corrections.edit_site(
        ws(), actor(), case, name, lat=lat, lon=lon, radius_m=radius, claimed=claimed, rename=rename
    )
    renamed = f" (now {out.name!r})" if out.name != out.previous_name else ""
    print(
        f"site {out.previous_name!r}{renamed} of {out.case}: changed {', '.join(out.changed)}; "
        "the previous record is kept in the custody log",
        file=sys.stderr,
    )


@site_app.command("remove")
def site_remove(case: CaseArg, name: SiteArg) -> None:
    """Remove a site registered by mistake; its reference imagery stays as evidence items."""
    out = corrections.remove_site(ws(), actor(), case, name)
    print(
        f"removed site {out.name!r} from {out.case}; the custody log keeps the removed record "
        "and its reference links",
        file=sys.stderr,
    )
    if out.reference_items:
        print(
            f"{', '.join(out.reference_items)}: no longer reference imagery of {out.name!r}; "
            "the items and their originals are kept",
            file=sys.stderr,
        )
    if out.roleless_items:
        print(
            f"{', '.join(out.roleless_items)}: now without any role (counted as other evidence; "
            "`claimcheck evidence add` with the same file and --role gives one)",
            file=sys.stderr,
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


def video_progress(progress: RichProgress) -> Any:
    """A keyframe-extraction callback that shows one bar per video, in seconds decoded."""
    tasks: dict[str, tuple[_RichTask, list[float]]] = {}

    def report(name: str, done: float, total: float) -> None:
        if name not in tasks:
            tasks[name] = (progress.task(f"keyframes of {name}", total or None), [0.0])
        task, last = tasks[name]
        task.advance(max(0.0, done - last[0]))
        last[0] = max(last[0], done)

    return report


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


@statement_app.command("add")
def statement_add(
    case: CaseArg,
    witness: Annotated[str, typer.Option(help="Who gave the statement.")],
    text: Annotated[
        str | None, typer.Option(help="The statement's words (or give --file).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="A text file holding the statement (or give --text).")
    ] = None,
    date: Annotated[
        str | None, typer.Option(help="Day the statement was given (YYYY-MM-DD).")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language of the statement, e.g. ar or en.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of --file when it is not UTF-8.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the statement came from.")] = None,
    role: Annotated[str, typer.Option(help="supports_claim or other.")] = "supports_claim",
) -> None:
    """Add a witness statement, stored as a text item of its own."""
    r = add_statement(
        ws(),
        actor(),
        case,
        witness=witness,
        text=text,
        file=file,
        encoding=encoding,
        role=role,
        facts=ItemFacts(
            source=source,
            statement_date=parse_date(date) if date else None,
            language=language,
        ),
    )
    print(r.message, file=sys.stderr)


@app.command()
def verify(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Run every registered check and store the findings."""
    with RichProgress() as progress:
        out = run_verify(ws(), actor(), case, progress=progress)
    for d in out.damaged:
        print(f"claimcheck: warning: {d.detail}", file=sys.stderr)
    findings(out.case, as_json=as_json)


@app.command()
def findings(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Show the latest verify run's findings; artefacts are the pictures behind them."""
    rows = current_findings(ws(), case)
    sides, changes = case_sides_and_changes(ws(), case)
    data = [
        {
            "id": f.code,
            "check": f.check,
            "verdict": f.verdict,
            "side": sides.get(f.items[0]) if f.items else None,
            "items": f.items,
            "values": f.values,
            "detail": f.detail,
            "created_at": iso_utc(f.created_at),
            "tool_version": f.tool_version,
            "artefacts": [str(ws().derived.resolve(a)) for a in f.artefacts or []],
        }
        for f in rows
    ]
    note = changes.describe() if changes is not None else ""
    if as_json:
        emit(
            {
                "case": case.upper(),
                "findings": data,
                "changes_since_run": changes.as_dict() if changes is not None else None,
            }
        )
        return
    if not data:
        print("no findings (no checks produced any yet)")
    for row in rows:
        # The side and item id first: two items may share a file name, and a mismatch on
        # denial footage argues the opposite of one on claim evidence.
        side = sides.get(row.items[0]) if row.items else None
        about = f"{side_label(side)} {row.items[0]}" if side else ""
        print(f"{row.code}  {row.check}  {row.verdict}  [{about}]: {row.detail}")
    if note:
        print(note, file=sys.stderr)


@app.command()
def log(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Show a case's custody log."""
    w = ws()
    with w.reading() as session:
        c = workflow.load_case(session, case)
        events: list[dict[str, Any]] = [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "item_sha256": e.item_sha256,
                "record": e.record_id,
                # With record_type and record_hash every field the event's hash covers is here:
                # the chain can be re-verified from this output alone, without claimcheck.
                "record_type": e.record_type,
                "record_hash": e.record_hash,
                # e.g. the previous wording of a replaced claim or denial
                "details": e.details,
                "hash": e.hash,
                "prev_hash": e.prev_hash,
            }
            for e in case_events(session, c)
        ]
    if as_json:
        emit({"case": case.upper(), "events": events})
        return
    for e in events:
        print(f"{e['seq']:4} {e['at']} {e['actor']:12} {e['action']:14} {e['hash'][:16]}")


@app.command()
def fsck(as_json: JsonOpt = False) -> None:
    """Re-hash every blob and re-walk every custody chain; exit 1 on any problem."""
    from evidence_store.fsck import check_store

    with RichProgress() as progress:  # re-hashing every original of a large store takes long
        task = progress.task("re-hashing originals", None)
        report = check_store(ws(), on_blob=lambda _done, _total: task.advance())
    problems = [str(p) for p in report.problems]
    if as_json:
        emit(
            {
                "ok": report.ok,
                "problems": problems,
                "blobs_checked": report.blobs_checked,
                "cases_checked": report.cases_checked,
                "interrupted_writes": report.orphans,
                "unreferenced_blobs": report.unreferenced_blobs,
            }
        )
    else:
        for p in problems:
            print(p)
        for sha in report.unreferenced_blobs:
            print(
                f"warning: blob {sha} is stored but no item references it (left by a failed "
                "or interrupted ingest?); it is outside every custody log and was not deleted"
            )
        if report.orphans:
            print(
                f"{len(report.orphans)} leftover temporary file(s) from interrupted writes "
                "(never visible as blobs; harmless)",
                file=sys.stderr,
            )
        warned = len(report.unreferenced_blobs)
        summary = "store consistent" if report.ok else f"{len(problems)} problem(s)"
        summary += f", {warned} unreferenced blob(s)" if warned else ""
        print(summary, file=sys.stderr)
    if problems:
        raise typer.Exit(1)


@app.command()
def search(
    files: Annotated[list[Path], typer.Argument(help="Photos or videos to look for.")],
    case: Annotated[str | None, typer.Option("--case", help="Search one case only.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find stored items and video moments that show the same picture as each photo or video."""
    from cases.search import search_files

    with RichProgress() as progress:
        task = progress.task("searching", len(files))
        results = search_files(ws(), files, case=case, on_progress=task.advance)
    if as_json:
        emit({"results": [r.as_dict() for r in results]})
        return
    for r in results:
        print(f"{r.query}: {len(r.matches)} match(es)")
        for m in r.matches:
            at = f" at {m.time_s:.2f} s" if m.time_s is not None else ""
            d = m.distances
            how = "  confirmed by pixel alignment" if m.alignment is not None else ""
            print(
                f"  {m.item} ({m.case}){at}  PDQ {d['pdq']}  pHash {d['phash']}  dHash {d['dhash']}"
                f"{'  mirrored' if m.mirrored else ''}{how}"
            )


@app.command()
def export(
    case: CaseArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Bundle to write (.zip).")],
    as_json: JsonOpt = False,
) -> None:
    """Write a case (originals, records, custody log, hashes) to a zip bundle."""
    from cases.bundle import export_case

    with RichProgress() as progress:
        task = progress.task("exporting", None)
        out = export_case(ws(), actor(), case, output, on_file=lambda _n, _t: task.advance())
    if as_json:
        emit({"case": out.case, "bundle": str(out.path), "files": out.files, "bytes": out.bytes})
    else:
        print(f"exported {out.case} to {out.path} ({out.files} files)", file=sys.stderr)


@app.command("import")
def import_(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `claimcheck export`.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle completely, then add its case to this workspace as a new case."""
    from cases.bundle import import_bundle

    with RichProgress() as progress:  # every entry is hashed before anything is accepted
        task = progress.task("checking bundle", None)
        out = import_bundle(ws(), actor(), bundle, on_file=lambda _n, _t: task.advance())
    if as_json:
        emit(
            {
                "case": out.case,
                "source_case": out.source_case,
                "source_workspace": out.source_workspace,
                "items": out.items,
                "findings": out.findings,
                "bundle_sha256": out.bundle_sha256,
            }
        )
        return
    print(out.case)
    print(
        f"imported {out.source_case} as {out.case}: {out.items} item(s), {out.findings} finding(s)",
        file=sys.stderr,
    )


@app.command()
def demo(
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder for the demo workspace; default a new temp folder."),
    ] = None,
) -> None:
    """Build the example case in a fresh workspace and verify it."""
    import tempfile

    from cases.demo.story import build_demo_case

    root = dir or Path(tempfile.mkdtemp(prefix="claimcheck-demo-"))
    home = root / "workspace"
    w = init_workspace(home)
    _state["ws"] = w
    with RichProgress() as progress:
        d = build_demo_case(w, actor(), root / "assets", progress=progress)
    print(f"demo case {d.case} in workspace {home}: {len(d.outcome.findings)} finding(s)")
    findings(d.case)
    from cases.report.output import write_report

    path = write_report(w, d.case, "html", root / f"{d.case}-report.html")
    print(f"report: {path}")


@app.command()
def report(
    case: CaseArg,
    fmt: Annotated[str, typer.Option("--format", help="html, md, json or pdf")] = "html",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write; '-' for stdout (json).")
    ] = None,
) -> None:
    """Write the evidence summary of a case; prints the path written."""
    from cases.report.output import FORMATS, build_report, report_json, write_report

    fmt = fmt.lower()
    if fmt not in FORMATS:
        fail(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    if output is not None and str(output) == "-":
        if fmt != "json":
            fail("only --format json can be written to stdout; give a file name with -o")
        with RichProgress() as progress:
            task = progress.task("re-hashing originals", None)
            report_data = build_report(ws(), case, on_original=task.advance)
        sys.stdout.write(report_json(report_data))
        return
    with RichProgress() as progress:  # every original is re-hashed for the report's header
        task = progress.task("re-hashing originals", None)
        path = write_report(ws(), case, fmt, output, on_original=task.advance)
    print(path)


def main() -> None:
    try:
        # Without standalone mode the parser returns a command's `typer.Exit` code instead
        # of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (StoreError, CaseError, VerifyError) as exc:
        print(f"claimcheck: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("claimcheck: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback
        # Usage errors from the command-line parser carry their own message and exit code.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            message = exc.format_message().strip() if hasattr(exc, "format_message") else ""
            if message and "\n" not in message:
                print(f"claimcheck: error: {message} (see --help)", file=sys.stderr)
            else:  # no arguments: the parser shows the help text
                exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("CLAIMCHECK_DEBUG"):
            raise
        print(f"claimcheck: internal error: {exc!r}", file=sys.stderr)
        sys.exit(70)


if __name__ == "__main__":
    main()
