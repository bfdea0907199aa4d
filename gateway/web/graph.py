"""The ownership graph as a picture (pure): the customer at the top, its direct owners one row
below, an owner's owners one row below that; each edge labelled with the share and the role.

Layout is by rows (the shortest chain of holdings from the node to the customer), so a
cross-holding or a loop cannot push a node off the picture: a node is placed once, in the row of
its shortest chain, and an owner linked to nothing that reaches the customer still gets a row of
its own at the bottom. Within a row, nodes sit under the middle of what they own (so edges cross
less), and rows are centred. The SVG carries a ``<title>`` and a ``<desc>`` saying the same facts
as :func:`sentences`, which the page lists under the picture for anyone who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Literal

import msgspec

__all__ = ["ROOT", "Drawing", "GraphEdge", "GraphNode", "layout", "sentences", "svg"]

ROOT = "customer"
"""The id of the customer's node (owners have their own ids)."""
NODE_W = 176
NODE_H = 46
GAP_X = 28
ROW_H = 120
MARGIN = 16
_LABEL_CHARS = 24


class GraphNode(msgspec.Struct, frozen=True):
    id: str
    label: str
    kind: Literal["person", "organisation", "customer"]
    listed: bool = False
    """On a denied-party list (a screening hit not dismissed): drawn in red and said in words."""


class GraphEdge(msgspec.Struct, frozen=True):
    owner: str
    owned: str
    """The owned node's id; :data:`ROOT` for the customer."""
    percent: float | None = None
    role: str | None = None


class Placed(msgspec.Struct, frozen=True):
    node: GraphNode
    level: int
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


class DrawnEdge(msgspec.Struct, frozen=True):
    edge: GraphEdge
    label: str
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def mid(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2


class Drawing(msgspec.Struct, frozen=True):
    title: str
    width: float
    height: float
    nodes: list[Placed]
    edges: list[DrawnEdge]
    sentences: list[str]


def edge_label(edge: GraphEdge) -> str:
    parts = []
    if edge.percent is not None:
        parts.append(f"{edge.percent:g} %")
    if edge.role:
        parts.append(edge.role)
    return " · ".join(parts) or "owner"


def _levels(ids: Sequence[str], edges: Sequence[GraphEdge]) -> dict[str, int]:
    """Each node's row: the fewest holdings from it to the customer (breadth first, so loops end)."""
    owners_of: dict[str, list[str]] = {}
    for e in edges:
        owners_of.setdefault(e.owned, []).append(e.owner)
    level = {ROOT: 0}
    frontier = [ROOT]
    while frontier:
        following: list[str] = []
        for owned in frontier:
            for owner in owners_of.get(owned, []):
                if owner not in level:
                    level[owner] = level[owned] + 1
                    following.append(owner)
        frontier = following
    deepest = max(level.values())
    for i in ids:  # linked to nothing that reaches the customer: a row of their own, at the bottom
        level.setdefault(i, deepest + 1)
    return level


def layout(customer: str, owners: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> Drawing:
    """Place the customer and its owners; ``edges`` naming an unknown node are left out."""
    root = GraphNode(ROOT, customer, "customer")
    by_id = {n.id: n for n in owners if n.id != ROOT}
    known = [
        e for e in edges if e.owner in by_id and (e.owned == ROOT or e.owned in by_id) and e.owner != e.owned
    ]
    level = _levels(list(by_id), known)
    rows: dict[int, list[str]] = {}
    for node_id, lv in level.items():
        rows.setdefault(lv, []).append(node_id)
    owned_by: dict[str, list[str]] = {}
    for e in known:
        owned_by.setdefault(e.owner, []).append(e.owned)
    widest = max(len(r) for r in rows.values())
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X
    x_of: dict[str, float] = {}
    placed: dict[str, Placed] = {}
    for lv in sorted(rows):
        members = rows[lv]

        def pull(node_id: str) -> tuple[float, str]:
            # Under the middle of what it owns in the rows above (placed already), then by name.
            above = [x_of[o] for o in owned_by.get(node_id, []) if o in x_of]
            centre = sum(above) / len(above) if above else width / 2
            return centre, by_id[node_id].label if node_id in by_id else ""

        members.sort(key=pull)
        row_w = len(members) * NODE_W + (len(members) - 1) * GAP_X
        left = (width - row_w) / 2
        for i, node_id in enumerate(members):
            x = left + i * (NODE_W + GAP_X)
            x_of[node_id] = x + NODE_W / 2
            node = root if node_id == ROOT else by_id[node_id]
            placed[node_id] = Placed(node, lv, x, MARGIN + lv * ROW_H)
    height = 2 * MARGIN + max(rows) * ROW_H + NODE_H
    drawn = []
    for e in known:
        a, b = placed[e.owner], placed[e.owned]
        # From the owner's top edge to the owned node's bottom edge (or side by side in one row).
        if a.level > b.level:
            y1, y2 = a.y, b.y + b.h
        elif a.level < b.level:
            y1, y2 = a.y + a.h, b.y
        else:
            y1 = y2 = a.y + a.h / 2
        drawn.append(DrawnEdge(e, edge_label(e), a.x + a.w / 2, y1, b.x + b.w / 2, y2))
    nodes = [placed[i] for lv in sorted(rows) for i in rows[lv]]
    title = f"Ownership of {customer}"
    return Drawing(title, width, height, nodes, drawn, sentences(root, by_id, known))


def sentences(root: GraphNode, by_id: dict[str, GraphNode], edges: Sequence[GraphEdge]) -> list[str]:
    """The graph in words, one holding per sentence: what the picture shows."""

    def name(node_id: str) -> str:
        node = root if node_id == ROOT else by_id[node_id]
        listed = " (on a denied-party list)" if node.listed else ""
        return f"{node.label}{listed}"

    out = []
    for e in edges:
        share = f"{e.percent:g} % of" if e.percent is not None else "a stake in" if not e.role else ""
        role = f" as {e.role}" if e.role else ""
        verb = f"owns {share} " if share else "controls "
        out.append(f"{name(e.owner)} {verb}{name(e.owned)}{role}.")
    linked = {e.owner for e in edges}
    out += [f"{name(i)} is not linked to the customer." for i in by_id if i not in linked]
    return out


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def svg(drawing: Drawing, *, element_id: str = "ownership") -> str:
    """The drawing as inline SVG (presentation attributes only: the pages allow no inline style)."""
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    w, h = f"{drawing.width:g}", f"{drawing.height:g}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" id="{element_id}" role="img"'
        f' viewBox="0 0 {w} {h}" width="{w}" height="{h}"'
        f' aria-labelledby="{title_id} {desc_id}" data-nodes="{len(drawing.nodes)}">',
        f'<title id="{title_id}">{escape(drawing.title)}</title>',
        f'<desc id="{desc_id}">{escape(" ".join(drawing.sentences) or "No owners are recorded.")}</desc>',
        '<g class="edges" stroke="#4a5260" stroke-width="1.5" fill="none">',
    ]
    for d in drawing.edges:
        out.append(f'<line x1="{d.x1:g}" y1="{d.y1:g}" x2="{d.x2:g}" y2="{d.y2:g}"/>')
    out.append("</g>")
    out.append('<g class="edge-labels" font-size="12" text-anchor="middle">')
    for d in drawing.edges:
        mx, my = d.mid
        label = escape(d.label)
        width = 7 * len(d.label) + 10
        out.append(
            f'<g class="edge" data-owner="{escape(d.edge.owner)}" data-owned="{escape(d.edge.owned)}">'
            f'<rect x="{mx - width / 2:g}" y="{my - 9:g}" width="{width:g}" height="18" rx="3"'
            f' fill="#ffffff" stroke="#c9ced6"/>'
            f'<text x="{mx:g}" y="{my + 4:g}" fill="#1b1f24">{label}</text></g>'
        )
    out.append("</g>")
    out.append('<g class="nodes" font-size="13" text-anchor="middle">')
    for p in drawing.nodes:
        n = p.node
        fill = "#0b5cad" if n.kind == "customer" else "#fdecea" if n.listed else "#f3f5f8"
        ink = "#ffffff" if n.kind == "customer" else "#1b1f24"
        stroke = "#b3261e" if n.listed else "#0b5cad"
        rx = NODE_H / 2 if n.kind == "person" else 4
        kind = {"customer": "customer", "person": "person", "organisation": "organisation"}[n.kind]
        out.append(
            f'<g class="node {kind}" data-id="{escape(n.id)}" data-level="{p.level}">'
            f"<title>{escape(n.label)} ({kind}{', listed' if n.listed else ''})</title>"
            f'<rect x="{p.x:g}" y="{p.y:g}" width="{p.w:g}" height="{p.h:g}" rx="{rx:g}"'
            f' fill="{fill}" stroke="{stroke}" stroke-width="{3 if n.listed else 1.5}"/>'
            f'<text x="{p.x + p.w / 2:g}" y="{p.y + 20:g}" fill="{ink}" font-weight="600">'
            f"{escape(_short(n.label))}</text>"
            f'<text x="{p.x + p.w / 2:g}" y="{p.y + 37:g}" fill="{ink}" font-size="11">'
            f"{kind}{' · listed' if n.listed else ''}</text></g>"
        )
    out.append("</g></svg>")
    return "\n".join(out)
