"""Does the position a file records lie at the claimed site? (EXIF GPS or ISO 6709 tag.)

A photo whose EXIF thumbnail shows a different picture may carry another photo's GPS position:
its finding is inconclusive and says so (see cases.checks.foreign_exif).
"""

from __future__ import annotations

from typing import Any

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.foreign_exif import exif_in_doubt, foreign_exif
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
        return [self._item(ctx, item, sites, claimed) for item in case.items if self.examines(item)]

    def _item(
        self, ctx: CheckContext, item: ItemInfo, sites: list[SiteArea], claimed: str | None
    ) -> FindingDraft:
        position, error_m = _recorded_position(item)
        values: dict[str, Any]
        if not sites:
            # Said, not skipped: a check that cannot decide says so and why.
            where = (
                f"its recorded position {position.lat:.6f}, {position.lon:.6f}"
                if position is not None
                else "a position (it records none)"
            )
            verdict = Verdict.INCONCLUSIVE
            detail = f"the case has no site to compare {where} with"
            values = {
                "position": None
                if position is None
                else {"lat": position.lat, "lon": position.lon},
                "sites": [],
            }
        else:
            result = check_place(position, sites, claimed, horizontal_error_m=error_m)
            verdict, detail, values = result.verdict, result.detail, result.to_dict()
        foreign = foreign_exif(ctx, item) if position is not None else None
        if foreign is not None:
            detail, values = exif_in_doubt(foreign, "GPS position", verdict, detail, values)
            verdict = Verdict.INCONCLUSIVE
        return FindingDraft(self.name, verdict, (item.code,), values, f"{item.filename}: {detail}")


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
