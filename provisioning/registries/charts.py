"""Server-side SVG bar charts over named categories (days, terminals, providers): bars with their value as a
tooltip and data attributes (for a screen reader's table beside it and for tests). Presentation attributes only,
no script (the portal's CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from provisioning.monitor.svg import nice_top

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 14, 44


def _amount(kopecks: int) -> str:
    return f"{kopecks / 100:,.2f}".replace(",", " ")


def bars(labels: Sequence[str], kopecks: Sequence[int], *, label: str, color: str = "#0a6b22",
         keys: Sequence[str] | None = None) -> str:
    """An SVG bar per category; values are kopecks, shown (axis, tooltip) in roubles; `keys` name the bars in full
    (tooltip, data-label) where the axis shows short labels."""
    keys = keys or labels
    top = nice_top(max([*kopecks, 100]) / 100)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    every = max(len(labels) // 12, 1)  # at most a dozen category labels under the axis

    def y(roubles: float) -> float:
        return TOP + plot_h * (1 - min(roubles, top) / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" aria-label="{escape(label)}" class="chart" data-kind="bar">',
           f"<title>{escape(label)}</title>"]
    for i in range(5):
        value = top * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   'stroke="#d0d0d0" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
                   f"{value:,.0f}".replace(",", " ") + "</text>")
    for i, (name, key, value) in enumerate(zip(labels, keys, kopecks, strict=True)):
        x = LEFT + step * i
        if i % every == 0:
            out.append(f'<text x="{x + step / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                       f'font-size="11" fill="#333">{escape(name[:14])}</text>')
        tip = f"{key}: {_amount(value)} ₽"
        out.append(f'<rect class="point" x="{x + step * 0.1:.1f}" y="{y(value / 100):.1f}" width="{step * 0.8:.1f}" '
                   f'height="{TOP + plot_h - y(value / 100):.1f}" fill="{color}" data-label="{escape(key)}" '
                   f'data-value="{value}"><title>{escape(tip)}</title></rect>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#555" '
               'stroke-width="1"/>')
    out.append("</svg>")
    return "\n".join(out)
