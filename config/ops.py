"""The operations page's numbers: each installed app's metrics (AppConfig.metrics), rates as SVG plots.

A snapshot costs what the apps' metrics cost (a few indexed SQL reads and Redis reads each) plus one MGET
for every per-minute series. ``ops_publish`` (a periodic task, see SiteConfig) notifies the private ``ops``
board with the headline numbers; the page's script watches that board and refreshes itself when it moves.
"""

from __future__ import annotations

import time
from typing import Any

from boards.interface import BoardNotFound, board_get, board_notify, board_watch_url
from switchboard.metrics import counter_series, metrics_collect
from switchboard.svg import line_plot

OPS_BOARD = "ops"
MINUTES = 60


def ops_snapshot() -> dict[str, Any]:
    """Every section with its numbers, tables and per-minute plots of the last hour."""
    started = time.perf_counter()
    sections = metrics_collect()
    series = counter_series(sorted({name for s in sections for name in s.rates.values()}), minutes=MINUTES)
    shown = []
    for section in sections:
        plots = []
        for label, name in section.rates.items():
            values = series.get(name, [0] * MINUTES)
            points = [
                (f"{MINUTES - 1 - i} min ago" if i < MINUTES - 1 else "this minute", v) for i, v in enumerate(values)
            ]
            plots.append(
                {
                    "label": label,
                    "counter": name,
                    "this_minute": values[-1],
                    "last_hour": sum(values),
                    "svg": line_plot(
                        points, title=f"{section.title}: {label}, last hour", css_class="plot plot-rate", height=64
                    ),
                }
            )
        tables = [
            {"title": title, "columns": list(rows[0]) if rows else [], "rows": [list(r.values()) for r in rows]}
            for title, rows in section.tables.items()
        ]
        shown.append({"title": section.title, "numbers": section.numbers, "plots": plots, "tables": tables})
    return {"sections": shown, "cost_ms": round(1000 * (time.perf_counter() - started), 1)}


def ops_headline(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The small JSON value the ops board carries: every number and this minute's rates, by section."""
    return {
        section["title"]: {
            **{str(k): v for k, v in section["numbers"].items()},
            **{plot["label"]: plot["this_minute"] for plot in section["plots"]},
        }
        for section in snapshot["sections"]
    }


def ops_publish() -> int:
    """Notify the private ``ops`` board with the headline numbers (run periodically); returns its version."""
    return board_notify(name=OPS_BOARD, value=ops_headline(ops_snapshot()), private=True)


def ops_watch_url() -> str:
    """Where the page's script waits for the next update of the ops board."""
    try:
        version, _ = board_get(name=OPS_BOARD)
    except BoardNotFound:
        version = ops_publish()
    return board_watch_url(name=OPS_BOARD, since=version)
