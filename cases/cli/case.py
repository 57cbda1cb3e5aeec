"""`claimcheck case`: open a case, list the cases, show one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cases import workflow
from cases.cli.context import actor, ws
from cases.cli.options import CaseArg, JsonOpt
from cases.cli.output import emit
from cases.validate import parse_date
from evidence_store.timeutil import iso_utc

case_app = typer.Typer(no_args_is_help=True, help="Open and inspect cases.")


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
