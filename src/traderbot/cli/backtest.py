"""`traderbot backtest`: one strategy on one pair, several pairs (a portfolio), or any OHLCV file."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from traderbot.cli._market import dec, load_market, sizing, venue_from_flags, with_realism
from traderbot.errors import UserError

Opt = typer.Option


def parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param {item!r} is not key=value: pass e.g. --param fast=10")
        out[key.strip()] = value.strip()
    return out


def backtest(
    strategy: Annotated[str, Opt("--strategy", "-s", help="built-in name or path/to/file.py")],
    pair: Annotated[
        list[str] | None, Opt("--pair", "-p", help="instrument id; repeat for a portfolio")
    ] = None,
    timeframe: Annotated[str | None, Opt("--timeframe", "-t", help="e.g. 15m, 4h, 1d")] = None,
    start: Annotated[str | None, Opt("--from", help="first date (UTC)")] = None,
    end: Annotated[str | None, Opt("--to", help="last date (UTC)")] = None,
    param: Annotated[list[str] | None, Opt("--param", help="strategy parameter key=value")] = None,
    data: Annotated[Path | None, Opt("--data", help="CSV or Parquet OHLCV file")] = None,
    cash: Annotated[str, Opt("--cash", help="starting cash")] = "10000",
    commission_pct: Annotated[str, Opt("--commission-pct", help="percent of notional per fill")] = "0",
    commission_per_unit: Annotated[str, Opt("--commission-per-unit")] = "0",
    commission_per_order: Annotated[str, Opt("--commission-per-order")] = "0",
    commission_min: Annotated[str, Opt("--commission-min", help="minimum per order")] = "0",
    spread_pips: Annotated[str, Opt("--spread-pips", help="spread added to buys")] = "0",
    slippage_pips: Annotated[str, Opt("--slippage-pips")] = "0",
    price_side: Annotated[str, Opt("--price-side", help="the data's prices: bid or mid")] = "bid",
    fill: Annotated[str, Opt("--fill", help="next_open or close")] = "next_open",
    financing_long: Annotated[
        str, Opt("--financing-long", help="annual % charged on longs at 22:00 UTC")
    ] = "0",
    financing_short: Annotated[str, Opt("--financing-short", help="annual % charged on shorts")] = "0",
    sizing_text: Annotated[
        str | None,
        Opt(
            "--sizing",
            help="all_in | fraction:F | units:N | risk:PCT[,atr=M] | vol:PCT | kelly:F [;dd=S:F:FLOOR]",
        ),
    ] = None,
    risk_file: Annotated[
        Path | None,
        Opt("--risk", help="risk configuration (TOML, [risk] table): limits, guards, protections"),
    ] = None,
    long_only: Annotated[bool, Opt("--long-only", help="never go short")] = False,
    lot_size: Annotated[str | None, Opt("--lot-size", help="round quantities to this lot")] = None,
    account_currency: Annotated[str | None, Opt("--account-currency")] = None,
    out: Annotated[Path, Opt("--out", help="folder for the trades CSV and HTML report")] = Path("reports"),
    no_report: Annotated[bool, Opt("--no-report", help="skip the CSV and HTML files")] = False,
    as_json: Annotated[bool, Opt("--json", help="print one JSON object")] = False,
    store: Annotated[Path | None, Opt("--store", help="data store folder")] = None,
    drop_nan: Annotated[bool, Opt("--drop-nan", help="drop --data rows with missing prices")] = False,
    slippage: Annotated[
        str | None, Opt("--slippage", help="none | fixed:PIPS | volume[:K] | volatility[:FRACTION]")
    ] = None,
    participation: Annotated[
        str | None, Opt("--participation", help="max fraction of a bar's volume one order fills")
    ] = None,
    latency_ms: Annotated[str | None, Opt("--latency-ms", help="SUBMIT[,CANCEL[,JITTER]] delays")] = None,
    enforce_market_hours: Annotated[
        bool, Opt("--enforce-market-hours", help="reject orders while the market is closed")
    ] = False,
    check_precision: Annotated[
        bool, Opt("--check-precision", help="venue rejects sizes/prices off the lot size or tick")
    ] = False,
) -> None:
    """Backtest a strategy with realistic costs; prints metrics and writes a trades CSV and an HTML report."""
    from traderbot.backtest.runner import BacktestSpec, run_backtest
    from traderbot.risk.config import load_risk_config
    from traderbot.strategies.registry import get_strategy

    cls = get_strategy(strategy)
    params: dict[str, Any] = parse_params(param or [])
    if long_only:
        if "long_only" not in cls.parameters():
            raise UserError(f"strategy {cls.name} has no long_only parameter")
        params["long_only"] = True
    cls(**params)  # validate names and ranges before loading data
    risk_config = load_risk_config(risk_file) if risk_file is not None else None
    sizing_text = sizing_text or (risk_config.sizing if risk_config else None) or "all_in"
    market = load_market(pair or [], timeframe, data, start, end, lot_size, account_currency, store, drop_nan)
    spec = BacktestSpec(
        strategy=cls,
        pairs=market.pairs,
        extra=market.extra,
        params=params,
        cash=dec(cash, "--cash", minimum=Decimal("0.01")),
        account_currency=account_currency,
        venue=with_realism(
            venue_from_flags(locals()),
            slippage=slippage,
            participation=participation,
            latency_ms=latency_ms,
            enforce_market_hours=enforce_market_hours,
            check_precision=check_precision,
        ),
        sizing=sizing(sizing_text),
        risk_config=risk_config,
    )
    for note in market.notes:
        print(f"note: {note}", file=sys.stderr)
    v = spec.venue
    if v.spread.pips == 0 and v.commission.is_zero and not spec.venue_has_slippage():
        print(
            "note: no spread, commission or slippage given: these results exclude trading costs "
            "(pass --spread-pips, --commission-pct, --slippage-pips)",
            file=sys.stderr,
        )
    result = run_backtest(spec)
    files: dict[str, str] = {}
    if not no_report:
        files = write_outputs(result, market, out)
    if as_json:
        payload = result.to_json_dict()
        payload["files"] = files
        sys.stdout.write(json.dumps(payload, allow_nan=False, default=str) + "\n")
        return
    print_summary(result, files)


def write_outputs(result: Any, market: Any, out: Path) -> dict[str, str]:
    from traderbot.analytics.report_html import write_html_report
    from traderbot.analytics.report_io import write_trades_csv

    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result.strategy}_{'-'.join(result.pairs)}".replace("/", "_")
    csv_path = write_trades_csv(result.trades, out / f"{stem}_trades.csv")
    prices = {inst.id: series.to_frame().set_index("ts") for inst, series in market.pairs}
    params = {
        "strategy": result.strategy,
        **{f"param {k}": str(v) for k, v in result.params.items()},
        **result.settings,
    }
    html = write_html_report(
        out / f"{stem}.html",
        title=f"{result.strategy} on {', '.join(result.pairs)}",
        equity=result.equity,
        trades=result.trades,
        prices=prices,
        metrics=result.metrics,
        params=params,
        currency=result.settings.get("account_currency", ""),
    )
    return {"trades_csv": str(csv_path), "report_html": str(html)}


def print_summary(result: Any, files: dict[str, str]) -> None:
    from rich.console import Console

    from traderbot.analytics.tables import metrics_table

    console = Console()
    console.print(
        f"[bold]{result.strategy}[/] on {', '.join(result.pairs)}: {result.bars:,} bars, "
        f"params {result.params}"
    )
    console.print(metrics_table(result.metrics))
    console.print(
        f"final equity {result.final_equity_exact} {result.settings['account_currency']} "
        f"(orders {result.orders}, denied {result.denied}, rejected {result.rejected}); "
        "all figures include the costs given"
    )
    if result.denials:
        by_check = ", ".join(f"{code} {n}" for code, n in sorted(result.denials.items(), key=lambda x: -x[1]))
        console.print(f"denied by check: {by_check}")
    for label, path in files.items():
        console.print(f"{label}: {path}")
