"""Charts drawn as inline SVG on the server: no script, no CDN, the admin works offline."""

from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"]
WIDTH, HEIGHT = 720, 220
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 16, 36


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _frame(title: str, labels: list[str], top: float, series_names: list[str], body: list[str], points: int) -> str:
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    parts = [
        f'<svg class="monitoring-chart" role="img" aria-label="{escape(title)}" data-points="{points}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg" style="max-height:{HEIGHT}px;font:11px sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        y = PAD_T + plot_h * i / 4
        parts.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">{_fmt(top * (4 - i) / 4)}</text>'
        )
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step:
            continue
        x = PAD_L + plot_w * (i + 0.5) / max(1, len(labels))
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle" fill="#6b7280">{escape(label)}</text>'
        )
    parts.extend(body)
    for i, name in enumerate(series_names):
        x = PAD_L + 10 + i * 150
        parts.append(f'<rect x="{x}" y="{HEIGHT - 12}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 3}" fill="#374151">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(*, title: str, labels: list[str], series: dict[str, list]) -> SafeString:
    """Lines over shared x labels; None values leave a gap (e.g. an hour with no baseline yet)."""
    values = [float(v) for vs in series.values() for v in vs if v is not None]
    top = max([*values, 1.0]) * 1.1
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    body, points = [], 0
    for i, (name, vs) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        segments, current = [], []
        for j, v in enumerate(vs):
            if v is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x = PAD_L + plot_w * (j + 0.5) / max(1, len(labels))
            y = PAD_T + plot_h * (1 - float(v) / top)
            current.append(f"{x:.1f},{y:.1f}")
            points += 1
        if current:
            segments.append(current)
        for seg in segments:
            dash = ' stroke-dasharray="4 3"' if i else ""
            body.append(
                f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{color}" '
                f'stroke-width="2"{dash} points="{" ".join(seg)}"/>'
            )
            if len(seg) == 1:
                x, y = seg[0].split(",")
                body.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
    return mark_safe(_frame(title, labels, top, list(series), body, points))  # noqa: S308 (escaped above)


def bar_chart(*, title: str, labels: list[str], series: dict[str, list]) -> SafeString:
    """Grouped bars over shared x labels."""
    values = [float(v or 0) for vs in series.values() for v in vs]
    top = max([*values, 1.0]) * 1.1
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    group = plot_w / max(1, len(labels))
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    body, points = [], 0
    for i, (name, vs) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        for j, v in enumerate(vs):
            value = float(v or 0)
            h = plot_h * value / top
            x = PAD_L + group * j + group * 0.1 + bar * i
            body.append(
                f'<rect class="bar" data-series="{escape(name)}" x="{x:.1f}" y="{PAD_T + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{color}"><title>{escape(labels[j])}: '
                f"{escape(str(v if not isinstance(v, Decimal) else v.normalize()))}</title></rect>"
            )
            points += 1
    return mark_safe(_frame(title, labels, top, list(series), body, points))  # noqa: S308 (escaped above)
