"""Was the footage captured when the side offering it says? (EXIF or container capture time.)

Claim footage must not predate the incident; denial footage offered as showing the site after
the strike must be captured after the incident and before the denial was published. The time
zone of a camera clock is often unknown: `verify.timecheck` then allows every zone and says so.
A photo whose EXIF thumbnail shows a different picture may carry another photo's date: its
finding is inconclusive and says so (see cases.checks.foreign_exif).
"""

from __future__ import annotations

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.foreign_exif import exif_in_doubt, foreign_exif
from cases.checks.stored_metadata import offered_as, stored_metadata
from cases.snapshot import ItemInfo
from verify.capturetime import ZoneSource
from verify.exif import PhotoMetadata
from verify.timecheck import check_time
from verify.verdict import Verdict

# How findings and reports name the sides (cases.freshness.SIDE_LABEL, not imported: it
# imports the verification that imports the checks).
_AS = {"claim": "claim evidence", "denial": "denial footage", "other": "other evidence"}


class CaptureTimeCheck:
    name = "capture_time"
    title = "Recorded capture time against the incident and the denial"

    def examines(self, item: ItemInfo) -> bool:
        return item.is_footage

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        case = ctx.case
        denial_date = case.denial.date if case.denial else None
        drafts = []
        for item in case.items:
            if not self.examines(item):
                continue
            meta, problems = stored_metadata(item)
            roles = offered_as(item) or ["other"]
            for role in roles:
                # One finding per side offering the item; their texts must say which is which
                # when the metadata is missing (the sentence then names no side).
                name = f"{item.filename} (as {_AS[role]})" if len(roles) > 1 else item.filename
                if meta is None:
                    drafts.append(self._unreadable(item, name, role, problems))
                    continue
                capture = meta.capture if isinstance(meta, PhotoMetadata) else meta.creation
                result = check_time(capture, case.incident_date, denial_date, role)
                verdict, detail = result.verdict, result.detail
                if capture is None and problems:
                    detail += f" Metadata problems: {problems}."
                elif capture is not None and capture.zone == ZoneSource.UNKNOWN and problems:
                    # Why the zone is unknown although the file may carry a GPS (UTC) time or
                    # an offset tag: they disagree with the capture time or do not parse, which
                    # is itself a trace the investigator should see beside the finding.
                    detail += f" The file's metadata also records: {problems}."
                values = result.to_dict() | {
                    "incident_date": case.incident_date.isoformat(),
                    "denial_date": denial_date.isoformat() if denial_date else None,
                }
                foreign = foreign_exif(ctx, item) if capture is not None else None
                if foreign is not None:
                    detail, values = exif_in_doubt(foreign, "date", verdict, detail, values)
                    verdict = Verdict.INCONCLUSIVE
                drafts.append(
                    FindingDraft(
                        self.name,
                        verdict,
                        (item.code,),
                        values,
                        f"{name}: {detail}",
                    )
                )
        return drafts

    def _unreadable(self, item: ItemInfo, name: str, role: str, problems: str) -> FindingDraft:
        return FindingDraft(
            self.name,
            Verdict.INCONCLUSIVE,
            (item.code,),
            {"role": role, "capture": None, "problems": problems},
            f"{name}: no capture time could be read, so the time cannot be checked ({problems}).",
        )
