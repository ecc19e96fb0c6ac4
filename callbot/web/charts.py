"""Charts as inline SVG, drawn on the server: no JavaScript, no build step, printable."""

from __future__ import annotations

from markupsafe import Markup, escape

from callbot.web.wording import OUTCOMES

WIDTH, HEIGHT, GAP = 720, 160, 2
COLOURS = {"resolved": "#2e7d32", "transferred": "#f9a825",
           "transfer_failed": "#ef6c00", "abandoned": "#9e9e9e",
           "error": "#c62828", "in_progress": "#1565c0"}


def bar_chart(labels: list[str], values: list[int], colour: str = "#1565c0") -> Markup:
    top = max(values, default=0) or 1
    width = WIDTH / max(len(values), 1)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (HEIGHT - 20) * value / top
        x = i * width
        bars.append(f'<rect x="{x:.1f}" y="{HEIGHT - 20 - height:.1f}" width="{width - GAP:.1f}" '
                    f'height="{height:.1f}" fill="{colour}"><title>{escape(label)}: {value}'
                    f'</title></rect>')
        if len(labels) <= 24 or i % 5 == 0:
            bars.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 5}" font-size="9" '
                        f'text-anchor="middle">{escape(label)}</text>')
    return _svg(bars)


def stacked_days(days: list[dict]) -> Markup:
    """One bar per day, stacked by outcome."""
    top = max((d["total"] for d in days), default=0) or 1
    width = WIDTH / max(len(days), 1)
    parts = []
    for i, day in enumerate(days):
        y = HEIGHT - 20.0
        for outcome, colour in COLOURS.items():
            height = (HEIGHT - 20) * day.get(outcome, 0) / top
            if height:
                y -= height
                parts.append(f'<rect x="{i * width:.1f}" y="{y:.1f}" width="{width - GAP:.1f}" '
                             f'height="{height:.1f}" fill="{colour}"><title>{day["day"]} '
                             f'{OUTCOMES[outcome]} : {day.get(outcome, 0)}</title></rect>')
        if i % 5 == 0:
            parts.append(f'<text x="{i * width:.1f}" y="{HEIGHT - 5}" font-size="9">'
                         f'{day["day"][5:]}</text>')
    return _svg(parts)


def legend() -> Markup:
    """The trend chart's colours, named as the pages name outcomes."""
    return Markup("".join(  # noqa: S704
        f'<span class="swatch" style="background:{colour}"></span>{escape(OUTCOMES[outcome])} '
        for outcome, colour in COLOURS.items()))


def _svg(parts: list[str]) -> Markup:
    return Markup(f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">'  # noqa: S704
                  + "".join(parts) + "</svg>")
