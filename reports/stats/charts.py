"""Server-rendered SVG charts: no JavaScript, no CDN, no inline styles (strict CSP) — only SVG
presentation attributes and classes styled by reports' static CSS. Every drawn mark (bar, point,
segment) carries class "mark"; the 95% target is a dashed line with class "target"."""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 180
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#1565c0"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # a rate 0..1 (or None: no data)
    note: str = ""


def _svg(height: int, body: list[str], title: str) -> Markup:
    head = (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every piece is escaped above/below


def _x(value: float, low: float, span: int) -> float:
    return LABEL_WIDTH + max(0.0, (value - low) / (1 - low)) * span


def rate_bars(title: str, bars: Sequence[Bar], target: float, low: float = 0.8) -> Markup:
    """Horizontal bars of rates from `low` to 100%, red below the target, with the target line."""
    span = WIDTH - LABEL_WIDTH - 60
    height = max(1, len(bars)) * (BAR_HEIGHT + 6) + 24
    body = []
    for i, bar in enumerate(bars):
        y = 8 + i * (BAR_HEIGHT + 6)
        body.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(bar.label)}</text>'
        )
        if bar.value is None:
            body.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 15}" font-size="12" fill="#777">—</text>')
            continue
        colour = GOOD if bar.value >= target else BAD
        end = _x(bar.value, low, span)
        body.append(
            f'<rect class="mark" x="{LABEL_WIDTH}" y="{y}" width="{max(end - LABEL_WIDTH, 1):.1f}" '
            f'height="{BAR_HEIGHT}" fill="{colour}"><title>{escape(bar.label)}: {bar.value:.2%}</title></rect>'
        )
        body.append(f'<text x="{end + 4:.1f}" y="{y + 15}" font-size="12">{bar.value:.1%}{escape(bar.note)}</text>')
    line = _x(target, low, span)
    body.append(
        f'<line class="target" x1="{line:.1f}" x2="{line:.1f}" y1="0" y2="{height - 14}" stroke="#000" '
        f'stroke-dasharray="4 3"/><text x="{line:.1f}" y="{height - 2}" font-size="11" text-anchor="middle">'
        f"{target:.0%}</text>"
    )
    return _svg(height, body, title)


def trend(title: str, points: Sequence[tuple[str, float | None]], target: float, low: float = 0.8) -> Markup:
    """A line of rates over periods, with dots and the target line."""
    height, top, bottom = 220, 10, 190
    known = [(i, v) for i, (_, v) in enumerate(points) if v is not None]
    step = (WIDTH - 60) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return bottom - max(0.0, (value - low) / (1 - low)) * (bottom - top)

    body = [
        f'<line class="target" x1="40" x2="{WIDTH - 10}" y1="{y(target):.1f}" y2="{y(target):.1f}" stroke="#000" '
        f'stroke-dasharray="4 3"/><text x="36" y="{y(target) + 4:.1f}" font-size="11" text-anchor="end">{target:.0%}</text>',
        f'<text x="36" y="{bottom + 4}" font-size="11" text-anchor="end">{low:.0%}</text>',
    ]
    coords = [(40 + i * step, y(v)) for i, v in known]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
        body.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{NEUTRAL}" stroke-width="2"/>')
    for (i, value), (x, yy) in zip(known, coords, strict=True):
        label = escape(points[i][0])
        body.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="{GOOD if value >= target else BAD}">'
            f"<title>{label}: {value:.2%}</title></circle>"
        )
    if points:
        body.append(f'<text x="40" y="{height - 8}" font-size="11">{escape(points[0][0])}</text>')
        body.append(
            f'<text x="{WIDTH - 10}" y="{height - 8}" font-size="11" text-anchor="end">{escape(points[-1][0])}</text>'
        )
    return _svg(height, body, title)


def count_bars(title: str, items: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars of counts (channel split, the bad-review funnel)."""
    span = WIDTH - LABEL_WIDTH - 70
    top = max((n for _, n in items), default=0) or 1
    height = max(1, len(items)) * (BAR_HEIGHT + 6) + 8
    body = []
    for i, (label, count) in enumerate(items):
        y = 4 + i * (BAR_HEIGHT + 6)
        width = max(count / top * span, 1)
        body.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>')
        body.append(
            f'<rect class="mark" x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{NEUTRAL}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        body.append(f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + 15}" font-size="12">{count}</text>')
    return _svg(height, body, title)
