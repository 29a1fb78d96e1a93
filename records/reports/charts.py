"""Trend charts as vector drawings (reportlab.graphics), flowed into the report like text.

x is the day as a number (proleptic ordinal, with the time of day as a fraction for vitals),
labelled back as dates; one line per series, with a legend when there are several.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from reportlab.graphics.charts.legends import LineLegend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.units import mm

from records.pdf import FONT, FONT_BOLD, register_fonts

WIDTH = 180 * mm
HEIGHT = 70 * mm
LINE_COLOURS = (colors.HexColor("#1f77b4"), colors.HexColor("#d62728"), colors.HexColor("#2ca02c"))
# Above this many points a marker per point only blurs the line.
MARKERS_UP_TO = 60


def _x(moment) -> float:
    if isinstance(moment, dt.datetime):
        local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        return local.toordinal() + seconds / 86400
    return float(moment.toordinal())


def _date_label(value: float) -> str:
    return dt.date.fromordinal(max(1, int(round(value)))).isoformat()


def _spread(low: float, high: float, minimum: float) -> tuple[float, float]:
    if high - low >= minimum:
        return low, high
    middle = (low + high) / 2
    return middle - minimum / 2, middle + minimum / 2


def trend_chart(title: str, series: dict[str, list[tuple]], unit: str = "") -> Drawing:
    """A drawing of `series` ({label: [(date or datetime, value)…]}, each oldest first)."""
    register_fonts()
    drawing = Drawing(WIDTH, HEIGHT)
    heading = f"{title} ({unit})" if unit else title
    drawing.add(String(0, HEIGHT - 12, heading, fontName=FONT_BOLD, fontSize=10))
    lines = [
        [(_x(moment), float(value)) for moment, value in points if value is not None]
        for points in series.values()
    ]
    if not any(lines):
        drawing.add(String(0, HEIGHT - 30, "No data in this period.", fontName=FONT, fontSize=8))
        return drawing
    plot = LinePlot()
    plot.x, plot.y = 38, 34
    plot.width, plot.height = WIDTH - 50, HEIGHT - 62
    plot.data = [line or [(0, 0)] for line in lines]
    xs = [x for line in lines for x, _ in line]
    ys = [y for line in lines for _, y in line]
    low_x, high_x = _spread(min(xs), max(xs), 2)
    low_y, high_y = _spread(min(ys), max(ys), 1)
    pad_y = (high_y - low_y) * 0.08
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = low_x, high_x
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = low_y - pad_y, high_y + pad_y
    plot.xValueAxis.labelTextFormat = _date_label
    # Whole days between ticks, so no two ticks carry the same date.
    plot.xValueAxis.valueStep = max(1, round((high_x - low_x) / 5))
    plot.yValueAxis.labelTextFormat = "%g"
    plot.yValueAxis.maximumTicks = 6
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName = FONT
        axis.labels.fontSize = 7
    plot.xValueAxis.labels.angle = 0
    plot.yValueAxis.visibleGrid = True
    plot.yValueAxis.gridStrokeColor = colors.HexColor("#e3e7ec")
    few = max(len(line) for line in lines) <= MARKERS_UP_TO
    for index, colour in enumerate(LINE_COLOURS[: len(lines)]):
        plot.lines[index].strokeColor = colour
        plot.lines[index].strokeWidth = 1
        if few:
            plot.lines[index].symbol = makeMarker("FilledCircle", size=2.5, fillColor=colour)
    drawing.add(plot)
    if len(lines) > 1:
        legend = LineLegend()
        legend.x, legend.y = WIDTH - 120 * len(lines), HEIGHT - 8
        legend.fontName, legend.fontSize = FONT, 7
        legend.columnMaximum = 1
        legend.colorNamePairs = list(zip(LINE_COLOURS, series.keys(), strict=False))
        legend.deltax = 120
        drawing.add(legend)
    return drawing
