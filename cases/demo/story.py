"""The demo case: the Ma'arat al-Nu'man story told with generated images, step by step.

Each step adds one part of the story to the workspace; later capabilities add a step here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cases import workflow
from cases.checks.base import NoProgress, Progress
from cases.demo.scenes import DemoAssets, build_demo_assets
from cases.ingest import ItemFacts, LinkSpec, add_evidence, add_statement
from cases.verification import VerifyOutcome, run_verify
from evidence_store.db import Workspace


@dataclass(frozen=True)
class DemoCase:
    case: str
    assets: DemoAssets
    outcome: VerifyOutcome


Step = Callable[[Workspace, str, str, DemoAssets], None]


def add_sites(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    for site, claimed, refs in (
        (a.popular_market, True, a.reference_popular),
        (a.alhal_market, False, a.reference_alhal),
    ):
        workflow.add_site(
            w,
            actor,
            case,
            name=site.name,
            lat=site.latitude,
            lon=site.longitude,
            radius_m=site.radius_m,
            claimed=claimed,
        )
        add_evidence(
            w, actor, case, list(refs), kind="photo", links=[LinkSpec("site_reference", site.name)]
        )


def add_claim_and_denial(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    workflow.set_claim(
        w,
        actor,
        case,
        text=a.claim.text,
        source=a.claim.publisher,
        url=a.claim.sources[0].url,
        published=a.claim.published,
    )
    workflow.set_denial(
        w,
        actor,
        case,
        by=a.denial.publisher,
        on=a.denial.published,
        text=a.denial.text,
        url=a.denial.sources[0].url,
    )


def add_claim_photos(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    add_evidence(
        w, actor, case, list(a.claim_photos), kind="photo", links=[LinkSpec("supports_claim")]
    )


def add_denial_footage(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    add_evidence(
        w,
        actor,
        case,
        [a.denial_video, *a.denial_stills],
        kind=None,
        links=[LinkSpec("denial_footage")],
    )


def add_witness_statement(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    add_statement(
        w,
        actor,
        case,
        witness=a.witness.pseudonym,
        file=a.statement_text,
        facts=ItemFacts(language=a.witness.language),
    )


def add_denial_still_before_strike(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    """A further denial still "filmed this morning" whose EXIF says two days before the strike
    (issue 5: capture_time finds it)."""
    add_evidence(w, actor, case, [a.early_still], kind="photo", links=[LinkSpec("denial_footage")])


def add_older_case(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    """An earlier investigation that already holds the 2017 photo of the al Hal market which the
    denial re-publishes as new (recycled_footage finds the denial still as its copy)."""
    older = workflow.open_case(
        w,
        actor,
        title="Market fire, al Hal market (illustrative, 2017)",
        incident_date=a.older_item_time.date(),
        place_name=a.alhal_market.name,
    )
    add_evidence(
        w,
        actor,
        older.code,
        [a.older_item],
        kind="photo",
        links=[LinkSpec("supports_claim")],
        facts=ItemFacts(source="local news archive (illustrative)", collected_at=a.older_item_time),
    )


def add_denial_walkthrough(w: Workspace, actor: str, case: str, a: DemoAssets) -> None:
    """Denial photos walking down the al Hal street, past what the references show: the last
    ones overlap only their neighbours, so only footage links can place them (issue 9)."""
    add_evidence(
        w,
        actor,
        case,
        list(dict.fromkeys([*a.denial_walkthrough, *a.walkthrough_beyond_references])),
        kind="photo",
        links=[LinkSpec("denial_footage")],
    )


STEPS: list[Step] = [
    add_sites,
    add_claim_and_denial,
    add_claim_photos,
    add_denial_footage,
    add_witness_statement,
    add_denial_still_before_strike,
    add_older_case,
    add_denial_walkthrough,
]


def build_demo_case(
    w: Workspace, actor: str, assets_dir: Path, progress: Progress | None = None
) -> DemoCase:
    """Render the demo assets, build the case in `w` and verify it."""
    a = build_demo_assets(assets_dir)
    c = workflow.open_case(
        w,
        actor,
        title="Market strike, Ma'arat al-Nu'man (illustrative)",
        incident_date=a.incident_date,
        place_name="Ma'arat al-Nu'man",
    )
    for step in STEPS:
        step(w, actor, c.code, a)
    outcome = run_verify(w, actor, c.code, progress=progress or NoProgress())
    return DemoCase(case=c.code, assets=a, outcome=outcome)
