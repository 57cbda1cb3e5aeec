"""Carrying site verdicts along footage links: synthetic graphs and real photos."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.footage_graph import (
    LINK_MIN_INLIERS,
    DirectDecision,
    FootageLink,
    GraphDecision,
    NodePair,
    all_pairs,
    decide_footage_graph,
    pairs_to_verify,
)

STRONG = LINK_MIN_INLIERS + 50


def _by_node(decisions: list[GraphDecision]) -> dict[str, GraphDecision]:
    return {d.node: d for d in decisions}


def test_walkthrough_carries_site_with_chain():
    nodes = ["f1", "f2", "f3", "f4"]
    direct = [DirectDecision("f1", "market", "ref_a", 120), DirectDecision("f2", None)]
    links = [
        FootageLink("f1", "f2", STRONG),
        FootageLink("f2", "f3", STRONG + 10),
        FootageLink("f4", "f3", STRONG),
    ]
    out = _by_node(decide_footage_graph(nodes, direct, links))
    assert out["f1"].matched_site == "market" and out["f1"].direct and out["f1"].via == ()
    f4 = out["f4"]
    assert f4.matched_site == "market" and not f4.direct
    assert [h.to_json() for h in f4.via] == [
        {"from": "f4", "to": "f3", "inliers": STRONG},
        {"from": "f3", "to": "f2", "inliers": STRONG + 10},
        {"from": "f2", "to": "f1", "inliers": STRONG},
        {"from": "f1", "to": "ref_a", "inliers": 120},
    ]
    assert f4.via_json()[0]["from"] == "f4"


def test_weak_link_does_not_join_groups():
    nodes = ["a", "b"]
    direct = [DirectDecision("a", "market", "ref", 200)]
    out = _by_node(
        decide_footage_graph(nodes, direct, [FootageLink("a", "b", LINK_MIN_INLIERS - 1)])
    )
    assert out["b"].matched_site is None and not out["b"].direct
    assert "no site matched directly" in out["b"].reason


def test_conflicting_group_is_inconclusive_and_names_the_conflict():
    nodes = ["a", "b", "u"]
    direct = [
        DirectDecision("a", "popular market", "ref1", 90),
        DirectDecision("b", "al Hal market", "ref2", 80),
    ]
    links = [FootageLink("a", "u", STRONG), FootageLink("u", "b", STRONG)]
    out = _by_node(decide_footage_graph(nodes, direct, links))
    assert all(d.matched_site is None for d in out.values())
    assert out["u"].conflict == ("a", "b")
    assert out["a"].conflict == ("b",) and out["b"].conflict == ("a",)
    assert "popular market" in out["u"].reason and "al Hal market" in out["u"].reason


def test_widest_chain_prefers_strong_weakest_link_over_fewer_hops():
    # u-d directly at 40 inliers, or u-x-y-d at 300 each: the strong chain is the one to show.
    nodes = ["u", "x", "y", "d"]
    direct = [DirectDecision("d", "square", "ref", 500)]
    links = [
        FootageLink("u", "d", 40),
        FootageLink("u", "x", 300),
        FootageLink("x", "y", 300),
        FootageLink("y", "d", 300),
    ]
    out = _by_node(decide_footage_graph(nodes, direct, links, min_inliers=30))
    assert [h.target for h in out["u"].via] == ["x", "y", "d", "ref"]


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(InvalidValueError):
        decide_footage_graph(["a"], [DirectDecision("zz", "s", "r", 50)], [])
    with pytest.raises(InvalidValueError):
        decide_footage_graph(["a"], [], [FootageLink("a", "zz", 500)])
    with pytest.raises(InvalidValueError):
        decide_footage_graph(["a"], [DirectDecision("a", "s", None, 50)], [])
    with pytest.raises(InvalidValueError):
        NodePair.of("a", "a")


def test_pairs_to_verify_compares_only_the_new_item():
    old = ["v1@0", "v1@5", "p2"]
    compared = set(all_pairs(old))
    todo = pairs_to_verify(all_pairs([*old, "new"]), old, compared)
    assert todo == [NodePair.of("new", n) for n in sorted(old)]
    assert pairs_to_verify(all_pairs(old), old, compared) == []
    # A pair of old nodes newly shortlisted on the re-run is not reopened.
    assert pairs_to_verify([NodePair.of("p2", "v1@0")], old, set()) == []


# --- properties on random graphs -------------------------------------------------------------

SITES = ["s1", "s2", "s3"]


@st.composite
def graphs(draw: st.DrawFn):
    n = draw(st.integers(1, 9))
    nodes = [f"n{i}" for i in range(n)]
    direct = []
    for node in nodes:
        site = draw(st.sampled_from([None, None, *SITES]))
        if site is not None:
            direct.append(DirectDecision(node, site, f"ref-{site}", draw(st.integers(20, 400))))
        elif draw(st.booleans()):
            direct.append(DirectDecision(node, None))
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 400)),
            max_size=14,
        )
    )
    links = [FootageLink(nodes[a], nodes[b], w) for a, b, w in edges]
    return nodes, direct, links


def _reachable(start: str, links: list[FootageLink], min_inliers: int) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        cur = stack.pop()
        for link in links:
            if link.inliers < min_inliers:
                continue
            for x, y in ((link.node_a, link.node_b), (link.node_b, link.node_a)):
                if x == cur and y not in seen:
                    seen.add(y)
                    stack.append(y)
    return seen


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_property_no_path_to_a_decided_node_means_no_site(graph):
    nodes, direct, links = graph
    decided = {d.node for d in direct if d.matched_site is not None}
    for out in decide_footage_graph(nodes, direct, links):
        if not _reachable(out.node, links, LINK_MIN_INLIERS) & decided:
            assert out.matched_site is None


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_property_carried_chain_is_valid_and_widest(graph):
    nodes, direct, links = graph
    site_of = {d.node: d for d in direct if d.matched_site is not None}
    strongest: dict[frozenset[str], int] = {}
    for link in links:
        key = frozenset((link.node_a, link.node_b))
        strongest[key] = max(strongest.get(key, 0), link.inliers)
    for out in decide_footage_graph(nodes, direct, links):
        group = _reachable(out.node, links, LINK_MIN_INLIERS)
        group_sites = {site_of[n].matched_site for n in group if n in site_of}
        if out.matched_site is None:
            assert len(group_sites) != 1
            continue
        assert group_sites == {out.matched_site}
        if out.direct:
            assert out.via == () and out.node in site_of
            continue
        via = out.via
        assert via[0].source == out.node
        for before, after in itertools.pairwise(via):
            assert before.target == after.source
        last = via[-1]
        assert last.source in site_of and last.target == site_of[last.source].reference
        assert last.inliers == site_of[last.source].inliers
        for hop in via[:-1]:
            assert hop.inliers >= LINK_MIN_INLIERS
            assert strongest[frozenset((hop.source, hop.target))] == hop.inliers
        # Widest: no path to any decided member has a stronger weakest hop.
        width = min(h.inliers for h in via)
        better = min(width + 1, 10**9)
        stronger_links = [lk for lk in links if lk.inliers >= max(better, LINK_MIN_INLIERS)]
        reach = _reachable(out.node, stronger_links, max(better, LINK_MIN_INLIERS))
        assert not any(site_of[n].inliers >= better for n in reach if n in site_of)


# --- real photos -----------------------------------------------------------------------------


def _footage_features(path):
    """Features of a photo as denial footage arrives: 640 px, JPEG quality 40."""
    import io

    import numpy as np
    from PIL import Image

    from verify.features import extract_features
    from verify.media import load_image

    img = Image.fromarray(load_image(path, max_side=640))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=40)
    return extract_features(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))


@pytest.fixture(scope="module")
def castle_walk(sites_dir):
    from verify.geometry import match_pair

    names = ["0000", "0001", "0002", "0003"]
    feats = {n: _footage_features(sites_dir / "ettlingen_castle" / f"{n}.jpg") for n in names}
    links = [
        FootageLink(a, b, match_pair(feats[a], feats[b]).inliers)
        for a, b in itertools.pairwise(names)
    ]
    return names, links


def test_real_walkthrough_links_consecutive_photos_and_carries_the_site(castle_walk):
    names, links = castle_walk
    assert all(link.inliers >= LINK_MIN_INLIERS for link in links), links
    direct = [DirectDecision("0000", "ettlingen castle", "ref.jpg", 150)]
    out = _by_node(decide_footage_graph(names, direct, links))
    assert all(d.matched_site == "ettlingen castle" for d in out.values())
    assert [h.source for h in out["0003"].via] == ["0003", "0002", "0001", "0000"]
    assert out["0003"].via[-1].target == "ref.jpg"


def test_real_conflicting_direct_verdicts_make_the_group_inconclusive(castle_walk):
    names, links = castle_walk
    direct = [
        DirectDecision("0000", "ettlingen castle", "ref1.jpg", 150),
        DirectDecision("0003", "herz jesu church", "ref2.jpg", 60),
    ]
    out = _by_node(decide_footage_graph(names, direct, links))
    assert all(d.matched_site is None for d in out.values())
    assert out["0001"].conflict == ("0000", "0003")
    assert out["0000"].conflict == ("0003",)


def test_real_different_places_do_not_link(sites_dir):
    from verify.geometry import match_pair

    san_marco = _footage_features(
        sites_dir / "piazza_san_marco" / "piazza_san_marco_06795901_3725050516.jpg"
    )
    london = _footage_features(
        sites_dir / "london_bridge" / "london_bridge_19481797_2295892421.jpg"
    )
    castle = _footage_features(sites_dir / "ettlingen_castle" / "0005.jpg")
    for a, b in ((san_marco, london), (london, castle), (castle, san_marco)):
        assert match_pair(a, b).inliers < LINK_MIN_INLIERS


def test_ambiguous_member_pointing_elsewhere_makes_the_group_conflict():
    nodes = ["a", "b", "c"]
    direct = [DirectDecision("a", "market", "ref", 200)]
    links = [FootageLink("a", "b", STRONG), FootageLink("b", "c", STRONG)]
    out = _by_node(
        decide_footage_graph(nodes, direct, links, ambiguous={"b": ["market", "school"]})
    )
    assert all(out[n].matched_site is None for n in nodes)
    assert out["a"].conflict == ("b",) and out["b"].conflict == ("a",)
    assert "school" in out["c"].reason
    # Ambiguous only between the group's own site and nothing else: no conflict.
    agree = _by_node(decide_footage_graph(nodes, direct, links, ambiguous={"b": ["market"]}))
    assert agree["c"].matched_site == "market" and not agree["c"].conflict
