"""A self-contained HTML backtest report: inline SVG charts, metric and trade tables, no external files."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from pathlib import Path

import pandas as pd

from traderbot.analytics._svg import Marker, Segment, line_chart
from traderbot.analytics.metric_format import format_metric, ordered_metrics
from traderbot.analytics.metrics import TRADE_COLUMNS, drawdown_series, index_ns, period_bounds
from traderbot.analytics.report_assets import REPORT_CSS, TOOLTIP_JS
from traderbot.analytics.report_io import format_utc

MAX_TRADE_ROWS = 500
MAX_MARKED_TRADES = 1500
MAX_CHART_POINTS = 3000
COSTS_NOTE = (
    "All figures (equity, returns, risk and trade P&L) are net of the costs listed under "
    "Parameters & costs: commissions, spread/slippage and financing as simulated by the backtest."
)


def format_price(value: float) -> str:
    """Price text with about 6 significant digits, at least 2 decimals and thousands separators."""
    if not math.isfinite(value):
        return "n/a"
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return f"{value:,.{min(8, max(2, 5 - magnitude))}f}"


def _metrics_section(metrics: Mapping[str, float | int], currency: str) -> str:
    """One small table per metric group: label, formatted value, metric key (defined in docs/metrics.md)."""
    groups: dict[str, list[str]] = {}
    for spec, value in ordered_metrics(metrics):
        text = format_metric(value, spec.kind, currency)
        negative = spec.kind in {"pct", "money", "ratio"} and float(value) < 0
        css = "num neg" if negative else "num"
        groups.setdefault(spec.group, []).append(
            f'<tr><td>{escape(spec.label)}</td><td class="{css}">{escape(text)}</td>'
            f'<td class="key">{escape(spec.key)}</td></tr>'
        )
    tables = "".join(
        f"<div><h3>{escape(group)}</h3><table><tbody>{''.join(rows)}</tbody></table></div>"
        for group, rows in groups.items()
    )
    return (
        f'<section><h2>Performance</h2><div class="groups">{tables}</div>'
        '<p class="legend">Formulas, units and edge cases of each key: docs/metrics.md. '
        "n/a = undefined for this data; ∞ = no losing trades.</p></section>"
    )


def _equity_sections(equity: pd.Series) -> str:
    """Equity curve (with the starting equity dashed) and the underwater (drawdown) curve."""
    ns = index_ns(equity.index)
    values = equity.to_numpy(dtype=float)
    drawdown = drawdown_series(equity).to_numpy(dtype=float)
    equity_svg = line_chart(
        ns, values, kind="money", label="Equity curve", max_points=MAX_CHART_POINTS, baseline=float(values[0])
    )
    dd_svg = line_chart(ns, drawdown, kind="pct", label="Drawdown", max_points=MAX_CHART_POINTS, area_to=0.0)
    dd_svg = dd_svg.replace('<svg class="chart"', '<svg class="chart dd"', 1)
    return (
        f"<section><h2>Equity</h2>{equity_svg}<p class='legend'>Account equity marked to market at each bar "
        f"close; dashed line = starting equity; time axis in UTC.</p></section>"
        f"<section><h2>Drawdown</h2>{dd_svg}<p class='legend'>Equity / running peak − 1.</p></section>"
    )


def _trade_title(row: pd.Series) -> str:
    """Hover text of one trade's markers."""
    entry, exit_ = format_utc(pd.Series([row["entry_time"], row["exit_time"]]))
    return (
        f"{row['side']} {row['quantity']:g} {row['instrument']}\n"
        f"entry {entry} @ {format_price(float(row['entry_price']))}\n"
        f"exit {exit_} @ {format_price(float(row['exit_price']))}\n"
        f"pnl {float(row['pnl']):,.2f} ({float(row['return_pct']) * 100:.2f}%)"
    )


def _trade_marks(trades: pd.DataFrame, t0: int, t1: int) -> tuple[list[Marker], list[Segment]]:
    """Entry triangles (▲ long / ▼ short), exit crosses and entry-exit links for trades inside [t0, t1]."""
    markers: list[Marker] = []
    segments: list[Segment] = []
    entries = index_ns(pd.DatetimeIndex(trades["entry_time"]))
    exits = index_ns(pd.DatetimeIndex(trades["exit_time"]))
    for (_, row), t_in, t_out in zip(trades.iterrows(), entries.tolist(), exits.tolist(), strict=True):
        if t_in < t0 or t_out > t1:
            continue
        title = _trade_title(row)
        long = row["side"] == "long"
        outcome = "win" if float(row["pnl"]) > 0 else "loss"
        e_px, x_px = float(row["entry_price"]), float(row["exit_price"])
        segments.append(Segment(t_in, e_px, t_out, x_px, outcome))
        markers.append(Marker(t_in, e_px, "up" if long else "down", "long" if long else "short", title))
        markers.append(Marker(t_out, x_px, "x", outcome, title))
    return markers, segments


def _instrument_section(name: str, bars: pd.DataFrame, trades: pd.DataFrame) -> str:
    """Close-price chart of one instrument with its trades marked."""
    if "close" not in bars.columns:
        raise ValueError(f"prices[{name!r}] has no 'close' column (columns: {list(bars.columns)})")
    ns = index_ns(bars.index)
    if len(ns) == 0:
        return f"<h3>{escape(name)}</h3><p class='muted'>No price data.</p>"
    own = trades[trades["instrument"] == name] if len(trades) else trades
    note = ""
    if len(own) > MAX_MARKED_TRADES:
        note = f" Markers shown for the first {MAX_MARKED_TRADES:,} of {len(own):,} trades."
        own = own.iloc[:MAX_MARKED_TRADES]
    markers, segments = _trade_marks(own, int(ns[0]), int(ns[-1])) if len(own) else ([], [])
    close = bars["close"].to_numpy(dtype=float)
    svg = line_chart(
        ns,
        close,
        kind="price",
        label=f"{name} close",
        max_points=MAX_CHART_POINTS,
        markers=markers,
        segments=segments,
    )
    legend = (
        "Close price (min/max-preserving downsampling), UTC. "
        "<span class='long'>▲ long entry</span> · <span class='short'>▼ short entry</span> · "
        "× exit (<span class='long'>green</span> = winning, <span class='neg'>red</span> = losing trade)."
    )
    return f"<h3>{escape(name)}</h3>{svg}<p class='legend'>{legend}{escape(note)}</p>"


def _prices_section(prices: Mapping[str, pd.DataFrame], trades: pd.DataFrame) -> str:
    """One price chart per instrument, in name order."""
    if not prices:
        return "<section><h2>Prices &amp; trades</h2><p class='muted'>No price data supplied.</p></section>"
    body = "".join(_instrument_section(name, prices[name], trades) for name in sorted(prices))
    return f"<section><h2>Prices &amp; trades</h2>{body}</section>"


def _trade_cells(row: pd.Series, entry: str, exit_: str) -> list[tuple[str, str]]:
    """(css class, text) cells of one trades-table row."""
    pnl = float(row["pnl"])
    return [
        ("", str(row["instrument"])),
        ("", str(row["side"])),
        ("num", f"{float(row['quantity']):,.6g}"),
        ("", entry),
        ("", exit_),
        ("num", format_price(float(row["entry_price"]))),
        ("num", format_price(float(row["exit_price"]))),
        ("num neg" if pnl < 0 else "num pos" if pnl > 0 else "num", f"{pnl:,.2f}"),
        ("num", f"{float(row['commission']):,.2f}"),
        ("num", f"{float(row['return_pct']) * 100:,.2f}%"),
        ("num", f"{int(row['bars_held']):,d}"),
    ]


def _trades_section(trades: pd.DataFrame) -> str:
    """The first MAX_TRADE_ROWS closed trades, with a note when the table is truncated."""
    if len(trades) == 0:
        return "<section><h2>Trades</h2><p class='muted'>No closed trades in this backtest.</p></section>"
    shown = trades.iloc[:MAX_TRADE_ROWS]
    entries, exits = format_utc(shown["entry_time"]), format_utc(shown["exit_time"])
    heads = ["#", "Instrument", "Side", "Qty", "Entry (UTC)", "Exit (UTC)", "Entry px", "Exit px"]
    heads += ["P&L (net)", "Commission", "Return", "Bars"]
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    rows = []
    for i, (_, row) in enumerate(shown.iterrows()):
        cells = _trade_cells(row, entries[i], exits[i])
        tds = "".join(
            f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"
            for css, text in cells
        )
        rows.append(f'<tr><td class="num">{i + 1}</td>{tds}</tr>')
    note = ""
    if len(trades) > MAX_TRADE_ROWS:
        note = (
            f"<p class='note'>Showing the first {MAX_TRADE_ROWS:,} of {len(trades):,} trades; "
            "the trades CSV has all of them.</p>"
        )
    table = (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return f"<section><h2>Trades ({len(trades):,})</h2>{note}{table}</section>"


def _params_section(params: Mapping[str, str]) -> str:
    """Strategy, parameters, costs and data span as a definition list."""
    items = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in params.items())
    body = f"<dl class='params'>{items}</dl>" if items else "<p class='muted'>No parameters given.</p>"
    return f"<section><h2>Parameters &amp; costs</h2>{body}<p class='note'>{escape(COSTS_NOTE)}</p></section>"


def write_html_report(
    path: str | Path,
    *,
    title: str,
    equity: pd.Series,
    trades: pd.DataFrame,
    prices: Mapping[str, pd.DataFrame],
    metrics: Mapping[str, float | int],
    params: Mapping[str, str],
    currency: str = "",
) -> Path:
    """Write the report to `path` (one HTML file, charts as inline SVG, no external resources); return it."""
    missing = [c for c in TRADE_COLUMNS if c not in trades.columns]
    if missing:
        raise ValueError(f"trades table is missing columns {missing}; expected {list(TRADE_COLUMNS)}")
    if len(equity) == 0:
        raise ValueError("equity is empty: nothing to report")
    span = period_bounds(equity)
    days = (int(index_ns(equity.index)[-1]) - int(index_ns(equity.index)[0])) / 86_400e9
    header = (
        f"<header><h1>{escape(title)}</h1><p class='sub'>{escape(span['start'])} → {escape(span['end'])} "
        f"(UTC, {days:,.1f} days, {len(equity):,} equity points, {len(trades):,} trades)</p></header>"
        f"<p class='note'>{escape(COSTS_NOTE)}</p>"
    )
    body = (
        header
        + _metrics_section(metrics, currency)
        + _equity_sections(equity)
        + _prices_section(prices, trades)
        + _trades_section(trades)
        + _params_section(params)
    )
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{REPORT_CSS}</style></head>"
        f"<body><main>{body}<footer>Generated by traderbot. Self-contained file: no external resources."
        f"</footer></main><script>{TOOLTIP_JS}</script></body></html>\n"
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document, encoding="utf-8")
    return target
