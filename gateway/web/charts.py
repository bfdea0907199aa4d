"""Bar charts as inline SVG (pure): the geometry first (:func:`layout`), then the markup (:func:`svg`).

A page draws a chart with no script and no style attribute (the Content-Security-Policy forbids
both): presentation attributes only. Every bar carries its day and value (``data-day``,
``data-value``) and a ``<title>`` a screen reader or a pointer can read; the page puts a table of
the same numbers beside the chart, so that the picture is never the only way to the data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import msgspec
from markupsafe import Markup

__all__ = ["Bar", "BarChart", "Tick", "days_back", "layout", "nice_ceiling", "short_number", "svg"]

WIDTH = 720
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56.0, 12.0, 14.0, 44.0
"""Margins: room for the value axis's labels on the left and the day labels below."""
_TICKS = 4
_MAX_LABELS = 8
"""Day labels shown under the bars at most; every bar still names its day in its title."""
_GAP = 0.25
"""The share of each bar's slot left empty between bars."""


class Bar(msgspec.Struct, frozen=True):
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    show_label: bool


class Tick(msgspec.Struct, frozen=True):
    value: float
    y: float
    text: str


class BarChart(msgspec.Struct, frozen=True):
    width: int
    height: int
    left: float
    top: float
    plot_width: float
    plot_height: float
    axis_max: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]

    @property
    def baseline(self) -> float:
        return self.top + self.plot_height

    @property
    def empty(self) -> bool:
        return not any(b.value > 0 for b in self.bars)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least ``value`` (1 for nothing): a value
    axis that ends on a round number and splits into four round ticks."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop ends on 10 x 10^k


def short_number(value: float) -> str:
    """``950``, ``1.2k``, ``3.4M``, ``2.5G``: an axis label that fits in its margin."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def days_back(today: dt.date, count: int) -> list[dt.date]:
    """The ``count`` days up to and including ``today``, oldest first."""
    return [today - dt.timedelta(days=count - 1 - i) for i in range(count)]


def layout(
    points: Sequence[tuple[str, float]] | Mapping[str, float], *, width: int = WIDTH, height: int = HEIGHT
) -> BarChart:
    """Where each bar goes: heights proportional to the values against an axis that ends on a
    round number at or above the largest; a value that is not a finite number above 0 draws
    nothing. A bar above zero is at least one pixel tall, so that a day with a little use still
    shows beside a day with a great deal."""
    items = list(points.items()) if isinstance(points, Mapping) else list(points)
    values = [_clean(v) for _, v in items]
    axis_max = nice_ceiling(max(values, default=0.0))
    plot_width = width - _LEFT - _RIGHT
    plot_height = height - _TOP - _BOTTOM
    slot = plot_width / len(items) if items else plot_width
    every = max(1, math.ceil(len(items) / _MAX_LABELS))
    bars = []
    for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
        tall = value / axis_max * plot_height
        if value > 0:
            tall = max(tall, 1.0)
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(_LEFT + i * slot + slot * _GAP / 2, 2),
                y=round(_TOP + plot_height - tall, 2),
                width=round(slot * (1 - _GAP), 2),
                height=round(tall, 2),
                show_label=(len(items) - 1 - i) % every == 0,  # counted from the newest day
            )
        )
    ticks = tuple(
        Tick(
            value=axis_max * k / _TICKS,
            y=round(_TOP + plot_height - plot_height * k / _TICKS, 2),
            text=short_number(axis_max * k / _TICKS),
        )
        for k in range(_TICKS + 1)
    )
    return BarChart(
        width=width,
        height=height,
        left=_LEFT,
        top=_TOP,
        plot_width=plot_width,
        plot_height=plot_height,
        axis_max=axis_max,
        bars=tuple(bars),
        ticks=ticks,
    )


def _clean(value: float) -> float:
    return float(value) if math.isfinite(value) and value > 0 else 0.0


def svg(chart: BarChart, *, ident: str, title: str, desc: str, unit: str) -> Markup:
    """The chart as an ``<svg role="img">`` with its title and description, axes, ticks and bars."""
    right = chart.left + chart.plot_width
    parts = [
        Markup(
            '<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"'
            ' aria-labelledby="{id}-title {id}-desc" data-chart="{id}" data-axis-max="{max}">'
            '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        ).format(id=ident, w=chart.width, h=chart.height, max=_num(chart.axis_max), title=title, desc=desc)
    ]
    parts.append(Markup('<g class="chart-grid" aria-hidden="true">'))
    for tick in chart.ticks:
        parts.append(
            Markup(
                '<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#c9ced6" stroke-width="1"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end" font-size="11" fill="#4a5260">{text}</text>'
            ).format(
                x1=_num(chart.left),
                x2=_num(right),
                y=_num(tick.y),
                tx=_num(chart.left - 6),
                ty=_num(tick.y + 4),
                text=tick.text,
            )
        )
    parts.append(Markup("</g>"))
    parts.append(Markup('<g class="chart-bars">'))
    for bar in chart.bars:
        parts.append(
            Markup(
                '<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="#0b5cad"'
                ' data-day="{day}" data-value="{value}"><title>{day}: {shown} {unit}</title></rect>'
            ).format(
                x=_num(bar.x),
                y=_num(bar.y),
                w=_num(bar.width),
                h=_num(bar.height),
                day=bar.label,
                value=_num(bar.value),
                shown=f"{bar.value:,.0f}",
                unit=unit,
            )
        )
    parts.append(Markup("</g>"))
    parts.append(Markup('<g class="chart-axis" aria-hidden="true">'))
    parts.append(
        Markup('<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#1b1f24" stroke-width="1"/>').format(
            x1=_num(chart.left), x2=_num(right), y=_num(chart.baseline)
        )
    )
    for bar in chart.bars:
        if bar.show_label:
            parts.append(
                Markup(
                    '<text x="{x}" y="{y}" text-anchor="middle" font-size="11" fill="#4a5260">{text}</text>'
                ).format(
                    x=_num(bar.x + bar.width / 2), y=_num(chart.baseline + 16), text=_day_label(bar.label)
                )
            )
    if chart.empty:
        parts.append(
            Markup(
                '<text x="{x}" y="{y}" text-anchor="middle" font-size="14" fill="#4a5260">No usage yet</text>'
            ).format(x=_num(chart.left + chart.plot_width / 2), y=_num(chart.top + chart.plot_height / 2))
        )
    parts.append(Markup("</g></svg>"))
    return Markup("").join(parts)


def _day_label(label: str) -> str:
    """``2026-03-14`` is drawn as ``03-14``: the year is in the table and the bars' titles."""
    return label[5:] if len(label) == 10 and label[4] == "-" else label


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
