"""Which place does the footage show? Local-feature matching against each site's imagery, and
against the case's other footage (issue 9).

Each footage picture (photo, video keyframe) is compared with every site's reference imagery
(reference photos, keyframes of reference videos, and any evidence added with `--site`). Footage
pictures are also linked with each other (`cases.checks.footage_links`); a picture that matches no
reference gets the site of the linked footage that does, and the finding records the chain. A
group of linked footage whose direct matches name different sites gives no site to anyone.

An item that is both reference imagery and claim or denial footage is, as footage, never compared
with itself: its site comes from the other references only, directly or through linked footage
whose own matches do not rest on it.

Features and pair verifications are cached in the derived store, so re-running verify or adding
one item does not recompute the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.footage_frames import (
    FrameDescriptors,
    FrameFeatures,
    FrameImages,
    case_vocabulary,
    frame_features,
)
from cases.checks.footage_links import FootageLinks, link_footage
from cases.checks.match_codec import flipped
from cases.checks.match_pictures import match_picture
from cases.checks.picture_pairs import PicturePairs
from cases.checks.reference_matches import (
    load_compared,
    picture_key,
    reference_matches,
    save_compared,
)
from cases.snapshot import ItemInfo
from verify.errors import InvalidValueError, VerifyError
from verify.features import Features
from verify.footage_graph import DirectDecision, GraphDecision, Hop, NodePair, decide_footage_graph
from verify.geometry import PairMatch
from verify.retrieval import (
    REFERENCE_TOP_K,
    global_descriptors,
    shortlist,
)
from verify.sitematch import (
    FrameDecision,
    SiteDecision,
    SiteOutcome,
    VideoDecision,
    decide_from_matches,
    decide_video,
    min_inliers_for,
)
from verify.verdict import Verdict

# Footage pictures x reference images compared exhaustively; above this, each picture is compared
# with its REFERENCE_TOP_K most similar references only. 8,000 verifications take about a minute
# of CPU (~7 ms a pair since RootSIFT is matched within visual words; the limit was 2,000 at the
# ~30 ms a pair before, the same time); the scale benchmark (benchmarks/bench_footage_graph.py
# `scale`, 1,000 frames x 20 references) measured 0 wrong sites with the top-k shortlist for every
# k from 1 to 5.
DIRECT_ALL_REFERENCES_LIMIT = 8000


@dataclass(frozen=True)
class _Direct:
    """A footage picture's own comparison with the site references."""

    frame: FrameFeatures
    decision: SiteDecision
    matches: dict[str, PairMatch]
    # Sites with reference imagery none of which was compared with this picture (large cases
    # compare each picture with its most similar references only): their score 0 is not a
    # measurement.
    not_compared: frozenset[str] = frozenset()
    # Every reference pair verified, by site: what the decision is made from.
    compared: dict[str, list[tuple[str, PairMatch]]] = field(default_factory=dict)


@dataclass
class _Case:
    """What one run knows: references by site, every picture by node name, links, decisions."""

    claimed: str | None
    references: dict[str, list[tuple[str, Features]]]
    pictures: dict[str, FrameFeatures]
    direct: dict[str, _Direct]
    links: FootageLinks
    graph: dict[str, GraphDecision]
    images: FrameImages


class SiteMatchCheck:
    name = "site_match"
    title = "Footage against site reference imagery"

    def examines(self, item: ItemInfo) -> bool:
        return item.kind in ("photo", "video")

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        case = ctx.case
        claimed = case.claimed_site.name if case.claimed_site else None
        references: dict[str, list[tuple[str, Features]]] = {s.name: [] for s in case.sites}
        pictures: dict[str, FrameFeatures] = {}
        refs = [i for i in case.items if i.kind in ("photo", "video") and i.reference_of]
        footage = [i for i in case.items if i.is_footage]
        drafts: list[FindingDraft] = []
        task = ctx.progress.task("features", len(refs) + len(footage))
        reference_frames: dict[str, list[FrameFeatures]] = {}
        for item in refs:
            try:
                reference_frames[item.code] = frame_features(ctx, item)
                for frame in reference_frames[item.code]:
                    for site in item.reference_of:
                        references.setdefault(site, []).append((frame.node, frame.features))
                    pictures[frame.node] = frame
            except VerifyError as exc:
                drafts.append(
                    FindingDraft(
                        self.name,
                        Verdict.INCONCLUSIVE,
                        (item.code,),
                        {"reference_of": list(item.reference_of)},
                        f"reference imagery {item.filename} cannot be analysed, left out: {exc}",
                    )
                )
            task.advance()
        footage_frames: dict[str, list[FrameFeatures]] = {}
        for item in footage:
            try:
                # Reference imagery that is also footage was analysed above.
                footage_frames[item.code] = reference_frames.get(item.code) or frame_features(
                    ctx, item
                )
            except VerifyError as exc:
                drafts.append(
                    FindingDraft(
                        self.name,
                        Verdict.INCONCLUSIVE,
                        (item.code,),
                        _values(claimed),
                        f"cannot analyse {item.filename}: {exc}",
                    )
                )
            task.advance()
        analysable = [i for i in footage if i.code in footage_frames]
        if not any(references.values()):
            drafts += [
                FindingDraft(
                    self.name,
                    Verdict.INCONCLUSIVE,
                    (item.code,),
                    _values(claimed),
                    f"{item.filename}: no site has reference imagery to compare it with",
                )
                for item in analysable
            ]
            return drafts
        frames = [f for item in analysable for f in footage_frames[item.code]]
        pictures.update((f.node, f) for f in frames)
        # One visual vocabulary per run, trained on the footage: it ranks references for the
        # direct comparisons and footage pairs for the links.
        try:
            described: FrameDescriptors | None = FrameDescriptors(case_vocabulary(ctx, frames))
        except InvalidValueError:
            described = None  # no footage picture has features: nothing to rank by
        # One verifier for both kinds of pair: its worker processes start once per run.
        with PicturePairs(pictures.values()) as verifier:
            direct = self._compare(ctx, frames, references, pictures, described, verifier)
            links = link_footage(ctx, frames, described, verifier)
        graph = _decide_graph(direct, links)
        state = _Case(claimed, references, pictures, direct, links, graph, FrameImages())
        for item in analysable:
            if not item.reference_of:
                drafts.append(self._decide(ctx, state, item, footage_frames[item.code]))
            else:
                drafts.append(self._decide_own_reference(ctx, state, item, footage_frames))
        return drafts

    def _decide_own_reference(
        self,
        ctx: CheckContext,
        state: _Case,
        item: ItemInfo,
        footage_frames: dict[str, list[FrameFeatures]],
    ) -> FindingDraft:
        """Footage that is itself reference imagery: decided as every footage is, but in a run
        where none of its pictures is a reference, so its site never rests on itself."""
        sites = ", ".join(repr(s) for s in item.reference_of)
        values = _values(state.claimed) | {"reference_of": list(item.reference_of)}
        if all(_owned(n, state, item) for rs in state.references.values() for n, _ in rs):
            detail = (
                f"{item.filename}: no site decided (it is itself the only reference imagery, "
                f"of {sites}, and is never compared with itself)"
            )
            return FindingDraft(self.name, Verdict.INCONCLUSIVE, (item.code,), values, detail)
        draft = self._decide(ctx, _without(state, item), item, footage_frames[item.code])
        draft.values["reference_of"] = list(item.reference_of)
        detail = f"{draft.detail}; not compared with itself (reference imagery of {sites})"
        return replace(draft, detail=detail)

    def _compare(
        self,
        ctx: CheckContext,
        frames: Sequence[FrameFeatures],
        references: dict[str, list[tuple[str, Features]]],
        pictures: dict[str, FrameFeatures],
        described: FrameDescriptors | None,
        verifier: PicturePairs,
    ) -> dict[str, _Direct]:
        chosen = _reference_shortlist(frames, references, described, pictures)
        available = [pictures[node] for node in {n for rs in references.values() for n, _ in rs}]
        available.sort(key=lambda r: r.node)
        compared = load_compared(ctx)
        plan = {
            frame.node: compared.references_for(
                frame,
                [r for r in available if r.item.code != frame.item.code],  # never itself
                None if chosen is None else chosen[frame.node],
            )
            for frame in frames
        }
        pairs = [(frame, ref) for frame in frames for ref in plan[frame.node]]
        made = dict(
            zip(
                ((f.node, r.node) for f, r in pairs),
                reference_matches(ctx, pairs, verifier),
                strict=True,
            )
        )
        out = {}
        for frame in frames:
            matches = {
                site: [(n, made[frame.node, n]) for n, _ in rs if (frame.node, n) in made]
                for site, rs in references.items()
            }
            skipped = frozenset(s for s, rs in references.items() if rs and not matches[s])
            out[frame.node] = _direct(frame, matches, skipped)
            compared.pictures[picture_key(frame)] = {picture_key(r) for r in plan[frame.node]}
        compared.references |= {picture_key(r) for r in available}
        save_compared(ctx, compared)
        return out

    def _decide(
        self, ctx: CheckContext, state: _Case, item: ItemInfo, frames: list[FrameFeatures]
    ) -> FindingDraft:
        claimed = state.claimed
        values = _values(claimed)
        video = decide_video(
            [FrameDecision(f.index, f.time_s, state.direct[f.node].decision) for f in frames]
        )
        values.update(
            scores=dict(video.scores),
            frames=[
                {
                    "site": r.site,
                    "start_frame": r.start_frame,
                    "end_frame": r.end_frame,
                    "start_time": r.start_time,
                    "end_time": r.end_time,
                    "best_inliers": r.best_inliers,
                }
                for r in video.ranges
            ],
        )
        skipped = [state.direct[f.node].not_compared for f in frames]
        not_compared = sorted(frozenset.intersection(*skipped)) if skipped else []
        values["not_compared"] = not_compared
        graph = [state.graph[f.node] for f in frames]
        scores = ", ".join(
            f"{s!r} {'not compared' if s in not_compared else n}"
            for s, n in sorted(video.scores.items())
        )
        conflict = sorted({n for g in graph for n in g.conflict})
        carried = {g.matched_site for g in graph if g.matched_site is not None}

        def inconclusive(reason: str) -> FindingDraft:
            detail = f"{item.filename}: no site decided ({reason}); inliers {scores}"
            return FindingDraft(self.name, Verdict.INCONCLUSIVE, (item.code,), values, detail)

        if conflict:
            values["conflict"] = conflict
            reason = next(g.reason for g in graph if g.conflict)
            return inconclusive(f"conflicting linked footage {', '.join(conflict)}: {reason}")
        if video.outcome is SiteOutcome.CONFLICTING:
            return inconclusive(video.reason)
        if len(carried) > 1:
            return inconclusive(
                "keyframes are linked to footage of different sites: " + ", ".join(sorted(carried))
            )
        if video.matched_site is not None:
            return self._direct_finding(ctx, state, item, video, values, scores)
        if not carried or (item.kind != "video" and video.outcome is SiteOutcome.AMBIGUOUS):
            # An item that is itself ambiguous between sites takes no site from its neighbours.
            reason = video.reason
            if not carried and graph and any(g.reason for g in graph):
                reason += "; " + graph[0].reason
            return inconclusive(reason)
        return self._carried_finding(ctx, state, item, graph, values, scores)

    def _direct_finding(
        self,
        ctx: CheckContext,
        state: _Case,
        item: ItemInfo,
        video: VideoDecision,
        values: dict[str, Any],
        scores: str,
    ) -> FindingDraft:
        claimed = state.claimed
        site = video.matched_site
        assert site is not None
        values["matched_site"] = site
        artefacts = []
        for name, frame_index in video.best_frame.items():
            if frame_index is None:
                continue
            node = f"{item.code}@{frame_index}" if item.kind == "video" else item.code
            direct = state.direct[node]
            ref = direct.decision.best_reference.get(name)
            if name in direct.matches and ref in state.pictures:
                picture = match_picture(
                    ctx,
                    state.images,
                    direct.frame,
                    state.pictures[ref],
                    direct.matches[name],
                    f"{item.code} vs {ref} ({name})",
                    f"{name}-{ref}.jpg",
                )
                if picture:
                    artefacts.append(picture)
        span = next((r for r in video.ranges if r.site == site), None)
        where = (
            f" frames {span.start_frame}-{span.end_frame}" if item.kind == "video" and span else ""
        )
        detail = (
            f"{item.filename}{where} {'match' if where else 'matches'} site {site!r}"
            f"{_not_claimed(site, claimed)}; "
            f"inliers {scores}"
        )
        return FindingDraft(
            self.name, _verdict(site, claimed), (item.code,), values, detail, tuple(artefacts)
        )

    def _carried_finding(
        self,
        ctx: CheckContext,
        state: _Case,
        item: ItemInfo,
        graph: list[GraphDecision],
        values: dict[str, Any],
        scores: str,
    ) -> FindingDraft:
        claimed = state.claimed
        best = max(
            (g for g in graph if g.matched_site is not None),
            key=lambda g: (min(h.inliers for h in g.via), -len(g.via)),
        )
        site = best.matched_site
        assert site is not None
        values.update(matched_site=site, direct=False, via=best.via_json())
        artefacts = []
        for hop in best.via:
            picture = self._hop_picture(ctx, state, hop, site, to_reference=hop is best.via[-1])
            if picture:
                artefacts.append(picture)
        chain = " -> ".join([best.via[0].source, *(f"{h.target} ({h.inliers})" for h in best.via)])
        detail = (
            f"{item.filename} shows site {site!r}{_not_claimed(site, claimed)} through linked "
            f"footage: {chain} inliers; its own comparison: {scores}"
        )
        return FindingDraft(
            self.name, _verdict(site, claimed), (item.code,), values, detail, tuple(artefacts)
        )

    def _hop_picture(
        self, ctx: CheckContext, state: _Case, hop: Hop, site: str, *, to_reference: bool
    ) -> str | None:
        """The match picture of one hop; the last hop of a chain is to a reference image (which
        may also be footage: reference imagery that is also claim or denial footage)."""
        source = state.pictures[hop.source]
        target = state.pictures.get(hop.target)
        if target is None:
            return None
        if to_reference:
            match = state.direct[hop.source].matches.get(site)
        else:
            pair = NodePair.of(hop.source, hop.target)
            match = state.links.matches.get(pair)
            if match is not None and pair.a != hop.source:
                match = flipped(match)
        if match is None:
            return None
        return match_picture(
            ctx,
            state.images,
            source,
            target,
            match,
            f"{hop.source} vs {hop.target}: {hop.inliers} inliers",
            f"via-{hop.source}-{hop.target}.jpg",
        )


def _direct(
    frame: FrameFeatures,
    matches: dict[str, list[tuple[str, PairMatch]]],
    not_compared: frozenset[str],
) -> _Direct:
    min_inliers = min_inliers_for(frame.features.method)
    decision, best = decide_from_matches(matches, min_inliers=min_inliers)
    return _Direct(frame, decision, best, not_compared, matches)


def _decide_graph(direct: dict[str, _Direct], links: FootageLinks) -> dict[str, GraphDecision]:
    """Each footage picture's site once links to other footage are taken into account."""
    graph = decide_footage_graph(
        list(direct),
        [
            DirectDecision(
                node,
                d.decision.matched_site,
                d.decision.best_reference.get(d.decision.matched_site),
                d.decision.scores[d.decision.matched_site],
            )
            for node, d in direct.items()
            if d.decision.matched_site is not None
        ],
        links.links,
        ambiguous={
            node: [s for s, n in d.decision.scores.items() if n >= d.decision.min_inliers]
            for node, d in direct.items()
            if d.decision.outcome is SiteOutcome.AMBIGUOUS
        },
    )
    return {g.node: g for g in graph}


def _owned(node: str, state: _Case, item: ItemInfo) -> bool:
    return state.pictures[node].item.code == item.code


def _without(state: _Case, item: ItemInfo) -> _Case:
    """The run with `item`'s pictures taken out of the reference imagery: every footage
    picture's direct decision made again without them, and the footage graph decided again on
    those, so no chain ends at the item itself."""
    direct = dict(state.direct)
    for node, d in state.direct.items():
        if any(_owned(n, state, item) for pairs in d.compared.values() for n, _ in pairs):
            matches = {
                site: [(n, m) for n, m in pairs if not _owned(n, state, item)]
                for site, pairs in d.compared.items()
            }
            direct[node] = _direct(d.frame, matches, d.not_compared)
    return replace(state, direct=direct, graph=_decide_graph(direct, state.links))


def _reference_shortlist(
    frames: Sequence[FrameFeatures],
    references: dict[str, list[tuple[str, Features]]],
    described: FrameDescriptors | None,
    pictures: dict[str, FrameFeatures],
) -> dict[str, set[str]] | None:
    """In large cases, the REFERENCE_TOP_K reference images most similar to each footage picture
    (VLAD), never a picture of the same item; None when every picture is compared with every
    reference."""
    refs = list({ref_id: feats for rs in references.values() for ref_id, feats in rs}.items())
    if len(frames) * len(refs) <= DIRECT_ALL_REFERENCES_LIMIT or described is None:
        return None
    query = described.of(frames)
    database = global_descriptors(described.vocabulary, [feats.descriptors for _, feats in refs])
    chosen: dict[str, set[str]] = {f.node: set() for f in frames}
    owners = [pictures[ref_id].item.code for ref_id, _ in refs]
    # Footage that is itself reference imagery is shortlisted among the other references only.
    groups: dict[str, list[int]] = {}
    for i, frame in enumerate(frames):
        groups.setdefault(frame.item.code if frame.item.reference_of else "", []).append(i)
    for own, rows in groups.items():
        cols = [j for j, owner in enumerate(owners) if owner != own]
        # A floor above any cosine similarity: exactly the top k, no similarity-based extras.
        for pair in shortlist(query[rows], database[cols], REFERENCE_TOP_K, min_similarity=2.0):
            chosen[frames[rows[pair.query]].node].add(refs[cols[pair.target]][0])
    return chosen


def _values(claimed: str | None) -> dict[str, Any]:
    return {
        "claimed_site": claimed,
        "matched_site": None,
        "scores": {},
        "frames": [],
        "direct": True,
        "via": [],
        "not_compared": [],
    }


def _verdict(site: str, claimed: str | None) -> Verdict:
    """consistent with the claimed site, mismatch with another; no claimed site: inconclusive."""
    if claimed is None:
        return Verdict.INCONCLUSIVE
    return Verdict.CONSISTENT if site == claimed else Verdict.MISMATCH


def _not_claimed(site: str, claimed: str | None) -> str:
    return f", not the claimed site {claimed!r}" if claimed and site != claimed else ""
