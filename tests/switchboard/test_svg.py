"""switchboard.svg: server-drawn plots, escaped, CSP-clean, zero in view."""

import re

from switchboard.svg import line_plot


def test_line_plot_draws_every_point_with_zero_in_view_and_escapes_labels():
    svg = str(line_plot([("a", 10), ("<b>", 0), ("c", 20)], title="<t>", label=lambda v: f"{v}€"))
    assert svg.startswith('<svg class="plot"') and svg.endswith("</svg>")
    assert "<title>&lt;t&gt;</title>" in svg and "&lt;b&gt;: 0€" in svg and "<b>" not in svg
    points = re.search(r'<polyline class="plot-line" points="([^"]+)"', svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in points]
    assert len(ys) == 3 and ys[2] < ys[0] < ys[1]  # higher values are drawn higher (smaller y)
    zero = float(re.search(r'class="plot-zero"[^>]* y1="([^"]+)"', svg).group(1))
    assert zero == ys[1]  # the point at 0 sits on the zero line
    assert ">20€</text>" in svg and ">0€</text>" in svg
    assert "style=" not in svg


def test_line_plot_of_nothing_says_so():
    svg = str(line_plot([], title="empty"))
    assert 'data-points="0"' in svg and "no data yet" in svg and "polyline" not in svg
