"""A small server-side SVG chart: a line (with gaps where no heartbeat came) or bars over time buckets, axes with
labels in the terminal's own time zone, and every point carrying its time and value (for a tooltip, a screen
reader's table and tests). No script, no styles of its own: presentation attributes only (the portal's CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from provisioning.monitor.history import Point

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 28


def nice_top(highest: float) -> float:
    """A round upper bound for the y axis at or above the highest value: 1, 2, 4, 5 × a power of ten."""
    if highest <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 <= highest:
        scale *= 10
    while scale > highest:
        scale /= 10
    for step in (1, 2, 4, 5, 10):
        if step * scale >= highest:
            return step * scale
    return 10 * scale


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def chart(points: Sequence[Point], *, label: str, zone: tzinfo, kind: str = "line", top: float | None = None,
          unit: str = "", time_format: str = "%H:%M", color: str = "#1f5fa8") -> str:
    """The SVG markup of one chart (`kind` "line" or "bar"); `top` fixes the y axis (100 for a percentage)."""
    values = [p.value for p in points if p.value is not None]
    # counts: at least 4, so the four grid steps fall on whole numbers
    y_top = top if top is not None else nice_top(max([*values, 4.0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, y_top) / y_top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" aria-label="{escape(label)}" class="chart" data-kind="{kind}">',
           f"<title>{escape(label)}</title>"]
    for i in range(5):  # horizontal grid lines with the y values
        value = y_top * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   f'stroke="#d0d0d0" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#333">{_number(value)}{escape(unit)}</text>')
    labels = max(len(points) // 6, 1)
    for i, point in enumerate(points):
        if i % labels == 0:
            out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" fill="#333">'
                       f"{escape(point.at.astimezone(zone).strftime(time_format))}</text>")
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#555" stroke-width="1"/>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#555" '
               'stroke-width="1"/>')
    if kind == "line":
        run: list[str] = []
        for i, point in enumerate([*points, Point(points[-1].at if points else datetime.min, None)]):
            if point.value is not None:
                run.append(f"{x(i):.1f},{y(point.value):.1f}")
            elif run:  # a gap: no heartbeat in this bucket ends the line
                out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>')
                run = []
    for i, point in enumerate(points):
        if point.value is None:
            continue
        tip = f"{point.at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}: {_number(point.value)}{unit}"
        data = f'data-at="{point.at.isoformat()}" data-value="{_number(point.value)}"'
        if kind == "bar":
            height = TOP + plot_h - y(point.value)
            out.append(f'<rect class="point" x="{x(i) - step * 0.4:.1f}" y="{y(point.value):.1f}" '
                       f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="{color}" {data}>'
                       f"<title>{escape(tip)}</title></rect>")
        else:
            out.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(point.value):.1f}" r="2.5" fill="{color}" '
                       f"{data}><title>{escape(tip)}</title></circle>")
    out.append("</svg>")
    return "\n".join(out)
