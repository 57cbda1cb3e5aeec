"""Carrying site verdicts along links between footage items that show the same place.

A walk-through (a video panning along a street, a photo series moving round a square) mostly shows
things the few reference photos do not, yet each frame overlaps its neighbours. Footage items joined
by verified "same place" links form groups; a group whose directly decided members agree on one site
lends that site to its undecided members, with the chain of hops that justifies it. A group whose
direct verdicts disagree lends nothing: one of its links or verdicts is wrong, and a wrong-site
verdict is the worst error this tool can make.

Pure logic on plain values: the caller verifies pairs (features, matcher, geometry) and passes the
results in.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from verify.errors import InvalidValueError

# A footage-footage pair is a "same place" link from this many geometric inliers (match_pair on
# RootSIFT, the default features). Calibrated by benchmarks/bench_footage_graph.py (issue 9
# section of benchmarks/RESULTS.md) on ../shared/data/sites: over all 2,252 pairs of photos of
# DIFFERENT sites (full size, degraded to 640 px / JPEG q40, and degraded vs full) the most inliers
# seen was 19 (median 13), so 35 is ~2x the worst chance geometry measured. It equals the site
# matcher's RootSIFT MIN_INLIERS: a link is the same "same place" claim, on the same matcher, as a
# direct match. Cost: same-site degraded photo pairs keep 30 of 34 consecutive walk-through links;
# the dev walk-through still decides 27 of 28 footage photos correctly, none wrongly. Re-measured
# with the vocabulary-restricted matcher (seventh session): different sites at most 19 (degraded),
# 16 (full), 17 (degraded vs full); 29 of 34 consecutive links kept; the walk-through 27 of 28.
LINK_MIN_INLIERS = 35


@dataclass(frozen=True)
class DirectDecision:
    """A footage node's own site decision (site matching against reference imagery).

    `matched_site` is None when no site reached the decision threshold; `reference` and
    `inliers` name the best reference image of the matched site and its inlier count.
    """

    node: str
    matched_site: str | None
    reference: str | None = None
    inliers: int = 0


@dataclass(frozen=True)
class FootageLink:
    """A geometrically verified pair of footage nodes and its inlier count."""

    node_a: str
    node_b: str
    inliers: int


@dataclass(frozen=True)
class Hop:
    """One step of the chain that carries a verdict: footage to footage, or footage to reference."""

    source: str
    target: str
    inliers: int

    def to_json(self) -> dict[str, str | int]:
        """The findings JSON form: {"from": ..., "to": ..., "inliers": N}."""
        return {"from": self.source, "to": self.target, "inliers": self.inliers}


@dataclass(frozen=True)
class GraphDecision:
    """The site a footage node shows once links to other footage are taken into account.

    `direct` is True when the verdict rests on the node's own comparison with reference imagery;
    `via` is the chain footage -> ... -> reference image for a carried verdict (empty otherwise);
    `conflict` names the group members whose direct verdicts disagree when the group conflicts.
    """

    node: str
    matched_site: str | None
    direct: bool
    via: tuple[Hop, ...] = ()
    conflict: tuple[str, ...] = ()
    reason: str = ""

    def via_json(self) -> list[dict[str, str | int]]:
        """`via` in the findings JSON form."""
        return [hop.to_json() for hop in self.via]


@dataclass(frozen=True, order=True)
class NodePair:
    """An unordered pair of footage nodes, stored with `a < b` so each pair has one form."""

    a: str
    b: str

    @classmethod
    def of(cls, x: str, y: str) -> NodePair:
        """The canonical pair of two distinct nodes."""
        if x == y:
            raise InvalidValueError(f"a footage pair needs two different nodes, got {x!r} twice")
        return cls(x, y) if x < y else cls(y, x)


def decide_footage_graph(
    nodes: Sequence[str],
    direct: Iterable[DirectDecision],
    links: Iterable[FootageLink],
    *,
    min_inliers: int = LINK_MIN_INLIERS,
    ambiguous: Mapping[str, Collection[str]] | None = None,
) -> list[GraphDecision]:
    """Decide each footage node's site from its own verdict and its group's, in `nodes` order.

    Links below `min_inliers` are ignored. In a group whose direct verdicts all name one site,
    undecided members get that site through the widest chain (the path whose weakest hop has the
    most inliers, the final hop being the decided member's match with its best reference). In a
    group whose direct verdicts name different sites, no member gets a site, not even the
    directly decided ones: either a link or a direct verdict is wrong, we cannot tell which,
    and a wrong site is the worst possible error.

    `ambiguous` maps undecided nodes to the sites they match too closely to choose between: such
    a node carries evidence for each of those sites, so a group holding it and a member decided
    for another site conflicts just the same.
    """
    node_list = list(dict.fromkeys(nodes))
    known = set(node_list)
    decisions: dict[str, DirectDecision] = {}
    for decision in direct:
        if decision.node not in known:
            raise InvalidValueError(f"direct decision for unknown footage node {decision.node!r}")
        if decision.matched_site is not None and decision.reference is None:
            raise InvalidValueError(f"direct decision for {decision.node!r} names no reference")
        decisions[decision.node] = decision
    adjacency = _adjacency(known, links, min_inliers)
    result: dict[str, GraphDecision] = {}
    for group in _groups(node_list, adjacency):
        result.update(_decide_group(group, decisions, adjacency, ambiguous or {}))
    return [result[node] for node in node_list]


def _adjacency(
    known: set[str], links: Iterable[FootageLink], min_inliers: int
) -> dict[str, dict[str, int]]:
    """Neighbour -> strongest link inliers, for links at or above the threshold."""
    adjacency: dict[str, dict[str, int]] = {node: {} for node in known}
    for link in links:
        for end in (link.node_a, link.node_b):
            if end not in known:
                raise InvalidValueError(f"link to unknown footage node {end!r}")
        if link.node_a == link.node_b or link.inliers < min_inliers:
            continue
        best = max(link.inliers, adjacency[link.node_a].get(link.node_b, 0))
        adjacency[link.node_a][link.node_b] = best
        adjacency[link.node_b][link.node_a] = best
    return adjacency


def _groups(nodes: list[str], adjacency: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """Connected components, each in `nodes` order."""
    seen: set[str] = set()
    order = {node: i for i, node in enumerate(nodes)}
    groups = []
    for start in nodes:
        if start in seen:
            continue
        seen.add(start)
        stack, members = [start], [start]
        while stack:
            for neighbour in adjacency[stack.pop()]:
                if neighbour not in seen:
                    seen.add(neighbour)
                    stack.append(neighbour)
                    members.append(neighbour)
        groups.append(sorted(members, key=order.__getitem__))
    return groups


def _decide_group(
    group: list[str],
    decisions: Mapping[str, DirectDecision],
    adjacency: Mapping[str, Mapping[str, int]],
    ambiguous: Mapping[str, Collection[str]],
) -> dict[str, GraphDecision]:
    decided = {
        node: decisions[node]
        for node in group
        if node in decisions and decisions[node].matched_site is not None
    }
    sites = sorted({d.matched_site for d in decided.values() if d.matched_site is not None})
    if not sites:
        reason = (
            "no site matched directly"
            if len(group) == 1
            # The group counts pictures (photos and video keyframes), so a video's own
            # keyframes are among them: say pictures, not items.
            else (
                f"no site matched directly, nor any of the {len(group) - 1} other footage "
                "pictures (photos or video keyframes) linked with it"
            )
        )
        return {node: GraphDecision(node, None, direct=False, reason=reason) for node in group}
    pointing = {
        node: set(ambiguous[node]) for node in group if node not in decided and ambiguous.get(node)
    }
    for node, d in decided.items():
        pointing[node] = {str(d.matched_site)}
    if len(sites) > 1 or any(p - set(sites) for p in pointing.values()):
        return _conflicting_group(group, pointing)
    site = sites[0]
    chains = _widest_chains(decided, adjacency)
    out = {}
    for node in group:
        if node in decided:
            d = decided[node]
            out[node] = GraphDecision(
                node,
                site,
                direct=True,
                reason=f"matched {site} directly ({d.inliers} inliers with {d.reference})",
            )
            continue
        via = chains[node]
        out[node] = GraphDecision(
            node,
            site,
            direct=False,
            via=via,
            reason=(
                f"linked to footage that matched {site} directly, in {len(via)} hops, "
                f"weakest {min(h.inliers for h in via)} inliers"
            ),
        )
    return out


def _conflicting_group(
    group: list[str], pointing: Mapping[str, set[str]]
) -> dict[str, GraphDecision]:
    """No member gets a site; each names the members whose evidence points elsewhere."""
    sites = sorted(set().union(*pointing.values()))
    naming = "; ".join(
        f"{site}: " + ", ".join(n for n in group if site in pointing.get(n, ())) for site in sites
    )
    out = {}
    for node in group:
        own = pointing.get(node)
        if own is None:
            conflict = tuple(n for n in group if n in pointing)
            reason = f"linked footage names different sites ({naming}); no site carried"
        else:
            conflict = tuple(n for n in group if n in pointing and pointing[n] != own)
            reason = (
                f"matches {', '.join(sorted(own))} directly, but linked footage names other "
                f"sites ({naming}); inconclusive because a link or a direct match must be wrong"
            )
        out[node] = GraphDecision(node, None, direct=False, conflict=conflict, reason=reason)
    return out


def _widest_chains(
    decided: Mapping[str, DirectDecision], adjacency: Mapping[str, Mapping[str, int]]
) -> dict[str, tuple[Hop, ...]]:
    """For every node reachable from a decided node: the chain to a reference image whose weakest
    hop is strongest (ties: fewer hops, then node names, so the answer is deterministic).

    A multi-source max-min Dijkstra: the weakest hop is what an investigator must trust, so it is
    the measure to maximise; counting hops alone would prefer one 31-inlier hop to three of 500.
    """
    width: dict[str, int] = {}
    parent: dict[str, str | None] = {}
    heap: list[tuple[int, int, str, str | None]] = []
    for node, d in decided.items():
        heapq.heappush(heap, (-d.inliers, 0, node, None))
    settled: set[str] = set()
    while heap:
        neg_width, hops, node, via = heapq.heappop(heap)
        if node in settled:
            continue
        settled.add(node)
        width[node] = -neg_width
        parent[node] = via
        for neighbour, inliers in adjacency[node].items():
            if neighbour not in settled:
                heapq.heappush(heap, (-min(-neg_width, inliers), hops + 1, neighbour, node))
    chains: dict[str, tuple[Hop, ...]] = {}
    for node in settled:
        hops_list = []
        current = node
        while (step := parent[current]) is not None:
            hops_list.append(Hop(current, step, adjacency[current][step]))
            current = step
        d = decided[current]
        hops_list.append(Hop(current, str(d.reference), d.inliers))
        chains[node] = tuple(hops_list)
    return chains


def all_pairs(nodes: Iterable[str]) -> list[NodePair]:
    """Every unordered pair of distinct nodes, sorted."""
    unique = sorted(set(nodes))
    return [NodePair(a, b) for a, b in combinations(unique, 2)]


def pairs_to_verify(
    candidates: Iterable[NodePair],
    previous_nodes: Collection[str],
    compared: Collection[NodePair],
) -> list[NodePair]:
    """The candidate pairs still to verify on a re-run: those involving a node that was not in
    the previous run and not already compared (so adding one item compares only that item).

    `candidates` is all pairs or the retrieval shortlist of the whole case; a shortlist may
    rank old pairs differently once a new item arrives, but pairs of two old nodes were decided
    on the previous run and are not reopened.
    """
    previous = set(previous_nodes)
    done = set(compared)
    out = {
        pair
        for pair in candidates
        if (pair.a not in previous or pair.b not in previous) and pair not in done
    }
    return sorted(out)
