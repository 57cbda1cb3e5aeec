"""Opening cases and recording the claim, the denial and the sites.

Every change is one transaction together with its custody event, so the log and the records
can never disagree. Functions return ORM rows loaded in their own session (detached, read-only
for the caller); the CLI formats them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.errors import InputError, UnknownCaseError, UnknownItemError, UnknownSiteError
from cases.validate import (
    check_count,
    check_latitude,
    check_longitude,
    check_not_future,
    check_radius,
    check_text,
    site_name_key,
)
from evidence_store.custody import append_event, lock_case
from evidence_store.db import Workspace
from evidence_store.models import Case, Claim, Denial, EvidenceItem, ItemLink, Site
from evidence_store.timeutil import utcnow


def _pending_code() -> str:
    # Codes derive from the autoincrement id, known only after the insert; a unique
    # placeholder keeps the unique constraint satisfied meanwhile.
    return "~" + uuid.uuid4().hex[:15]


def load_case(session: Session, code: str) -> Case:
    case = session.scalar(
        select(Case)
        .where(Case.code == code.strip().upper())
        .options(
            selectinload(Case.claim),
            selectinload(Case.denial),
            selectinload(Case.sites),
            selectinload(Case.items).selectinload(EvidenceItem.links).selectinload(ItemLink.site),
        )
    )
    if case is None:
        raise UnknownCaseError(f"no case {code!r} in this workspace (see `claimcheck case list`)")
    return case


def load_item(session: Session, code: str) -> EvidenceItem:
    item = session.scalar(
        select(EvidenceItem)
        .where(EvidenceItem.code == code.strip().upper())
        .options(
            selectinload(EvidenceItem.links).selectinload(ItemLink.site),
            selectinload(EvidenceItem.case),
            selectinload(EvidenceItem.frames),
        )
    )
    if item is None:
        raise UnknownItemError(f"no evidence item {code!r} in this workspace")
    return item


def find_site(case: Case, name: str) -> Site:
    for site in case.sites:
        if site.name == name:
            return site
    known = ", ".join(repr(s.name) for s in case.sites) or "none yet"
    raise UnknownSiteError(f"case {case.code} has no site {name!r} (sites: {known})")


def open_case(
    ws: Workspace,
    actor: str,
    *,
    title: str,
    incident_date: date,
    place_name: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    summary: str | None = None,
) -> Case:
    check_text(title, "case title")
    check_not_future(incident_date, "incident date")
    if (lat is None) != (lon is None):
        raise InputError("give both --lat and --lon, or neither")
    if lat is not None and lon is not None:
        check_latitude(lat)
        check_longitude(lon)

    def work(session: Session) -> Case:
        case = Case(
            code=_pending_code(),
            title=title.strip(),
            incident_date=incident_date,
            place_name=place_name,
            lat=lat,
            lon=lon,
            summary=summary,
            status="open",
            created_at=utcnow(),
        )
        session.add(case)
        session.flush()
        case.code = f"C-{case.id:04d}"
        session.flush()
        append_event(session, case, "open", actor, record=case, details={"title": case.title})
        return case

    return ws.run_write(work)


def list_cases(ws: Workspace) -> list[Case]:
    with ws.reading() as session:
        return list(
            session.scalars(
                select(Case)
                .order_by(Case.id)
                .options(selectinload(Case.items), selectinload(Case.sites))
            )
        )


def get_case(ws: Workspace, code: str) -> Case:
    with ws.reading() as session:
        return load_case(session, code)


def locked_case(session: Session, code: str) -> Case:
    """The case with its row locked and everything re-read after the lock: a replacement must
    log as `previous` the version it really replaces, even when another one committed meanwhile
    (PostgreSQL; SQLite write transactions are serial already)."""
    case = lock_case(session, load_case(session, code))
    session.expire_all()
    return case


def _refuse_overwrite(case: Case, what: str, replace: bool, given: dict[str, Any]) -> None:
    if not replace:
        raise InputError(
            f"case {case.code} already has a {what}; pass --replace to change it "
            "(options not given keep their recorded values)"
        )
    if all(value is None for value in given.values()):
        raise InputError(f"--replace given but no option to change the {what}")


def _required(value: object, option: str, what: str) -> None:
    if value is None:
        raise InputError(f"{option} is required to record a {what}")


def set_claim(
    ws: Workspace,
    actor: str,
    code: str,
    *,
    text: str | None = None,
    source: str | None = None,
    url: str | None = None,
    published: date | None = None,
    killed: int | None = None,
    children: int | None = None,
    women: int | None = None,
    perpetrator: str | None = None,
    replace: bool = False,
) -> Claim:
    """Record the claim, or with `replace` change the fields given (None keeps a field).

    The custody event of a replacement carries the previous canonical record, so every earlier
    wording stays in the hash chain.
    """
    if text is not None:
        check_text(text, "claim text")
    if source is not None:
        check_text(source, "claim source")
    for value, what in ((killed, "killed"), (children, "children"), (women, "women")):
        check_count(value, what)
    given = {
        "text": text,
        "source": source,
        "url": url,
        "published": published,
        "killed": killed,
        "children": children,
        "women": women,
        "perpetrator": perpetrator,
    }

    return _set_record(
        ws, actor, code, Claim, given, {"text": "--text", "source": "--source"}, replace, "source"
    )


def set_denial(
    ws: Workspace,
    actor: str,
    code: str,
    *,
    by: str | None = None,
    on: date | None = None,
    text: str | None = None,
    url: str | None = None,
    replace: bool = False,
) -> Denial:
    """Record the denial, or with `replace` change the fields given (None keeps a field); the
    previous canonical record goes into the custody event, as for `set_claim`."""
    if by is not None:
        check_text(by, "denial author (--by)")
    if text is not None:
        check_text(text, "denial text")
    given = {"by": by, "date": on, "text": text, "url": url}

    return _set_record(
        ws,
        actor,
        code,
        Denial,
        given,
        {"by": "--by", "date": "--date", "text": "--text"},
        replace,
        "by",
    )


_Record = TypeVar("_Record", Claim, Denial)


def _set_record(
    ws: Workspace,
    actor: str,
    code: str,
    model: type[_Record],
    given: dict[str, Any],
    required: dict[str, str],
    replace: bool,
    summary: str,
) -> _Record:
    """Create the case's claim or denial, or with `replace` change the given fields of the one
    recorded. `required` names the fields a new record needs (and their options); `summary` is
    the field the custody event names it by."""
    kind = "claim" if model is Claim else "denial"

    def work(session: Session) -> _Record:
        case = locked_case(session, code)
        details: dict[str, Any] = {}
        # Read before constructing: `model(case=case)` sets the relationship on the case.
        record: _Record | None = getattr(case, kind)
        if record is not None:
            _refuse_overwrite(case, kind, replace, given)
            details["previous"] = record.canonical()
            action = f"{kind}-update"
        else:
            for field_name, option in required.items():
                _required(given[field_name], option, kind)
            record = model(case=case)
            action = f"{kind}-set"
        for name, value in given.items():
            if value is not None:
                setattr(record, name, value)
        record.updated_at = utcnow()
        session.add(record)
        session.flush()
        details[summary] = getattr(record, summary)
        details["changed"] = sorted(name for name, value in given.items() if value is not None)
        append_event(session, case, action, actor, record=record, details=details)
        return record

    return ws.run_write(work)


def add_site(
    ws: Workspace,
    actor: str,
    code: str,
    *,
    name: str,
    lat: float,
    lon: float,
    radius_m: float = 150.0,
    claimed: bool = False,
) -> Site:
    check_text(name, "site name")
    check_latitude(lat)
    check_longitude(lon)
    check_radius(radius_m)

    def work(session: Session) -> Site:
        case = load_case(session, code)
        if any(s.name == name for s in case.sites):
            raise InputError(f"case {case.code} already has a site named {name!r}")
        alike = [s.name for s in case.sites if site_name_key(s.name) == site_name_key(name)]
        if alike:
            raise InputError(
                f"case {case.code} already has a site named {alike[0]!r}, which {name!r} would "
                "look like in findings and reports (names differ only in case or spacing)"
            )
        if claimed and any(s.claimed for s in case.sites):
            other = next(s.name for s in case.sites if s.claimed)
            raise InputError(f"case {case.code} already has a claimed site ({other!r})")
        site = Site(
            case=case,
            name=name,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            claimed=claimed,
            created_at=utcnow(),
        )
        session.add(site)
        session.flush()
        append_event(session, case, "site-add", actor, record=site, details={"name": name})
        return site

    return ws.run_write(work)


def get_item(ws: Workspace, code: str) -> EvidenceItem:
    with ws.reading() as session:
        return load_item(session, code)
