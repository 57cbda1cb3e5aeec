"""Which site does a footage item show? The decision rule over per-site inlier counts.

Each footage item (a photo, or a keyframe of a video) is verified against the reference imagery
of every site in the case (`verify.geometry.match_pair`); a site's score is its best reference
image's inlier count. Naming the wrong site would accuse falsely, so a site is named only when
its score is far above what unrelated places reach by chance AND no other site comes close;
anything else is `inconclusive` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from verify.errors import InvalidValueError
from verify.features import METHOD_ORB, METHOD_ROOTSIFT, METHOD_SIFT, Features
from verify.geometry import PairMatch, match_pair
from verify.verdict import Verdict

# Minimum inlier count for a site to be named, per feature method. Calibrated by
# benchmarks/bench_sitematch.py on ../shared/data/sites (40 photos of 6 sites; 1126 ordered
# different-site pairs at the default 1024 px / 2000 features): different-site pairs reached at
# most 17 inliers with RootSIFT, 19 with SIFT, 31 with ORB (a random fundamental matrix explains
# ~10% of ratio-test survivors to within a pixel, so chance counts are never zero). Each threshold
# is twice that maximum, rounded up: a chance alignment of unrelated places would have to double
# the worst case measured. Same-site pairs sharing a facade reach 30-870. Measured once afterwards
# on unseen places (../shared/calibration/palm_desert_drone vs the dev photos, 880 pairs):
# different-site maximum 18 with RootSIFT, still half the threshold. Re-measured when RootSIFT
# matching moved to visual words and PROSAC (`verify.geometry`, seventh session): the dev maximum
# is 20 (19 on degraded footage, 19 on the 5,690 different-place pairs of the 1,000-frame scale
# case), the drone maximum 16; 35 was kept (1.75x the worst chance count measured; unchanged
# decisions on the target set, SIFT and ORB decisions unchanged). Counts from other feature
# settings (max_side, max_features) are not comparable to these thresholds.
MIN_INLIERS_BY_METHOD: Mapping[str, int] = {
    METHOD_ROOTSIFT: 35,
    METHOD_SIFT: 40,
    METHOD_ORB: 62,
}
MIN_INLIERS = MIN_INLIERS_BY_METHOD[METHOD_ROOTSIFT]

# The named site must score at least this many times the runner-up. With the runner-up also
# required to stay below MIN_INLIERS, this only bites when the best site is near the
# threshold: 36 inliers against a runner-up of 30 is not a decision, it is two weak candidates.
MARGIN_RATIO = 1.5


class SiteOutcome(StrEnum):
    """Why a footage item got (or did not get) a site."""

    MATCHED = "matched"
    NO_SITE = "no_site"  # no site reaches the threshold
    AMBIGUOUS = "ambiguous"  # two or more sites are too close to call
    CONFLICTING = "conflicting"  # (videos) keyframes name different sites


@dataclass(frozen=True)
class SiteScore:
    """One site's inlier count for a footage item, from one reference image (or its best)."""

    site: str
    inliers: int
    reference: str | None = None


@dataclass(frozen=True)
class SiteDecision:
    """The site a footage item shows, or None, with each site's best score and the reason.

    `scores` maps every site to its best inlier count, `best_reference` to the reference id that
    scored it (None when the site had no reference imagery or nothing matched).
    """

    matched_site: str | None
    outcome: SiteOutcome
    scores: Mapping[str, int]
    best_reference: Mapping[str, str | None]
    reason: str
    min_inliers: int = MIN_INLIERS


def decide_site(
    scores: Iterable[SiteScore],
    *,
    min_inliers: int = MIN_INLIERS,
    margin_ratio: float = MARGIN_RATIO,
) -> SiteDecision:
    """Name the site a footage item matches, or none, from its per-reference scores.

    `scores` may hold several entries per site (one per reference image); each site keeps its
    best. A site is named when its best count is >= `min_inliers`, every other site stays below
    `min_inliers`, and it beats the runner-up by `margin_ratio`.
    """
    if min_inliers < 1 or margin_ratio < 1.0:
        raise InvalidValueError(f"bad thresholds: {min_inliers=} {margin_ratio=}")
    best: dict[str, SiteScore] = {}
    for score in scores:
        if score.inliers < 0:
            raise InvalidValueError(f"negative inlier count for site {score.site!r}")
        held = best.get(score.site)
        if held is None or score.inliers > held.inliers:
            best[score.site] = score
    site_scores = {site: s.inliers for site, s in best.items()}
    references = {site: (s.reference if s.inliers > 0 else None) for site, s in best.items()}
    ranked = sorted(best.values(), key=lambda s: (-s.inliers, s.site))

    def decision(site: str | None, outcome: SiteOutcome, reason: str) -> SiteDecision:
        return SiteDecision(site, outcome, site_scores, references, reason, min_inliers)

    if not ranked or ranked[0].inliers < min_inliers:
        top = f" (best: {ranked[0].site}, {ranked[0].inliers})" if ranked else ""
        return decision(None, SiteOutcome.NO_SITE, f"no site reaches {min_inliers} inliers{top}")
    first = ranked[0]
    contenders = [s for s in ranked if s.inliers >= min_inliers]
    if len(contenders) > 1:
        names = " and ".join(f"{s.site} ({s.inliers})" for s in contenders)
        return decision(
            None, SiteOutcome.AMBIGUOUS, f"sites {names} all reach {min_inliers}: ambiguous"
        )
    if len(ranked) > 1 and first.inliers < margin_ratio * ranked[1].inliers:
        second = ranked[1]
        return decision(
            None,
            SiteOutcome.AMBIGUOUS,
            f"{first.site} ({first.inliers}) is not {margin_ratio:g}x the runner-up "
            f"{second.site} ({second.inliers}): ambiguous",
        )
    runner = f", runner-up {ranked[1].site} {ranked[1].inliers}" if len(ranked) > 1 else ""
    return decision(
        first.site,
        SiteOutcome.MATCHED,
        f"{first.site} matches with {first.inliers} inliers (threshold {min_inliers}{runner})",
    )


def min_inliers_for(method: str) -> int:
    """The calibrated MIN_INLIERS for a feature method."""
    try:
        return MIN_INLIERS_BY_METHOD[method]
    except KeyError:
        raise InvalidValueError(f"no calibrated threshold for feature method {method!r}") from None


def compare_with_sites(
    query: Features,
    references: Mapping[str, Sequence[tuple[str, Features]]],
    *,
    margin_ratio: float = MARGIN_RATIO,
) -> tuple[SiteDecision, dict[str, PairMatch]]:
    """Verify one footage item against every site's reference images and decide its site.

    `references` maps site name to (reference id, features) pairs; a site with no references
    scores 0. Returns the decision and, per site, the PairMatch of its best reference (absent
    for sites without references), for the report's match pictures. The threshold is the one
    calibrated for the query's feature method.
    """
    matches = {
        site: [(ref_id, match_pair(query, ref_features)) for ref_id, ref_features in refs]
        for site, refs in references.items()
    }
    return decide_from_matches(
        matches, min_inliers=min_inliers_for(query.method), margin_ratio=margin_ratio
    )


def decide_from_matches(
    matches: Mapping[str, Sequence[tuple[str, PairMatch]]],
    *,
    min_inliers: int = MIN_INLIERS,
    margin_ratio: float = MARGIN_RATIO,
) -> tuple[SiteDecision, dict[str, PairMatch]]:
    """The decision of `compare_with_sites` from matches already made (e.g. read from a cache):
    `matches` maps each site to its (reference id, PairMatch) pairs; a site with none scores 0."""
    scores: list[SiteScore] = []
    best_match: dict[str, PairMatch] = {}
    for site, pairs in matches.items():
        scores.append(SiteScore(site, 0, None))
        for ref_id, match in pairs:
            scores.append(SiteScore(site, match.inliers, ref_id))
            held = best_match.get(site)
            if held is None or match.inliers > held.inliers:
                best_match[site] = match
    decision = decide_site(scores, min_inliers=min_inliers, margin_ratio=margin_ratio)
    return decision, best_match


def verdict_for(decision: SiteDecision | VideoDecision, claimed_site: str) -> Verdict:
    """consistent if the footage shows the claimed site, mismatch if it shows another site,
    inconclusive if no site was decided."""
    if decision.matched_site is None:
        return Verdict.INCONCLUSIVE
    if decision.matched_site == claimed_site:
        return Verdict.CONSISTENT
    return Verdict.MISMATCH


@dataclass(frozen=True)
class FrameDecision:
    """The site decision for one keyframe of a video."""

    frame_index: int
    time_s: float
    decision: SiteDecision


@dataclass(frozen=True)
class SiteRange:
    """A run of consecutive keyframes that all match one site."""

    site: str
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    best_inliers: int


@dataclass(frozen=True)
class VideoDecision:
    """A video's site from its keyframes' decisions, and the time ranges matching each site.

    `scores` is each site's best count over all keyframes and `best_frame` the keyframe index that
    scored it (with `best_reference` the reference image), so the report can show that frame.
    """

    matched_site: str | None
    outcome: SiteOutcome
    scores: Mapping[str, int]
    best_reference: Mapping[str, str | None]
    best_frame: Mapping[str, int | None]
    ranges: tuple[SiteRange, ...]
    decided_frames: int
    total_frames: int
    reason: str = ""
    frames: tuple[FrameDecision, ...] = field(default=(), repr=False)


def decide_video(frames: Sequence[FrameDecision]) -> VideoDecision:
    """Aggregate keyframe decisions into the video's site.

    The video matches a site only when every keyframe that points at a site points at the same
    one: frames that match it and frames that are ambiguous between it and nothing else. If any
    keyframe matches, or is ambiguous with, a different site, the video is `conflicting` and gets
    no site (a video may pan from one place to another; naming either would be a guess). Frames
    matching nothing do not count against a site: most of a walk-through shows nothing the
    reference photos show.
    """
    ordered = tuple(sorted(frames, key=lambda f: f.frame_index))
    scores: dict[str, int] = {}
    best_reference: dict[str, str | None] = {}
    best_frame: dict[str, int | None] = {}
    for frame in ordered:
        for site, count in frame.decision.scores.items():
            if site not in scores or count > scores[site]:
                scores[site] = count
                best_reference[site] = frame.decision.best_reference.get(site)
                best_frame[site] = frame.frame_index if count > 0 else None
    ranges = _site_ranges(ordered)
    decided = [f for f in ordered if f.decision.matched_site is not None]
    pointed = {site for f in ordered for site in _sites_pointed_at(f.decision)}

    def result(site: str | None, outcome: SiteOutcome, reason: str) -> VideoDecision:
        return VideoDecision(
            site,
            outcome,
            scores,
            best_reference,
            best_frame,
            ranges,
            len(decided),
            len(ordered),
            reason,
            ordered,
        )

    if not ordered:
        return result(None, SiteOutcome.NO_SITE, "the video has no keyframes to compare")
    if len(pointed) > 1:
        where = "; ".join(
            f"{site}: frames {', '.join(_describe_frames(ordered, site))}"
            for site in sorted(pointed)
        )
        return result(
            None, SiteOutcome.CONFLICTING, f"keyframes point at different sites ({where})"
        )
    if not decided:
        if pointed:
            return result(
                None,
                SiteOutcome.AMBIGUOUS,
                f"no keyframe decides a site; some are ambiguous ({', '.join(sorted(pointed))})",
            )
        return result(
            None,
            SiteOutcome.NO_SITE,
            "the picture reaches no site's threshold"
            if len(ordered) == 1
            else f"no keyframe reaches the threshold ({len(ordered)} keyframes compared)",
        )
    matched = decided[0].decision.matched_site
    assert matched is not None
    spans = ", ".join(f"{r.start_time:.1f}-{r.end_time:.1f} s" for r in ranges if r.site == matched)
    return result(
        matched,
        SiteOutcome.MATCHED,
        f"{len(decided)} of {len(ordered)} keyframes match {matched} ({spans}), best "
        f"{scores[matched]} inliers; no keyframe points at another site",
    )


def _sites_pointed_at(decision: SiteDecision) -> set[str]:
    """Sites a keyframe gives evidence for: its match, or every contender when ambiguous."""
    if decision.matched_site is not None:
        return {decision.matched_site}
    if decision.outcome is SiteOutcome.AMBIGUOUS:
        return {s for s, n in decision.scores.items() if n >= decision.min_inliers}
    return set()


def _site_ranges(ordered: Sequence[FrameDecision]) -> tuple[SiteRange, ...]:
    """Maximal runs of consecutive keyframes (in frame order) matching the same site."""
    ranges: list[SiteRange] = []
    run: list[FrameDecision] = []

    def close() -> None:
        if run:
            site = run[0].decision.matched_site
            assert site is not None
            ranges.append(
                SiteRange(
                    site=site,
                    start_frame=run[0].frame_index,
                    end_frame=run[-1].frame_index,
                    start_time=run[0].time_s,
                    end_time=run[-1].time_s,
                    best_inliers=max(f.decision.scores.get(site, 0) for f in run),
                )
            )
            run.clear()

    for frame in ordered:
        site = frame.decision.matched_site
        if run and site != run[0].decision.matched_site:
            close()
        if site is not None:
            run.append(frame)
    close()
    return tuple(ranges)


def _describe_frames(ordered: Sequence[FrameDecision], site: str) -> list[str]:
    return [
        f"{f.frame_index} ({f.time_s:.1f} s)"
        for f in ordered
        if site in _sites_pointed_at(f.decision)
    ]
