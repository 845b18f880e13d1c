"""Human formatting of metrics and the rich metrics table."""

from __future__ import annotations

import math

from rich.console import Console

from traderbot.analytics.metric_format import METRIC_SPECS, format_metric, ordered_metrics
from traderbot.analytics.metrics import METRIC_KEYS
from traderbot.analytics.tables import metrics_table


def render(metrics: dict[str, float | int], currency: str = "") -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(metrics_table(metrics, currency=currency))
    return console.export_text()


def test_format_metric_kinds() -> None:
    assert format_metric(0.12345, "pct") == "12.35%"
    assert format_metric(-0.2, "pct") == "-20.00%"
    assert format_metric(1234567.891, "money", "USD") == "1,234,567.89 USD"
    assert format_metric(-5.5, "money") == "-5.50"
    assert format_metric(1.23456, "ratio") == "1.23"
    assert format_metric(12.25, "days") == "12.2 d"
    assert format_metric(1234, "int") == "1,234"
    assert format_metric(math.nan, "pct") == "n/a"
    assert format_metric(math.inf, "ratio") == "∞"


def test_every_computed_metric_has_a_spec() -> None:
    assert {s.key for s in METRIC_SPECS} == set(METRIC_KEYS)


def test_table_order_labels_and_values() -> None:
    metrics: dict[str, float | int] = {key: 0.0 for key in METRIC_KEYS}
    metrics |= {"total_return": 0.2512, "max_drawdown": -0.0873, "final_equity": 12512.0, "trades": 42}
    metrics |= {"sharpe": math.nan, "profit_factor": math.inf, "custom_thing": 3.5}
    text = render(metrics, currency="EUR")
    lines = text.splitlines()
    for label, value in (
        ("Total return", "25.12%"),
        ("Max drawdown", "-8.73%"),
        ("Final equity", "12,512.00 EUR"),
        ("Trades", "42"),
        ("Sharpe ratio", "n/a"),
        ("Profit factor", "∞"),
        ("custom_thing", "3.5"),
    ):
        assert any(label in line and value in line for line in lines), (label, value)
    positions = [text.index(spec.label) for spec, _ in ordered_metrics(metrics)]
    assert positions == sorted(positions)
    assert text.index("custom_thing") > text.index("Daily returns used")
