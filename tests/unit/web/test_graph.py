"""The ownership graph's layout: every owner placed, nothing overlapping, shares on the edges, an
owner of an owner one row deeper, loops and strays handled, and the SVG escaped and described."""

from __future__ import annotations

import itertools
import re

from gateway.web.graph import ROOT, GraphEdge, GraphNode, layout, svg


def _overlap(a, b) -> bool:  # type: ignore[no-untyped-def]
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _sample() -> tuple[list[GraphNode], list[GraphEdge]]:
    owners = [
        GraphNode("h", "Harbour Holdings BV", "organisation"),
        GraphNode("p", "Hedy Lamarr", "person"),
        GraphNode("b", "Blue Lantern Trading", "organisation", listed=True),
        GraphNode("q", "Grace Hopper", "person"),
    ]
    edges = [
        GraphEdge("h", ROOT, 40.0),
        GraphEdge("p", ROOT, 60.0, "director"),
        GraphEdge("b", "h", 50.0),
        GraphEdge("q", "h", 50.0),
    ]
    return owners, edges


def test_every_owner_is_placed_once_and_the_customer_at_the_top() -> None:
    owners, edges = _sample()
    drawing = layout("Nimbus GmbH", owners, edges)
    ids = [p.node.id for p in drawing.nodes]
    assert sorted(ids) == sorted([ROOT, "h", "p", "b", "q"])
    top = next(p for p in drawing.nodes if p.node.id == ROOT)
    assert top.level == 0 and all(p.y > top.y for p in drawing.nodes if p is not top)


def test_no_two_nodes_overlap_and_all_fit_in_the_picture() -> None:
    owners = [GraphNode(f"o{i}", f"Owner {i}", "person") for i in range(12)]
    edges = [GraphEdge(f"o{i}", ROOT if i < 6 else f"o{i - 6}", 10.0) for i in range(12)]
    drawing = layout("Wide Co", owners, edges)
    for a, b in itertools.combinations(drawing.nodes, 2):
        assert not _overlap(a, b), (a.node.id, b.node.id)
    for p in drawing.nodes:
        assert p.x >= 0 and p.x + p.w <= drawing.width and p.y >= 0 and p.y + p.h <= drawing.height


def test_an_owner_of_an_owner_is_one_row_deeper() -> None:
    owners, edges = _sample()
    level = {p.node.id: p.level for p in layout("Nimbus GmbH", owners, edges).nodes}
    assert level["h"] == level["p"] == 1
    assert level["b"] == level["q"] == level["h"] + 1


def test_edges_carry_the_percentages_and_roles() -> None:
    owners, edges = _sample()
    drawing = layout("Nimbus GmbH", owners, edges)
    labels = {(d.edge.owner, d.edge.owned): d.label for d in drawing.edges}
    assert labels[("h", ROOT)] == "40 %"
    assert labels[("p", ROOT)] == "60 % · director"
    assert labels[("b", "h")] == "50 %"
    # Each edge runs from its owner (below) up to what it owns.
    for d in drawing.edges:
        assert d.y1 > d.y2
    text = svg(drawing)
    assert text.count("<line ") == 4 and ">40 %<" in text and ">60 % · director<" in text


def test_a_loop_and_a_stray_owner_are_still_placed() -> None:
    owners = [
        GraphNode("a", "A Ltd", "organisation"),
        GraphNode("b", "B Ltd", "organisation"),
        GraphNode("z", "Zed", "person"),
    ]
    edges = [GraphEdge("a", ROOT, 50.0), GraphEdge("b", "a", 40.0), GraphEdge("a", "b", 40.0)]
    drawing = layout("Loop Co", owners, edges)
    level = {p.node.id: p.level for p in drawing.nodes}
    assert level == {ROOT: 0, "a": 1, "b": 2, "z": 3}
    assert "Zed is not linked to the customer." in drawing.sentences


def test_the_svg_is_escaped_titled_and_described() -> None:
    owners = [GraphNode("x", "<script>alert(1)</script> & Co", "organisation", listed=True)]
    drawing = layout('Acme "Labs"', owners, [GraphEdge("x", ROOT, 75.5)])
    text = svg(drawing)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert re.search(r"<title id=\"ownership-title\">Ownership of Acme &quot;Labs&quot;</title>", text)
    desc = re.search(r"<desc id=\"ownership-desc\">(.*?)</desc>", text, re.S)
    assert desc is not None and "owns 75.5 % of Acme" in desc.group(1)
    assert "on a denied-party list" in desc.group(1)
    assert 'aria-labelledby="ownership-title ownership-desc"' in text
    assert "style=" not in text


def test_a_customer_without_owners_is_one_node() -> None:
    drawing = layout("Solo", [], [])
    assert [p.node.id for p in drawing.nodes] == [ROOT] and drawing.edges == []
    assert "No owners are recorded." in svg(drawing)
