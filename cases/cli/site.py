"""`claimcheck site`: register, list, show, correct and remove the places footage may show."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cases import corrections, workflow
from cases.cli.context import actor, ws
from cases.cli.evidence import add_with_progress
from cases.cli.options import CaseArg, JsonOpt, SiteArg
from cases.cli.output import emit
from cases.ingest import ItemFacts, LinkSpec, precheck_files
from cases.site_history import site_history
from cases.snapshot import reference_sites
from evidence_store.timeutil import iso_utc

site_app = typer.Typer(
    no_args_is_help=True, help="Register, inspect and correct the places footage may show."
)


LatOpt = Annotated[float, typer.Option(help="Latitude of the site (decimal degrees).")]
LonOpt = Annotated[float, typer.Option(help="Longitude of the site (decimal degrees).")]
RadiusOpt = Annotated[
    float, typer.Option(help="Metres around the site's point that count as the site.")
]


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
    """Show one site: its point, radius, whether it is the claimed site, its reference imagery,
    and its earlier versions (each correction, with the values it replaced)."""
    c = workflow.get_case(ws(), case)
    history = site_history(ws(), c.code, name)
    data = {"case": c.code} | site_dict(workflow.find_site(c, name), c.items)
    if as_json:
        emit(data | {"history": history.as_dict()})
        return
    refs = data.pop("reference_items")
    for key, value in data.items():
        print(f"{key}: {value}")
    print("reference imagery:" + ("" if refs else " none"))
    for r in refs:
        print(f"  {r['id']}  {r['filename']}")
    if history.registered_at is not None:
        print(f"registered: {history.registered_at} by {history.registered_by}")
    print("corrections:" + ("" if history.changes else " none"))
    for change in history.changes:
        before = ", ".join(f"{f} {_shown(change.before.get(f))}" for f in change.changed)
        print(
            f"  {change.at} by {change.actor} (custody event {change.seq}): "
            f"changed {', '.join(change.changed)}; before: {before}"
        )


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


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
