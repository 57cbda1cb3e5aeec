"""The registry of checks `claimcheck verify` runs, in this order.

Adding a check is one new module in this package and one line here.
"""

from __future__ import annotations

from cases.checks.base import Check
from cases.checks.capture_time import CaptureTimeCheck
from cases.checks.duplicates import DuplicatesCheck
from cases.checks.gps_place import GpsPlaceCheck
from cases.checks.provenance import ProvenanceCheck
from cases.checks.recycled_footage import RecycledFootageCheck
from cases.checks.site_match import SiteMatchCheck

CHECKS: list[Check] = [SiteMatchCheck(), GpsPlaceCheck()]
CHECKS += [CaptureTimeCheck(), ProvenanceCheck()]  # issue 5: time and editing traces
CHECKS += [RecycledFootageCheck(), DuplicatesCheck()]  # issue 4: perceptual hashing


def check_names() -> list[str]:
    return [c.name for c in CHECKS]
