"""The sales chart, drawn on the server as SVG: no script, no external library, readable without
JavaScript and printable. Bars are each day's revenue; the line is each day's order count on its
own scale; every bar carries a tooltip (`<title>`) with the day's figures."""

from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from apps.dashboard.selectors import Day

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 12, 28  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Day


def _scale_top(value: Decimal | int) -> Decimal:
    """A round number at or above `value` for the top of an axis (1, 2, 5 times 10^n)."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # not reached: 10 times magnitude is above any value of that length


def sales_chart(days: list[Day], *, currency: str) -> SafeString:
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    revenue_top = _scale_top(max((day.revenue for day in days), default=Decimal(0)))
    orders_top = _scale_top(max((day.orders for day in days), default=0))
    slot = plot_width / max(len(days), 1)
    bars, points = [], []
    for index, day in enumerate(days):
        height = float(day.revenue / revenue_top) * plot_height
        x = LEFT + index * slot
        bars.append(Bar(x + slot * 0.15, TOP + plot_height - height, slot * 0.7, height, day))
        y = TOP + plot_height - float(Decimal(day.orders) / orders_top) * plot_height
        points.append(f"{x + slot / 2:.1f},{y:.1f}")
    context = {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + plot_height,
        "middle": TOP + plot_height / 2,
        "bars": bars,
        "points": " ".join(points),
        "revenue_top": revenue_top,
        "revenue_middle": revenue_top / 2,
        "orders_top": orders_top,
        "currency": currency,
        "first": days[0].day if days else None,
        "last": days[-1].day if days else None,
    }
    return SafeString(render_to_string("dashboard/sales_chart.svg", context))
