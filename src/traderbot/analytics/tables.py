"""Rich terminal rendering of backtest metrics."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from traderbot.analytics.metric_format import format_metric, ordered_metrics


def metrics_table(
    metrics: Mapping[str, float | int], *, currency: str = "", title: str = "Performance"
) -> Table:
    """A two-column table (label, formatted value) in fixed order, one section per metric group."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("Metric", style="cyan", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Key", style="dim", no_wrap=True)
    rows = ordered_metrics(metrics)
    for i, (spec, value) in enumerate(rows):
        last_in_group = i + 1 == len(rows) or rows[i + 1][0].group != spec.group
        text = format_metric(value, spec.kind, currency)
        style = "red" if spec.kind in {"pct", "money", "ratio"} and float(value) < 0 else ""
        table.add_row(spec.label, Text(text, style=style), spec.key, end_section=last_in_group)
    return table
