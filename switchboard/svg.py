"""Plots drawn on the server as SVG: no JavaScript, no library, and clean under the strict CSP.

Only SVG presentation attributes and classes (styled in site.css), never a ``style`` attribute, so the
policy ``style-src 'self'`` has nothing to block. Every number is computed here; every label is escaped.

    line_plot([(label, value), ...], title="Balance") -> SafeString   # <svg role="img"> with a <title>
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD_X, PAD_Y = 600, 160, 8, 16


def _y_scale(values: Sequence[float], height: int) -> Callable[[float], float]:
    low, high = min(0, *values), max(0, *values)
    span = (high - low) or 1
    inner = height - 2 * PAD_Y
    return lambda v: PAD_Y + inner * (high - v) / span


def line_plot(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    label: Callable[[float], str] = str,
    width: int = WIDTH,
    height: int = HEIGHT,
    css_class: str = "plot",
) -> SafeString:
    """A step-free line through the points (x by order, y by value, zero always in view), with its extremes.

    ``points`` are ``(x label, value)``; ``label`` formats a value for the axis texts and the hover titles.
    An empty list gives an empty frame saying so.
    """
    parts = [
        format_html(
            '<svg class="{}" viewBox="0 0 {} {}" role="img" preserveAspectRatio="none" '
            'xmlns="http://www.w3.org/2000/svg" data-points="{}">',
            css_class,
            width,
            height,
            len(points),
        ),
        format_html("<title>{}</title>", title),
        format_html(
            '<rect class="plot-frame" x="0" y="0" width="{}" height="{}" fill="none" stroke="#ccc"/>', width, height
        ),
    ]
    if points:
        parts += _line(points, label=label, width=width, height=height)
    else:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="#888">no data yet</text>', width / 2, height / 2
            )
        )
    return format_html("{}</svg>", format_html_join("", "{}", ((part,) for part in parts)))


def _line(
    points: Sequence[tuple[str, float]], *, label: Callable[[float], str], width: int, height: int
) -> list[SafeString]:
    values = [v for _, v in points]
    y = _y_scale(values, height)
    step = (width - 2 * PAD_X) / max(len(points) - 1, 1)
    xy = [(PAD_X + i * step, y(v)) for i, v in enumerate(values)]
    zero = f"{y(0):.1f}"
    parts = [
        format_html(
            '<line class="plot-zero" x1="0" x2="{}" y1="{}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>',
            width,
            zero,
            zero,
        ),
        format_html(
            '<polyline class="plot-line" points="{}" fill="none" stroke="#2563eb" stroke-width="2"/>',
            " ".join(f"{x:.1f},{py:.1f}" for x, py in xy),
        ),
    ]
    for (x, py), (name, value) in zip(xy[-50:], points[-50:], strict=True):  # hover titles on the newest ones
        parts.append(
            format_html(
                '<circle class="plot-dot" cx="{}" cy="{}" r="2.5" fill="#2563eb"><title>{}: {}</title></circle>',
                f"{x:.1f}",
                f"{py:.1f}",
                name,
                label(value),
            )
        )
    parts.append(
        format_html('<text class="plot-max" x="4" y="12" font-size="11" fill="#555">{}</text>', label(max(values)))
    )
    parts.append(
        format_html(
            '<text class="plot-min" x="4" y="{}" font-size="11" fill="#555">{}</text>', height - 4, label(min(values))
        )
    )
    return parts
