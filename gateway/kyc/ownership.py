"""Who ultimately owns or controls a customer: beneficial owners and the 50 percent rule.

A customer's owners form a graph: people and organisations holding shares of the customer or of
each other. Two questions are asked of it (REFERENCE.md, "Beneficial owner" and "50 percent rule"):

- which natural persons own at least 25% of the customer, directly or through any chain of
  companies, or control it through a role (director, CEO, ...);
- whether denied parties together own 50% or more, in which case the customer is itself treated
  as listed.

Indirect shares multiply along a chain and add up over paths. Real registries contain
cross-holdings (A owns B, B owns A), so the graph may have cycles: shares are then the solution
of a linear system, found by a fixed-point iteration with a tolerance and an iteration cap, and
clamped to [0, 100] so that bad data gives bounded numbers rather than a hang. A company inside a
loop is credited only with the walks that do not come back to itself (else A and B, each holding
50% of the customer and 40% of each other, would each show 83%). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Literal

import msgspec

# Results are rounded to this many decimals of a percent, so that 30% + 20% or 0.5 x 0.5 compare
# exactly against the 50% and 25% thresholds despite binary floating error.
_DECIMALS = 9
# A cyclic group stops iterating once no share moves by more than this (relative) ...
_TOLERANCE = 1e-13
# ... or once this much work (edge visits) has been spent on it: bounded time on any input.
_WORK_CAP = 500_000
# ... or once a walk sum passes this: a loop that does not leak (shares multiplying to 100%).
_DIVERGED = 1e9
# Members of a larger loop keep their walk sums (see _flow): correcting costs one solve per member.
_MAX_CORRECTED = 64

_Key = str | None  # a node id; None is the customer itself


class OwnerNode(msgspec.Struct, frozen=True):
    id: str
    kind: Literal["person", "organisation"]
    name: str = ""
    country: str | None = None
    listed: bool = False  # on a denied-party list (a screening hit that is not dismissed)


class OwnershipEdge(msgspec.Struct, frozen=True):
    owner_id: str
    owned_id: str | None  # None = the customer itself (the root of the graph)
    percent: float | None = None  # share of the owned entity's ownership interests, 0 < p <= 100
    role: str | None = None  # a control role ("director", "ceo", "trustee", ...); an edge can have both


class Holding(msgspec.Struct, frozen=True):
    owner_id: str
    effective_percent: float  # direct + indirect share of the customer, through every chain
    control_roles: tuple[str, ...]  # roles held directly over the customer
    beneficial: bool  # a person with effective_percent >= threshold, or holding a control role


class OwnershipReport(msgspec.Struct, frozen=True):
    holdings: tuple[Holding, ...]  # every node, by effective_percent desc then id
    beneficial_owners: tuple[str, ...]  # ids of persons that are beneficial owners
    listed_percent: float  # aggregate effective share held by listed parties
    treated_as_listed: bool  # listed_percent >= 50 (OFAC 50 percent rule)
    cycles: tuple[tuple[str, ...], ...]  # each group of nodes that own each other in a loop, ids sorted
    warnings: tuple[str, ...]
    complete: bool  # False when the known shares of the customer add up to less than 100%


_Out = dict[_Key, list[tuple[_Key, float]]]  # owner -> [(owned, fraction)]


def analyse(
    nodes: Sequence[OwnerNode],
    edges: Sequence[OwnershipEdge],
    *,
    threshold: float = 25.0,
    root_id: str | None = None,
) -> OwnershipReport:
    """Compute effective shares, beneficial owners and the listed aggregate of a customer.

    ``root_id`` names the node that stands for the customer itself, if the caller has one: edges
    to it count as edges to the customer, and edges from it (the customer owning part of its own
    owner) close loops through the root. Such loops are reported but do not inflate shares: a
    share of the customer is traced up to the customer once, not round the loop again.
    """
    warnings: list[str] = []
    by_id: dict[str, OwnerNode] = {}
    for node in nodes:
        if node.id == root_id:
            continue
        if node.id in by_id:
            warnings.append(f"duplicate node '{node.id}' ignored")
            continue
        by_id[node.id] = node

    def key(node_id: str | None) -> _Key:
        return None if node_id == root_id else node_id

    def known(k: _Key) -> bool:
        return k is None or k in by_id

    out: _Out = {k: [] for k in by_id}
    out[None] = []
    roles: dict[str, list[str]] = {}
    totals: dict[_Key, float] = {}
    for edge in edges:
        owner, owned = key(edge.owner_id), key(edge.owned_id)
        if not known(owner):
            warnings.append(f"edge from unknown node '{edge.owner_id}' ignored")
            continue
        if not known(owned):
            warnings.append(f"edge to unknown node '{edge.owned_id}' ignored")
            continue
        label = f"'{edge.owner_id}' -> '{_name(owned, root_id)}'"
        if edge.percent is None and edge.role is None:
            warnings.append(f"edge {label} has neither a percent nor a role; ignored")
            continue
        if edge.percent is not None and not 0.0 < edge.percent <= 100.0:
            warnings.append(f"edge {label} has percent {edge.percent:g} outside (0, 100]; ignored")
            continue
        if edge.percent is not None:
            out[owner].append((owned, edge.percent / 100.0))
            totals[owned] = totals.get(owned, 0.0) + edge.percent
        role = (edge.role or "").strip()
        if role and owned is None and owner is not None:
            held = roles.setdefault(owner, [])
            if role not in held:
                held.append(role)

    for owned, total in totals.items():
        if _round(total) > 100.0:
            warnings.append(f"shares in '{_name(owned, root_id)}' add up to {_round(total):g}%")

    groups = _components(out)
    cycles = sorted(
        tuple(sorted(_name(k, root_id) for k in group))
        for group in groups
        if len(group) > 1 or any(owned == group[0] for owned, _ in out[group[0]])
    )

    flow = _flow(out, groups, own=True)
    # For the 50 percent rule a listed owner's own owners are not counted again through it: cut
    # the edges into listed nodes, so each path stops at the first listed node on it.
    listed = {k for k, node in by_id.items() if node.listed}
    cut = {
        owner: [(owned, f) for owned, f in targets if owned not in listed] for owner, targets in out.items()
    }
    # A listed node is never inside a loop of the cut graph, so its walk sum is its own share.
    cut_flow = _flow(cut, groups, own=False)
    for group in _unique(flow.stuck + cut_flow.stuck, root_id):
        warnings.append(f"shares in the ownership cycle {group} did not converge; results are clamped")
    for group in _unique(flow.uncorrected, root_id):
        warnings.append(f"the ownership cycle {group} is too large: its members' shares include loops")

    listed_percent = _percent(math.fsum(cut_flow.value[k] for k in listed))
    shares = {**flow.value, **flow.own}
    holdings = sorted(
        (_holding(by_id[k], _percent(shares[k]), tuple(roles.get(k, ())), threshold) for k in by_id),
        key=lambda h: (-h.effective_percent, h.owner_id),
    )
    return OwnershipReport(
        holdings=tuple(holdings),
        beneficial_owners=tuple(h.owner_id for h in holdings if h.beneficial),
        listed_percent=listed_percent,
        treated_as_listed=listed_percent >= 50.0,
        cycles=tuple(cycles),
        warnings=tuple(warnings),
        complete=_round(totals.get(None, 0.0)) >= 100.0,
    )


def _holding(node: OwnerNode, percent: float, roles: tuple[str, ...], threshold: float) -> Holding:
    # A beneficial owner is an individual (US CDD rule); a company with a seat on the board is
    # reported through its control_roles but is not itself a beneficial owner.
    beneficial = node.kind == "person" and (percent >= threshold or bool(roles))
    return Holding(node.id, percent, roles, beneficial)


def _percent(fraction: float) -> float:
    return _round(min(1.0, max(0.0, fraction)) * 100.0)


def _round(value: float) -> float:
    return round(value, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _unique(groups: list[list[_Key]], root_id: str | None) -> list[str]:
    named = {tuple(sorted(_name(k, root_id) for k in group)) for group in groups}
    return [_listing(group) for group in sorted(named)]


def _listing(names: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _name(k: _Key, root_id: str | None) -> str:
    if k is not None:
        return k
    return root_id if root_id is not None else "the customer"


class _Flow(msgspec.Struct):
    value: dict[_Key, float]  # share of the customer through every walk (what an owner of x inherits)
    own: dict[_Key, float]  # x's own share where it differs: loops back to x itself not counted
    stuck: list[list[_Key]]  # cyclic groups that hit the iteration cap
    uncorrected: list[list[_Key]]  # cyclic groups too large for ``own`` to be computed


def _flow(out: _Out, groups: list[list[_Key]], *, own: bool) -> _Flow:
    """Each node's share of the customer (a fraction).

    ``groups`` come in an order where everything a group owns is solved before it, so a node
    outside any cycle is computed once; a cyclic group is iterated (Gauss-Seidel) until stable.
    That sums over every walk to the customer, which is right for an owner *of* the loop (a person
    holding 60% of A gets 60% of all A's loops bring in) but overstates the share of a member of
    the loop, whose walks come back to itself. With ``own``, each member's own share is recomputed
    with the edges into it cut, i.e. counting only walks that do not return to it.
    """
    result = _Flow({None: 1.0}, {}, [], [])
    value = result.value
    for group in groups:
        members = [k for k in group if k is not None]  # the customer's own share is 1 by definition
        if len(group) == 1 and not any(owned == group[0] for owned, _ in out[group[0]]):
            for k in members:
                value[k] = _share(out, value, k)
            continue
        if not _iterate(out, members, value, _WORK_CAP):
            result.stuck.append(group)
        if not own:
            continue
        if len(members) > _MAX_CORRECTED:
            result.uncorrected.append(group)
            continue
        walks = {k: value[k] for k in members}
        for x in members:
            local: _Out = {k: [(owned, f) for owned, f in out[k] if owned != x] for k in members}
            if not _iterate(local, members, value, _WORK_CAP // len(members)):
                result.stuck.append(group)
            result.own[x] = value[x]
        value.update(walks)
    return result


def _share(out: _Out, value: dict[_Key, float], k: _Key) -> float:
    return sum(f * value[owned] for owned, f in out[k])


def _iterate(out: _Out, members: Sequence[_Key], value: dict[_Key, float], cap: int) -> bool:
    """Solve a cyclic group in place; False if it diverges or the work cap runs out first.

    Walk sums inside a loop may legitimately exceed 1 (a company that owns part of itself
    through others magnifies its owners' stakes), so they are not clamped here: starting from
    zero the iterates only grow, converging when every loop leaks (the usual case) and growing
    without bound when one does not (A and B owning 100% of each other). The caller clamps.
    """
    for k in members:
        value[k] = 0.0
    work = sum(len(out[k]) + 1 for k in members)
    for _ in range(max(1, cap // work)):
        settled = True
        for k in members:
            new = _share(out, value, k)
            if new - value[k] > _TOLERANCE * max(1.0, new):
                settled = False
            value[k] = new
            if new > _DIVERGED:
                return False
        if settled:
            return True
    return False


def _components(out: _Out) -> list[list[_Key]]:
    """Strongly connected components (Tarjan, iterative), each after every component it points to.

    Iterative so that a chain of thousands of companies does not hit the recursion limit.
    """
    index: dict[_Key, int] = {}
    low: dict[_Key, int] = {}
    on_stack: set[_Key] = set()
    stack: list[_Key] = []
    result: list[list[_Key]] = []

    def successors(k: _Key) -> Iterator[_Key]:
        return (owned for owned, _ in out[k])

    for start in out:
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[_Key, Iterator[_Key]]] = [(start, successors(start))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, successors(child)))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group: list[_Key] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    result.append(group)
    return result
