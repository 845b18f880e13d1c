"""One API backtest: its request checked (in the API process, before it is queued) and run (in a spawned worker
process) with the existing runner (`backtest/runner.py`) and report (`analytics/report_html.py`), as
`traderbot backtest --pair` runs it.

Bars come from the bar store layered over the bundled samples (`data: "store"`, the CLI's default), or from the
running paper service's replay dataset (`data: "service"`)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from traderbot.errors import UserError


class _DatasetStore:
    """A replay dataset seen as a store (`has`, `read`), as the loaders expect."""

    def __init__(self, spec: str, base: str | None) -> None:
        from traderbot.service.datasets import Dataset

        self.dataset = Dataset(spec, base=Path(base) if base else None)

    def has(self, pair: str, timeframe: str) -> bool:
        return self.dataset.has(pair, timeframe)

    def read(self, pair: str, timeframe: str) -> pd.DataFrame:
        return self.dataset.load(pair, timeframe).to_frame()

    def missing_message(self, pair: str, timeframe: str) -> str:
        return f"no {timeframe} bars for {pair} in the service's replay dataset ({self.dataset.describe()})"


def _store(req: dict[str, Any]) -> Any:
    if req["data"] == "service":
        return _DatasetStore(req["dataset"], req.get("dataset_base"))
    from traderbot.data.stores import open_stores

    return open_stores(None)


def _when(text: str | None, name: str) -> int | None:
    if not text:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise UserError(f"{name} {text!r} is not a date: use YYYY-MM-DD or an ISO timestamp") from None
    if ts is pd.NaT:
        raise UserError(f"{name} {text!r} is not a date: use YYYY-MM-DD or an ISO timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def check(req: dict[str, Any]) -> dict[str, Any]:
    """Everything that can be checked before running (UserError naming the problem); returns the request with
    the pair and timeframe in their canonical form."""
    from traderbot.cli._market import dec
    from traderbot.data.store import parse_timeframe
    from traderbot.model.instrument import get_instrument
    from traderbot.risk.sizing import Sizing
    from traderbot.strategies.registry import BUILTIN

    cls = BUILTIN.get(req["strategy"])
    if cls is None:
        raise UserError(f"strategy {req['strategy']!r} is not a built-in ({', '.join(sorted(BUILTIN))}): a "
                        "strategy file is backtested with `traderbot backtest --strategy file.py`")  # fmt: skip
    cls(**req["params"])  # names, types and ranges of the parameters
    try:
        pair = get_instrument(req["pair"]).id
    except KeyError:
        raise UserError(f"unknown pair {req['pair']!r}: check the spelling (e.g. EURUSD)") from None
    try:
        timeframe = parse_timeframe(req["timeframe"]).name
    except (UserError, ValueError) as exc:
        raise UserError(
            f"timeframe {req['timeframe']!r} is not valid ({exc}): use e.g. 15m, 4h, 1d"
        ) from None
    t0, t1 = _when(req.get("start"), "start"), _when(req.get("end"), "end")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise UserError("end is not after start: give a range that moves forward in time")
    dec(req["cash"], "cash", minimum=Decimal("0.01"))
    Sizing.parse(req["sizing"])
    store = _store(req)
    if not store.has(pair, timeframe):
        raise UserError(store.missing_message(pair, timeframe))
    return {**req, "pair": pair, "timeframe": timeframe}


def execute(req: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Run the backtest: (summary, the HTML report)."""
    from traderbot.analytics.report_html import write_html_report
    from traderbot.backtest.runner import BacktestSpec, run_backtest
    from traderbot.cli._market import _conversions, _cut, dec, venue_config
    from traderbot.data.series import BarSeries
    from traderbot.model.instrument import get_instrument
    from traderbot.risk.sizing import Sizing
    from traderbot.strategies.registry import BUILTIN

    store = _store(req)
    pair, tf = req["pair"], req["timeframe"]
    inst = get_instrument(pair)
    t0, t1 = _when(req.get("start"), "start"), _when(req.get("end"), "end")
    series = _cut(BarSeries.from_frame(store.read(pair, tf), pair, tf), t0, t1, f"{pair} {tf}")
    pairs = [(inst, series)]
    currency = req.get("account_currency")
    spec = BacktestSpec(
        strategy=BUILTIN[req["strategy"]], pairs=pairs, extra=_conversions(store, pairs, currency, t0, t1),
        params=dict(req["params"]), cash=dec(req["cash"], "cash", minimum=Decimal("0.01")),
        account_currency=currency, sizing=Sizing.parse(req["sizing"]),
        venue=venue_config(fill="next_open", spread_pips=req["spread_pips"], commission_pct=req["commission_pct"]),
    )  # fmt: skip
    result = run_backtest(spec)
    summary = result.to_json_dict()
    summary.pop("trade_list", None)
    summary.pop("final_equity", None)  # a float: the exact figure is final_equity_exact
    with tempfile.TemporaryDirectory() as folder:
        path = write_html_report(
            Path(folder) / "report.html", title=f"{result.strategy} on {pair} {tf}", equity=result.equity,
            trades=result.trades, prices={pair: series.to_frame().set_index("ts")}, metrics=result.metrics,
            params={"strategy": result.strategy, **{f"param {k}": str(v) for k, v in result.params.items()},
                    **result.settings},
            currency=result.settings.get("account_currency", ""),
        )  # fmt: skip
        html = path.read_text(encoding="utf-8")
    return summary, html


def _watch_parent(parent_pid: int) -> None:
    """An orphaned worker (its API process died) exits instead of working for nobody."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(70)


def child_main(req: dict[str, Any], conn: Any, parent_pid: int) -> None:
    """Entry point of the spawned worker: ("ok", summary, html) or ("error", message, traceback) on `conn`."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        summary, html = execute(req)
        conn.send(("ok", summary, html))
    except UserError as exc:
        conn.send(("error", str(exc), ""))
    except BaseException as exc:  # the worker's own failure becomes the job's, with its reason
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    conn.close()
