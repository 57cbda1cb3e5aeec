"""Does the position a file records lie at the claimed site? (EXIF GPS or ISO 6709 tag.)"""

from __future__ import annotations

from cases.checks.base import CheckContext, FindingDraft
from cases.snapshot import ItemInfo
from verify.errors import VerifyError
from verify.exif import PhotoMetadata
from verify.geo import GeoPoint
from verify.metadata import metadata_from_dict
from verify.placecheck import SiteArea, check_place


class GpsPlaceCheck:
    name = "gps_place"
    title = "Recorded GPS position against the sites"

    def examines(self, item: ItemInfo) -> bool:
        return item.is_footage

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        case = ctx.case
        if not case.sites:
            return []
        sites = [
            SiteArea(s.name, GeoPoint(s.lat, s.lon), s.radius_m, s.claimed) for s in case.sites
        ]
        claimed = case.claimed_site.name if case.claimed_site else None
        drafts = []
        for item in case.items:
            if not self.examines(item):
                continue
            position, error_m = None, None
            try:
                meta = metadata_from_dict(item.metadata)
            except (VerifyError, KeyError, TypeError, ValueError):
                meta = None
            if isinstance(meta, PhotoMetadata):
                if meta.gps is not None:
                    position, error_m = meta.gps.position, meta.gps.horizontal_error_m
            elif meta is not None:
                location = getattr(meta, "location", None)
                if location is not None:
                    position = location.position
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
