"""`traderbot demo` (what `make run` runs until the live service exists): a portfolio backtest on the bundled
OANDA M15 sample data, with realistic costs, writing the trades CSV and the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from traderbot.cli.backtest import backtest


def demo(
    out: Annotated[Path, typer.Option("--out", help="folder for the report")] = Path("reports"),
    strategy: Annotated[str, typer.Option("--strategy")] = "sma_cross",
) -> None:
    """Backtest a built-in strategy on EURUSD, GBPUSD and AUDUSD 15m sample data and write its report."""
    backtest(
        strategy=strategy,
        pair=["EURUSD", "GBPUSD", "AUDUSD"],
        timeframe="15m",
        start=None,
        end=None,
        param=["fast=20", "slow=80"] if strategy == "sma_cross" else [],
        data=None,
        cash="100000",
        commission_pct="0.002",
        commission_per_unit="0",
        commission_per_order="0",
        commission_min="0",
        spread_pips="1.0",
        slippage_pips="0.2",
        price_side="mid",
        financing_long="0",
        financing_short="0",
        fill="next_open",
        sizing_text="all_in",
        long_only=False,
        lot_size=None,
        account_currency="USD",
        out=out,
        no_report=False,
        as_json=False,
        store=None,
        drop_nan=False,
    )
