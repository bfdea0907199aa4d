"""Beneficial owners and the 50 percent rule over ownership graphs, cycles included."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.kyc.ownership import Holding, OwnerNode, OwnershipEdge, OwnershipReport, analyse


def person(id: str, *, listed: bool = False) -> OwnerNode:
    return OwnerNode(id, "person", listed=listed)


def org(id: str, *, listed: bool = False) -> OwnerNode:
    return OwnerNode(id, "organisation", listed=listed)


def owns(
    owner: str, owned: str | None, percent: float | None = None, role: str | None = None
) -> OwnershipEdge:
    return OwnershipEdge(owner, owned, percent, role)


def pct(report: OwnershipReport) -> dict[str, float]:
    return {h.owner_id: h.effective_percent for h in report.holdings}


def holding(report: OwnershipReport, id: str) -> Holding:
    return next(h for h in report.holdings if h.owner_id == id)


def test_direct_owners_sorted_and_complete() -> None:
    r = analyse([person("bob"), person("amy"), person("cy")], [owns("amy", None, 30), owns("bob", None, 70)])
    assert [(h.owner_id, h.effective_percent) for h in r.holdings] == [
        ("bob", 70.0),
        ("amy", 30.0),
        ("cy", 0.0),
    ]
    assert r.beneficial_owners == ("bob", "amy")
    assert r.complete is True
    assert (r.listed_percent, r.treated_as_listed, r.cycles, r.warnings) == (0.0, False, (), ())


def test_chain_of_four_levels_multiplies() -> None:
    nodes = [person("p"), org("a"), org("b"), org("c")]
    edges = [owns("c", None, 100), owns("b", "c", 50), owns("a", "b", 80), owns("p", "a", 40)]
    r = analyse(nodes, edges)
    assert pct(r) == {"c": 100.0, "b": 50.0, "a": 40.0, "p": 16.0}
    assert r.beneficial_owners == ()


def test_reference_example_forty_percent_of_fifty_is_twenty() -> None:
    r = analyse([person("p"), org("a")], [owns("a", None, 50), owns("p", "a", 40)])
    assert pct(r)["p"] == 20.0


def test_two_paths_add_up() -> None:
    nodes = [person("p"), org("a"), org("b")]
    edges = [
        owns("p", None, 10),
        owns("a", None, 20),
        owns("p", "a", 50),
        owns("b", None, 30),
        owns("p", "b", 50),
    ]
    r = analyse(nodes, edges)
    assert pct(r)["p"] == 35.0  # 10 + 0.5*20 + 0.5*30
    assert r.beneficial_owners == ("p",)


def test_diamond_dag_counts_each_path_once() -> None:
    # p -> a -> c and p -> b -> c: two paths into the same company, each counted once
    nodes = [person("p"), org("a"), org("b"), org("c")]
    edges = [
        owns("c", None, 60),
        owns("a", "c", 50),
        owns("b", "c", 50),
        owns("p", "a", 50),
        owns("p", "b", 50),
    ]
    assert pct(analyse(nodes, edges))["p"] == 30.0


def test_control_roles() -> None:
    nodes = [person("ceo"), person("dir"), org("corp"), person("sub_dir")]
    edges = [
        owns("ceo", None, role="ceo"),
        owns("dir", None, 5, role="director"),
        owns("dir", None, role="director"),  # duplicate role listed once
        owns("dir", None, role="trustee"),
        owns("dir", None, 1, role="  "),  # a blank role is no role
        owns("corp", None, role="director"),  # a corporate director is not an individual
        owns("corp", None, 10),
        owns("sub_dir", "corp", role="director"),  # a role over an owner is not a role over the customer
    ]
    r = analyse(nodes, edges)
    assert holding(r, "ceo") == Holding("ceo", 0.0, ("ceo",), True)
    assert holding(r, "dir") == Holding("dir", 6.0, ("director", "trustee"), True)
    assert holding(r, "corp") == Holding("corp", 10.0, ("director",), False)
    assert holding(r, "sub_dir") == Holding("sub_dir", 0.0, (), False)
    assert r.beneficial_owners == ("dir", "ceo")


def test_threshold_boundary_exactly_25_through_a_chain() -> None:
    nodes = [person("at"), person("below"), org("a"), org("b")]
    edges = [owns("a", None, 50), owns("at", "a", 50), owns("b", None, 49.96), owns("below", "b", 50)]
    r = analyse(nodes, edges)
    assert holding(r, "at").effective_percent == 25.0
    assert holding(r, "at").beneficial is True
    assert holding(r, "below").effective_percent == 24.98
    assert holding(r, "below").beneficial is False
    assert analyse(nodes, edges, threshold=20.0).beneficial_owners == ("at", "below")


def test_long_chain_of_halves_stays_exact() -> None:
    # 0.5^k products are exact in binary, but 0.1-based ones are not: 10% of 10% ... compares cleanly
    nodes = [person("p"), org("a"), org("b"), org("c")]
    edges = [owns("c", None, 10), owns("b", "c", 10), owns("a", "b", 10), owns("p", "a", 10)]
    assert pct(analyse(nodes, edges))["p"] == 0.01


def test_two_listed_owners_at_30_and_20_are_exactly_50() -> None:
    r = analyse(
        [org("l1", listed=True), org("l2", listed=True)], [owns("l1", None, 30), owns("l2", None, 20)]
    )
    assert r.listed_percent == 50.0
    assert r.treated_as_listed is True


def test_listed_below_50_is_not_treated_as_listed() -> None:
    r = analyse(
        [org("l1", listed=True), person("l2", listed=True)], [owns("l1", None, 30), owns("l2", None, 19.99)]
    )
    assert r.listed_percent == 49.99
    assert r.treated_as_listed is False


def test_listed_aggregate_through_unlisted_intermediaries() -> None:
    nodes = [org("l", listed=True), org("x"), org("y")]
    edges = [owns("x", None, 40), owns("y", None, 60), owns("l", "x", 50), owns("l", "y", 50)]
    r = analyse(nodes, edges)
    assert r.listed_percent == 50.0  # 0.5*40 + 0.5*60
    assert r.treated_as_listed is True


def test_listed_chain_is_not_double_counted() -> None:
    # parent (listed) owns 100% of child (listed) that owns 60%: the parent's share runs through the
    # child, which is already counted; the parent's own direct 20% still counts
    nodes = [org("parent", listed=True), org("child", listed=True)]
    edges = [owns("child", None, 60), owns("parent", "child", 100), owns("parent", None, 20)]
    r = analyse(nodes, edges)
    assert r.listed_percent == 80.0
    # ... while the plain effective share of the parent still includes the chain
    assert pct(r)["parent"] == 80.0 and pct(r)["child"] == 60.0


def test_listed_owner_of_a_listed_owner_below_threshold_stays_below() -> None:
    nodes = [org("l1", listed=True), org("l2", listed=True), org("x")]
    edges = [owns("l1", None, 30), owns("l2", "l1", 100), owns("x", None, 70)]
    r = analyse(nodes, edges)
    assert r.listed_percent == 30.0
    assert r.treated_as_listed is False


def test_two_node_cycle_is_solved_and_reported() -> None:
    # a and b each hold 50% of the customer and 40% of each other; p and q own the other 60%
    nodes = [org("a"), org("b"), person("p"), person("q")]
    edges = [
        owns("a", None, 50),
        owns("b", None, 50),
        owns("a", "b", 40),
        owns("b", "a", 40),
        owns("p", "a", 60),
        owns("q", "b", 60),
    ]
    r = analyse(nodes, edges)
    assert r.cycles == (("a", "b"),)
    # p: 0.6 * 0.5 / (1 - 0.4) through all the loops = 50%; the people own the whole customer
    assert pct(r)["p"] == 50.0 and pct(r)["q"] == 50.0
    # a's own share: 50% directly + 40% of b's direct 50%; the loop back to itself is not counted
    assert pct(r)["a"] == 70.0 and pct(r)["b"] == 70.0
    assert r.beneficial_owners == ("p", "q")


def test_three_node_cycle() -> None:
    nodes = [org("a"), org("b"), org("c"), person("p")]
    edges = [
        owns("a", None, 100),
        owns("b", "a", 50),
        owns("c", "b", 50),
        owns("a", "c", 50),
        owns("p", "c", 50),
    ]
    r = analyse(nodes, edges)
    assert r.cycles == (("a", "b", "c"),)
    # p holds 50% of c, c 50% of b, b 50% of a, a 100% of the customer: 12.5%, and the loop
    # a -> c -> b -> a (12.5% per turn) scales it by 1 / (1 - 0.125)
    assert pct(r)["p"] == pytest.approx(12.5 / 0.875, abs=1e-8)
    # members' own shares, loops back to themselves not counted
    assert (pct(r)["a"], pct(r)["b"], pct(r)["c"]) == (100.0, 50.0, 25.0)
    assert all(0.0 <= h.effective_percent <= 100.0 for h in r.holdings)


def test_cycle_through_the_root() -> None:
    # the customer owns 40% of its own 50% owner
    nodes = [org("me"), org("a"), person("p")]
    edges = [owns("a", "me", 50), owns("me", "a", 40), owns("p", "a", 60)]
    r = analyse(nodes, edges, root_id="me")
    assert r.cycles == (("a", "me"),)
    assert pct(r) == {"a": 50.0, "p": 30.0}  # the customer is not one of its own holders
    assert r.complete is False


def test_degenerate_mutual_100_percent_terminates_within_bounds() -> None:
    # a and b own all of each other: the walk sums never settle, but the run ends, says so,
    # and each one's own share is its direct 30%
    nodes = [org("a", listed=True), org("b")]
    edges = [owns("a", "b", 100), owns("b", "a", 100), owns("a", None, 30)]
    r = analyse(nodes, edges)
    assert r.cycles == (("a", "b"),)
    assert pct(r) == {"a": 30.0, "b": 30.0}
    assert r.listed_percent == 30.0
    assert r.warnings == ("shares in the ownership cycle 'a', 'b' did not converge; results are clamped",)


def test_overlapping_shares_in_a_loop_stay_within_bounds() -> None:
    nodes = [org("a"), org("b"), org("l", listed=True)]
    edges = [owns("a", "b", 100), owns("b", "a", 100), owns("a", None, 30), owns("l", "a", 100)]
    r = analyse(nodes, edges)
    assert all(0.0 <= h.effective_percent <= 100.0 for h in r.holdings)
    assert 0.0 <= r.listed_percent <= 100.0
    assert "shares in 'a' add up to 200%" in r.warnings


def test_self_ownership_is_a_cycle() -> None:
    r = analyse([org("a")], [owns("a", None, 50), owns("a", "a", 10)])
    assert r.cycles == (("a",),)
    assert pct(r)["a"] == 50.0


def test_chain_200_levels_deep() -> None:
    nodes = [org(f"c{i}") for i in range(200)] + [person("top"), person("half")]
    edges = [owns("c0", None, 100)] + [owns(f"c{i + 1}", f"c{i}", 100) for i in range(199)]
    edges += [owns("top", "c199", 50), owns("half", "c199", 50)]
    r = analyse(nodes, edges)
    assert pct(r)["top"] == 50.0
    assert r.beneficial_owners == ("half", "top")
    assert r.cycles == ()


def test_chain_of_halves_200_levels_deep_underflows_to_zero_not_negative() -> None:
    nodes = [org(f"c{i}", listed=i == 199) for i in range(200)]
    edges = [owns("c0", None, 50)] + [owns(f"c{i + 1}", f"c{i}", 50) for i in range(199)]
    r = analyse(nodes, edges)
    assert pct(r)["c0"] == 50.0 and pct(r)["c1"] == 25.0
    assert pct(r)["c199"] == 0.0 and r.listed_percent == 0.0


def test_bad_edges_are_warned_and_ignored() -> None:
    nodes = [person("p"), person("p"), org("a")]
    edges = [
        owns("p", None, 0),
        owns("p", None, -5),
        owns("p", None, 150),
        owns("p", None, math.nan),
        owns("ghost", None, 10),
        owns("p", "nowhere", 10),
        owns("p", "a"),
        owns("p", None, 60),
    ]
    r = analyse(nodes, edges)
    assert r.warnings == (
        "duplicate node 'p' ignored",
        "edge 'p' -> 'the customer' has percent 0 outside (0, 100]; ignored",
        "edge 'p' -> 'the customer' has percent -5 outside (0, 100]; ignored",
        "edge 'p' -> 'the customer' has percent 150 outside (0, 100]; ignored",
        "edge 'p' -> 'the customer' has percent nan outside (0, 100]; ignored",
        "edge from unknown node 'ghost' ignored",
        "edge to unknown node 'nowhere' ignored",
        "edge 'p' -> 'a' has neither a percent nor a role; ignored",
    )
    assert pct(r) == {"p": 60.0, "a": 0.0}


def test_shares_over_100_are_warned_and_clamped() -> None:
    nodes = [person("p"), person("q"), org("a")]
    edges = [owns("p", "a", 80), owns("q", "a", 50), owns("a", None, 100), owns("q", None, 30)]
    r = analyse(nodes, edges)
    assert r.warnings == ("shares in 'a' add up to 130%", "shares in 'the customer' add up to 130%")
    assert all(0.0 <= h.effective_percent <= 100.0 for h in r.holdings)
    assert pct(r) == {"a": 100.0, "p": 80.0, "q": 80.0}  # q: 30 + 50% of 100


def test_complete_flag() -> None:
    assert analyse([person("p")], [owns("p", None, 99.5)]).complete is False
    assert (
        analyse([person("p"), person("q")], [owns("p", None, 66.6), owns("q", None, 33.4)]).complete is True
    )
    assert analyse([], []).complete is False
    # indirect shares do not complete the customer's own share register
    assert analyse([person("p"), org("a")], [owns("a", None, 60), owns("p", "a", 100)]).complete is False


# --- properties ----------------------------------------------------------------------------------

_N = 6


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[OwnerNode], list[OwnershipEdge]]:
    n = draw(st.integers(1, _N))
    nodes = [
        OwnerNode(f"n{i}", draw(st.sampled_from(["person", "organisation"])), listed=draw(st.booleans()))
        for i in range(n)
    ]
    edge = st.tuples(
        st.integers(0, n - 1),
        st.one_of(st.none(), st.integers(0, n - 1)),
        st.floats(0.01, 100.0),
    )
    edges = [
        OwnershipEdge(f"n{a}", None if b is None else f"n{b}", p)
        for a, b, p in draw(st.lists(edge, max_size=3 * n))
    ]
    return nodes, edges


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_percents_are_bounded(graph: tuple[list[OwnerNode], list[OwnershipEdge]]) -> None:
    r = analyse(*graph)
    assert all(0.0 <= h.effective_percent <= 100.0 for h in r.holdings)
    assert 0.0 <= r.listed_percent <= 100.0
    assert r.treated_as_listed == (r.listed_percent >= 50.0)
    assert len(r.holdings) == len(graph[0])


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_adding_a_listed_owner_never_decreases_listed_percent(
    graph: tuple[list[OwnerNode], list[OwnershipEdge]], data: st.DataObject
) -> None:
    nodes, edges = graph
    target = data.draw(st.one_of(st.none(), st.sampled_from([n.id for n in nodes])))
    percent = data.draw(st.floats(0.01, 100.0))
    before = analyse(nodes, edges).listed_percent
    after = analyse(
        [*nodes, OwnerNode("new", "organisation", listed=True)], [*edges, owns("new", target, percent)]
    )
    assert after.listed_percent >= before


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_ultimate_owners_never_hold_more_than_the_whole(
    graph: tuple[list[OwnerNode], list[OwnershipEdge]],
) -> None:
    # with consistent data (each entity's owners hold at most 100% of it), what reaches the
    # owners nobody owns is at most the whole customer, however the loops run
    nodes, edges = graph
    totals: dict[str | None, float] = {}
    for e in edges:
        totals[e.owned_id] = totals.get(e.owned_id, 0.0) + (e.percent or 0.0)
    scaled = [
        OwnershipEdge(e.owner_id, e.owned_id, (e.percent or 0.0) * min(1.0, 99.0 / totals[e.owned_id]))
        for e in edges
    ]
    r = analyse(nodes, scaled)
    owned = {e.owned_id for e in scaled}
    ultimate = [h.effective_percent for h in r.holdings if h.owner_id not in owned]
    assert sum(ultimate) <= 100.0 + 1e-6
    assert r.listed_percent <= 100.0
    assert not any("did not converge" in w for w in r.warnings)
