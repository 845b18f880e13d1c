"""Labels, display order and human formatting of the metrics from `metrics.compute_metrics`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How one metric is shown: `kind` in pct/money/ratio/days/int/num; `group` names its table section."""

    key: str
    label: str
    kind: str
    group: str


METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("initial_equity", "Initial equity", "money", "Returns"),
    MetricSpec("final_equity", "Final equity", "money", "Returns"),
    MetricSpec("total_return", "Total return", "pct", "Returns"),
    MetricSpec("cagr", "CAGR", "pct", "Returns"),
    MetricSpec("duration_days", "Duration", "days", "Returns"),
    MetricSpec("exposure", "Exposure (time in market)", "pct", "Returns"),
    MetricSpec("volatility_ann", "Volatility (ann.)", "pct", "Risk"),
    MetricSpec("sharpe", "Sharpe ratio", "ratio", "Risk"),
    MetricSpec("sortino", "Sortino ratio", "ratio", "Risk"),
    MetricSpec("calmar", "Calmar ratio", "ratio", "Risk"),
    MetricSpec("max_drawdown", "Max drawdown", "pct", "Risk"),
    MetricSpec("max_drawdown_duration_days", "Max drawdown duration", "days", "Risk"),
    MetricSpec("var_95", "VaR 95% (daily)", "pct", "Risk"),
    MetricSpec("cvar_95", "CVaR 95% (daily)", "pct", "Risk"),
    MetricSpec("var_99", "VaR 99% (daily)", "pct", "Risk"),
    MetricSpec("cvar_99", "CVaR 99% (daily)", "pct", "Risk"),
    MetricSpec("trades", "Trades", "int", "Trades"),
    MetricSpec("win_rate", "Win rate", "pct", "Trades"),
    MetricSpec("profit_factor", "Profit factor", "ratio", "Trades"),
    MetricSpec("expectancy", "Expectancy (per trade)", "money", "Trades"),
    MetricSpec("avg_win", "Average win", "money", "Trades"),
    MetricSpec("avg_loss", "Average loss", "money", "Trades"),
    MetricSpec("best_trade", "Best trade", "money", "Trades"),
    MetricSpec("worst_trade", "Worst trade", "money", "Trades"),
    MetricSpec("periods_per_year", "Periods per year", "int", "Method"),
    MetricSpec("risk_free", "Risk-free rate (ann.)", "pct", "Method"),
    MetricSpec("return_days", "Daily returns used", "int", "Method"),
)

_BY_KEY = {spec.key: spec for spec in METRIC_SPECS}


def format_metric(value: float | int, kind: str, currency: str = "") -> str:
    """Human text: pct '12.34%', money '1,234.56 USD', ratio '1.23', days '12.5 d'; NaN 'n/a', inf '∞'."""
    v = float(value)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if kind == "pct":
        return f"{v * 100:,.2f}%"
    if kind == "money":
        return f"{v:,.2f} {currency}".rstrip()
    if kind == "ratio":
        return f"{v:,.2f}"
    if kind == "days":
        return f"{v:,.1f} d"
    if kind == "int":
        return f"{round(v):,d}"
    return f"{v:,.6g}"


def ordered_metrics(metrics: Mapping[str, float | int]) -> list[tuple[MetricSpec, float | int]]:
    """The metrics present, in METRIC_SPECS order, then any unknown keys (as 'num' in group 'Other')."""
    rows = [(spec, metrics[spec.key]) for spec in METRIC_SPECS if spec.key in metrics]
    rows += [
        (MetricSpec(key, key, "num", "Other"), value) for key, value in metrics.items() if key not in _BY_KEY
    ]
    return rows
