"""Does the position a file records lie at the claimed site? (EXIF GPS or ISO 6709 tag.)"""

from __future__ import annotations

from cases.checks.base import CheckContext, FindingDraft
from cases.snapshot import ItemInfo
from verify.errors import VerifyError
from verify.exif import PhotoMetadata
from verify.geo import GeoPoint
from verify.metadata import metadata_from_dict
from verify.placecheck import SiteArea, check_place
from verify.verdict import Verdict


class GpsPlaceCheck:
    name = "gps_place"
    title = "Recorded GPS position against the sites"

    def examines(self, item: ItemInfo) -> bool:
        return item.is_footage

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        case = ctx.case
        sites = [
            SiteArea(s.name, GeoPoint(s.lat, s.lon), s.radius_m, s.claimed) for s in case.sites
        ]
        claimed = case.claimed_site.name if case.claimed_site else None
        drafts = []
        for item in case.items:
            if not self.examines(item):
                continue
            position, error_m = _recorded_position(item)
            if not sites:
                # Said, not skipped: a check that cannot decide says so and why.
                where = (
                    f"its recorded position {position.lat:.6f}, {position.lon:.6f}"
                    if position is not None
                    else "a position (it records none)"
                )
                drafts.append(
                    FindingDraft(
                        self.name,
                        Verdict.INCONCLUSIVE,
                        (item.code,),
                        {
                            "position": None
                            if position is None
                            else {"lat": position.lat, "lon": position.lon},
                            "sites": [],
                        },
                        f"{item.filename}: the case has no site to compare {where} with",
                    )
                )
                continue
            result = check_place(position, sites, claimed, horizontal_error_m=error_m)
            drafts.append(
                FindingDraft(
                    self.name,
                    result.verdict,
                    (item.code,),
                    result.to_dict(),
                    f"{item.filename}: {result.detail}",
                )
            )
        return drafts


def _recorded_position(item: ItemInfo) -> tuple[GeoPoint | None, float | None]:
    """The position the file records (EXIF GPS or ISO 6709) and its stated error, if any."""
    try:
        meta = metadata_from_dict(item.metadata)
    except (VerifyError, KeyError, TypeError, ValueError):
        return None, None
    if isinstance(meta, PhotoMetadata):
        if meta.gps is not None:
            return meta.gps.position, meta.gps.horizontal_error_m
        return None, None
    location = getattr(meta, "location", None) if meta is not None else None
    return (location.position, None) if location is not None else (None, None)
