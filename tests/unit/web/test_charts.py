"""The account page's bar charts: geometry (heights proportional to the values, an axis ending on a
round number, nothing drawn for nothing) and the SVG's accessible parts."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re

import pytest

from gateway.web.charts import days_back, layout, nice_ceiling, short_number, svg


def test_heights_are_proportional_to_the_values_and_share_one_baseline() -> None:
    chart = layout([("a", 10), ("b", 20), ("c", 40), ("d", 5)])
    heights = {b.label: b.height for b in chart.bars}
    assert heights["b"] == pytest.approx(2 * heights["a"], abs=0.02)
    assert heights["c"] == pytest.approx(8 * heights["d"], abs=0.02)
    assert chart.axis_max == 50  # the round number at or above the largest
    assert heights["c"] == pytest.approx(chart.plot_height * 40 / 50, abs=0.01)
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.baseline, abs=0.02)


def test_bars_do_not_overlap_and_stay_inside_the_plot() -> None:
    chart = layout([(f"d{i}", i) for i in range(30)])
    xs = [(b.x, b.x + b.width) for b in chart.bars]
    assert all(right < next_left for (_, right), (next_left, _) in itertools.pairwise(xs))
    assert xs[0][0] >= chart.left and xs[-1][1] <= chart.left + chart.plot_width + 0.01


def test_an_empty_series_draws_no_bar_and_says_so() -> None:
    nothing = layout([])
    assert nothing.bars == () and nothing.axis_max == 1 and nothing.empty
    zeros = layout([("2026-01-01", 0), ("2026-01-02", 0)])
    assert zeros.empty and all(b.height == 0 for b in zeros.bars)
    drawn = svg(zeros, ident="c", title="t", desc="d", unit="requests")
    assert "No usage yet" in drawn
    assert 'data-value="0"' in drawn


def test_one_huge_value_fits_and_the_small_ones_still_show() -> None:
    chart = layout([("a", 1), ("b", 2), ("huge", 7_300_000_000), ("c", 0)])
    huge = next(b for b in chart.bars if b.label == "huge")
    assert huge.height <= chart.plot_height and huge.y >= chart.top
    assert huge.height == pytest.approx(chart.plot_height * 7.3e9 / chart.axis_max, abs=0.01)
    assert chart.axis_max == 1e10
    small = [b for b in chart.bars if b.label in ("a", "b")]
    assert all(b.height == 1.0 for b in small)  # a day with a little use is still visible
    assert next(b for b in chart.bars if b.label == "c").height == 0
    assert chart.ticks[-1].text == "10G"


def test_values_that_are_not_finite_or_negative_draw_nothing() -> None:
    chart = layout([("a", math.nan), ("b", -4), ("c", math.inf), ("d", 3)])
    assert [b.value for b in chart.bars] == [0, 0, 0, 3]
    assert chart.axis_max == 5


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (21, 25), (26, 50), (0.3, 0.5), (999, 1000), (1001, 2000)],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_short_numbers() -> None:
    assert [short_number(v) for v in (0, 12, 950, 1200, 2_500_000, 1e9, 0.5)] == [
        "0", "12", "950", "1.2k", "2.5M", "1G", "0.5"
    ]  # fmt: skip


def test_days_back_ends_today_oldest_first() -> None:
    days = days_back(dt.date(2026, 3, 2), 30)
    assert len(days) == 30 and days[-1] == dt.date(2026, 3, 2) and days[0] == dt.date(2026, 2, 1)


def test_the_svg_has_a_title_a_description_and_readable_bars() -> None:
    rows = [(d.isoformat(), float(i)) for i, d in enumerate(days_back(dt.date(2026, 3, 30), 30))]
    drawn = str(
        svg(
            layout(rows),
            ident="chart-requests",
            title="Requests <per> day",
            desc="Busy & quiet",
            unit="requests",
        )
    )
    assert drawn.startswith("<svg") and drawn.endswith("</svg>")
    assert 'role="img"' in drawn and 'aria-labelledby="chart-requests-title chart-requests-desc"' in drawn
    assert '<title id="chart-requests-title">Requests &lt;per&gt; day</title>' in drawn  # escaped
    assert '<desc id="chart-requests-desc">Busy &amp; quiet</desc>' in drawn
    bars = re.findall(r'<rect class="bar"[^>]*data-day="([^"]+)" data-value="([^"]+)"', drawn)
    assert len(bars) == 30 and bars[-1] == ("2026-03-30", "29") and bars[0] == ("2026-03-01", "0")
    assert "<title>2026-03-30: 29 requests</title>" in drawn
    assert "style=" not in drawn and "<script" not in drawn  # the CSP allows neither
    labels = re.findall(r'font-size="11" fill="#4a5260">(\d\d-\d\d)</text>', drawn)
    assert 1 < len(labels) <= 8 and labels[-1] == "03-30"  # the newest day is always labelled
