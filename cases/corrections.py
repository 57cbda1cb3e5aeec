"""Correcting what was recorded by mistake: editing or removing a site, removing a role link.

A correction changes the case's current state and nothing else: the custody event of each one
carries the record as it was (and, for a removal, every row that goes with it), so the history
is in the hash chain and `claimcheck log`. Evidence items and their originals are never
removed: an item whose reference link goes simply stops being reference imagery.

Findings are left as they are (they describe the case as the run saw it); a correction made
after the latest verify run is listed by `cases.freshness` until `verify` runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InputError, UnknownItemError
from cases.validate import (
    REFERENCE_ROLE,
    check_latitude,
    check_longitude,
    check_radius,
    check_role,
    check_text,
    site_name_key,
)
from cases.workflow import find_site, locked_case
from evidence_store.custody import ALSO_LOGGED, append_event, logged_entry, removal_entry
from evidence_store.db import Workspace
from evidence_store.models import Case, ItemLink, Site

# Custody actions of corrections; `cases.freshness` lists those made after a verify run.
SITE_UPDATE = "site-update"
SITE_REMOVE = "site-remove"
LINK_REMOVE = "link-remove"
CORRECTIONS = (SITE_UPDATE, SITE_REMOVE, LINK_REMOVE)

# Site fields `edit_site` changes, with the option that sets each (for messages).
_SITE_OPTIONS = {
    "lat": "--lat",
    "lon": "--lon",
    "radius_m": "--radius",
    "claimed": "--claimed/--not-claimed",
    "name": "--rename",
}


@dataclass(frozen=True)
class SiteEdit:
    case: str
    name: str  # the site's name now
    previous_name: str
    changed: tuple[str, ...]  # fields changed: lat, lon, radius_m, claimed, name


@dataclass(frozen=True)
class SiteRemoval:
    case: str
    name: str
    reference_items: tuple[str, ...]  # items that were reference imagery of the site (kept)
    roleless_items: tuple[str, ...]  # of those, the items left with no role at all


@dataclass(frozen=True)
class LinkRemoval:
    case: str
    item: str
    role: str
    site: str | None
    roles_left: tuple[str, ...]  # the item's remaining links, in words


def link_words(role: str, site: str | None) -> str:
    return role + (f" of site {site!r}" if site else "")


def _site_links(session: Session, site: Site) -> list[ItemLink]:
    return list(
        session.scalars(select(ItemLink).where(ItemLink.site_id == site.id).order_by(ItemLink.id))
    )


def _claimed_elsewhere(case: Case, site: Site) -> Site | None:
    return next((s for s in case.sites if s.claimed and s.id != site.id), None)


def edit_site(
    ws: Workspace,
    actor: str,
    code: str,
    name: str,
    *,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    claimed: bool | None = None,
    rename: str | None = None,
) -> SiteEdit:
    """Change the given fields of a site (None keeps a field). Refuses a change that changes
    nothing, a rename onto another site's name and a second claimed site (as `add_site`)."""
    if lat is not None:
        check_latitude(lat)
    if lon is not None:
        check_longitude(lon)
    if radius_m is not None:
        check_radius(radius_m)
    if rename is not None:
        check_text(rename, "new site name")
        rename = rename.strip()
    given = {"lat": lat, "lon": lon, "radius_m": radius_m, "claimed": claimed, "name": rename}
    given = {field: value for field, value in given.items() if value is not None}
    if not given:
        raise InputError(f"nothing to change: give one of {', '.join(_SITE_OPTIONS.values())}")

    def work(session: Session) -> SiteEdit:
        case = locked_case(session, code)
        site = find_site(case, name)
        changes = {f: v for f, v in given.items() if getattr(site, f) != v}
        if not changes:
            raise InputError(f"nothing to change: site {name!r} already has the values given")
        if "name" in changes and any(s.name == changes["name"] for s in case.sites):
            raise InputError(f"case {case.code} already has a site named {changes['name']!r}")
        if "name" in changes:
            # As `add_site`: another site whose name differs only in case, spacing or Unicode
            # form would read as this one in findings (fixing this site's own spelling is fine).
            key = site_name_key(str(changes["name"]))
            alike = [s.name for s in case.sites if s is not site and site_name_key(s.name) == key]
            if alike:
                raise InputError(
                    f"case {case.code} already has a site named {alike[0]!r}, which "
                    f"{changes['name']!r} would look like in findings and reports (names differ "
                    "only in case or spacing)"
                )
        other = _claimed_elsewhere(case, site)
        if changes.get("claimed") and other is not None:
            raise InputError(
                f"case {case.code} already has a claimed site ({other.name!r}); "
                f"mark it --not-claimed first"
            )
        previous = site.canonical()
        links = _site_links(session, site)
        # A link's row names its site: a rename rewrites every reference link of the site, so
        # the event logs the old rows as gone and the new ones with their hashes.
        old_rows = [removal_entry(site), *(removal_entry(lk) for lk in links)]
        for field_name, value in changes.items():
            setattr(site, field_name, value)
        session.flush()
        details: dict[str, Any] = {
            "name": site.name,
            "previous": previous,
            "changed": sorted(changes),
        }
        if "name" in changes:
            details["renamed_from"] = name
            details[ALSO_LOGGED] = old_rows + [logged_entry(lk) for lk in links]
        append_event(session, case, SITE_UPDATE, actor, record=site, details=details)
        return SiteEdit(case.code, site.name, name, tuple(sorted(changes)))

    return ws.run_write(work)


def remove_site(ws: Workspace, actor: str, code: str, name: str) -> SiteRemoval:
    """Remove a site registered by mistake, with the links that made items its reference
    imagery; the items stay. The custody event keeps the removed site and links whole.

    Refused while a link of another role names the site (older workspaces allowed that):
    removing it would silently take a role from claim or denial evidence.
    """

    def work(session: Session) -> SiteRemoval:
        case = locked_case(session, code)
        site = find_site(case, name)
        links = _site_links(session, site)
        for lk in links:
            if lk.role != REFERENCE_ROLE:
                raise InputError(
                    f"{lk.item.code} is linked to site {name!r} as {lk.role}: remove that link "
                    f"first (claimcheck evidence unlink {case.code} {lk.item.code} --role "
                    f"{lk.role} --site {name!r})"
                )
        items = list(dict.fromkeys(lk.item for lk in links))
        roleless = [i.code for i in items if all(lk in links for lk in i.links)]
        details = {
            "name": name,
            "removed": site.canonical(),
            "links": [lk.canonical() for lk in links],
            ALSO_LOGGED: [removal_entry(lk) for lk in links],
        }
        append_event(session, case, SITE_REMOVE, actor, removed=site, details=details)
        for lk in links:
            session.delete(lk)
        session.delete(site)
        session.flush()
        return SiteRemoval(case.code, name, tuple(i.code for i in items), tuple(roleless))

    return ws.run_write(work)


def unlink_item(
    ws: Workspace,
    actor: str,
    code: str,
    item_code: str,
    role: str,
    site: str | None = None,
) -> LinkRemoval:
    """Remove one role link of an item, recorded by mistake; the item and its original stay,
    and the custody event keeps the removed link."""
    check_role(role)
    wanted = item_code.strip().upper()

    def work(session: Session) -> LinkRemoval:
        case = locked_case(session, code)
        item = next((i for i in case.items if i.code == wanted), None)
        if item is None:
            raise UnknownItemError(
                f"case {case.code} has no evidence item {item_code!r} "
                f"(see `claimcheck evidence list {case.code}`)"
            )

        def words(lk: ItemLink) -> str:
            return link_words(lk.role, lk.site.name if lk.site is not None else None)

        link = next(
            (
                lk
                for lk in item.links
                if lk.role == role and (lk.site.name if lk.site is not None else None) == site
            ),
            None,
        )
        if link is None:
            have = ", ".join(words(lk) for lk in item.links) or "none"
            raise InputError(
                f"{item.code} has no link as {link_words(role, site)} (its links: {have})"
            )
        left = tuple(words(lk) for lk in item.links if lk is not link)
        details = {"item": item.code, "role": role, "site": site, "removed": link.canonical()}
        append_event(
            session,
            case,
            LINK_REMOVE,
            actor,
            removed=link,
            item_sha256=item.sha256,
            details=details,
        )
        session.delete(link)
        session.flush()
        return LinkRemoval(case.code, item.code, role, site, left)

    return ws.run_write(work)
