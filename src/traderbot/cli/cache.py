"""`traderbot cache ...`: status, validation, repair and refresh of the validated market-data cache."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from traderbot.data.cache_repair import BrokerCandleSource, CandleSource, RepairResult, StoreCandleSource
from traderbot.data.cache_validate import CacheHealth
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore, to_utc_timestamp
from traderbot.data.stores import user_store_dir
from traderbot.errors import UserError

app = typer.Typer(
    name="cache",
    help="The validated market-data cache: status, validate, repair and refresh cached bars per pair.",
    no_args_is_help=True,
    add_completion=False,
)

T = TypeVar("T")
STORE_HELP = "Cache store folder (default: $TRADERBOT_DATA_DIR/store or ./traderbot_data/store)."
NOW_HELP = "Clock for the checks, ISO UTC, e.g. 2023-08-16T12:00Z (default: now)."
SOURCE_HELP = "Where bars come from: store:PATH (a reference store), oanda, alpaca, ccxt:<id>, ninjatrader."
PAIRS_ARG = typer.Argument(None, help="Pairs, e.g. EURUSD GBPUSD (default: every cached pair).")
TF_OPT = typer.Option("1m", "--timeframe", "-t", help="Bar length, e.g. 1m.")
STORE_OPT = typer.Option(None, "--store", help=STORE_HELP)
NOW_OPT = typer.Option(None, "--now", help=NOW_HELP)
JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _cache(store: Path | None, now: str | None) -> MarketDataCache:
    """The cache over the chosen store with a fixed (--now) or real-time clock."""
    root = store if store is not None else user_store_dir()
    fixed = to_utc_timestamp(now)
    clock: Callable[[], int] = time.time_ns if fixed is None else (lambda: int(fixed.value))
    return MarketDataCache(ParquetBarStore(root), now_ns=clock)


def _ts(ns: int | None) -> str:
    return "-" if ns is None else pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _health_table(rows: list[CacheHealth], title: str) -> Table:
    table = Table(title=title, show_lines=True)
    for name, justify in (
        ("pair", "left"),
        ("tf", "left"),
        ("valid", "left"),
        ("score", "right"),
        ("last bar (UTC)", "left"),
        ("checksum", "left"),
        ("reasons", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "reasons")  # type: ignore[arg-type]
    for h in rows:
        table.add_row(
            h.instrument,
            h.timeframe,
            "[green]yes[/green]" if h.valid else "[red]NO[/red]",
            f"{h.score:.1f}",
            _ts(h.last_bar_ns),
            h.checksum,
            "\n".join(h.reasons) or "-",
        )
    return table


def _print_health(rows: list[CacheHealth], as_json: bool, now_ns: int) -> None:
    if as_json:
        typer.echo(json.dumps([h.to_dict() for h in rows], indent=2))
        return
    Console(width=160).print(_health_table(rows, f"Market-data cache at {_ts(now_ns)} UTC"))


@app.command("status")
def status_cmd(
    pairs: list[str] | None = PAIRS_ARG,
    timeframe: str = TF_OPT,
    store: Path | None = STORE_OPT,
    now: str | None = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Quick health of cached pairs (files are re-hashed only when they changed size or time)."""
    cache = _cache(store, now)
    _print_health(cache.status(pairs or None, timeframe), as_json, cache.now_ns())


@app.command("validate")
def validate_cmd(
    pairs: list[str] | None = PAIRS_ARG,
    record: bool = typer.Option(
        False, "--record", help="First record checksums of files that have none (mismatches stay)."
    ),
    timeframe: str = TF_OPT,
    store: Path | None = STORE_OPT,
    now: str | None = NOW_OPT,
    as_json: bool = JSON_OPT,
    db: str | None = typer.Option(
        None,
        "--db",
        help="Also stop trading pairs whose cache is invalid in the pair registry of this database.",
    ),
) -> None:
    """Full validation (re-hashing every file); exits 1 when any pair is invalid. With --db, a pair that is
    trading with an invalid cache is moved out of trading (to ready), with the reasons in its history."""
    cache = _cache(store, now)
    chosen = cache.resolve_pairs(pairs or None, timeframe)
    if record:
        for pair in chosen:
            cache.record(pair, timeframe)
    rows = [cache.validate(pair, timeframe) for pair in chosen]
    _print_health(rows, as_json, cache.now_ns())
    if db is not None:
        _stop_invalid(db, [h for h in rows if not h.valid])
    if not all(h.valid for h in rows):
        raise SystemExit(1)  # typer.Exit is swallowed by standalone_mode=False in traderbot.cli.main


def _follow(cache: MarketDataCache, pairs: list[str] | None, timeframe: str, source: str, every: timedelta,
            lead: timedelta, db: str | None) -> None:  # fmt: skip
    from traderbot.data.cache_refresher import CacheRefresher, RoundResult
    from traderbot.data.cache_schedule import RefreshSchedule

    schedule = RefreshSchedule(every=every, lead_before_open=lead)  # checked before anything runs
    chosen = cache.resolve_pairs(pairs or None, timeframe)

    def report(result: RoundResult) -> None:
        for r in result.refreshed:
            typer.echo(f"{_ts(cache.now_ns())} UTC {r.message}")
        if db is not None:
            _stop_invalid(db, [h for h in result.health if not h.valid])
        typer.echo(f"next refresh {_ts(result.next_due_ns)} UTC")

    async def loop(src: CandleSource) -> None:
        await CacheRefresher(cache, src, chosen, timeframe=timeframe, schedule=schedule).run(
            cache.now_ns, on_round=report
        )

    try:
        _run_with_source(source, loop)
    except KeyboardInterrupt:
        typer.echo("stopped")


def _stop_invalid(db: str, invalid: list[CacheHealth]) -> None:
    from traderbot.cli.orders import database_url
    from traderbot.pairs.lifecycle import PairState
    from traderbot.pairs.registry import PairRegistry
    from traderbot.store.db import open_engine

    registry = PairRegistry(open_engine(database_url(db, must_exist=False)))
    for h in invalid:
        rec = registry.find(h.instrument)
        if rec is not None and rec.state is PairState.TRADING and rec.timeframe == h.timeframe:
            registry.mark_cache_invalid(rec.pair, "market-data cache invalid: " + "; ".join(h.failures))
            print(f"{rec.pair}: stopped trading (cache invalid)", file=sys.stderr)


def _run_with_source(spec: str, body: Callable[[CandleSource], Coroutine[Any, Any, T]]) -> T:
    """Run `body(source)` in an event loop; a broker source is connected first and closed afterwards."""
    kind, _, arg = spec.partition(":")
    if kind == "store":
        if not arg or not Path(arg).is_dir():
            raise UserError(
                f"--source {spec!r}: no store folder at {arg!r}; use store:PATH with an existing folder"
            )
        source = StoreCandleSource(ParquetBarStore(Path(arg), read_only=True, name="reference"))
        return asyncio.run(body(source))
    from traderbot.brokers.factory import create_broker

    broker = create_broker(spec)

    async def main() -> T:
        await broker.connect()
        try:
            return await body(BrokerCandleSource(broker))
        finally:
            await broker.close()

    return asyncio.run(main())


@app.command("repair")
def repair_cmd(
    pairs: list[str] = typer.Argument(..., help="Pairs to repair, e.g. EURUSD."),
    source: str = typer.Option(..., "--source", help=SOURCE_HELP),
    timeframe: str = TF_OPT,
    store: Path | None = STORE_OPT,
    now: str | None = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Re-fetch missing or corrupt bars and swap the file in atomically; quarantine what stays invalid.
    Exits 1 when any pair is still invalid."""
    cache = _cache(store, now)

    async def body(src: CandleSource) -> list[RepairResult]:
        return [await cache.repair(pair, timeframe, src) for pair in pairs]

    results = _run_with_source(source, body)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        _print_health([r.after for r in results], False, cache.now_ns())
        for r in results:
            typer.echo(f"{r.instrument} {r.timeframe}: {r.action}; {r.message}")
    if not all(r.after.valid for r in results):
        raise SystemExit(1)  # typer.Exit is swallowed by standalone_mode=False in traderbot.cli.main


@app.command("refresh")
def refresh_cmd(
    pairs: list[str] | None = PAIRS_ARG,
    source: str = typer.Option(..., "--source", help=SOURCE_HELP),
    timeframe: str = TF_OPT,
    store: Path | None = STORE_OPT,
    now: str | None = NOW_OPT,
    as_json: bool = JSON_OPT,
    follow: bool = typer.Option(
        False,
        "--follow",
        help="Keep refreshing on the schedule (every --every while open, --lead before the open).",
    ),
    every_min: float = typer.Option(
        15.0, "--every", help="Minutes between refreshes while the market is open."
    ),
    lead_min: float = typer.Option(
        15.0, "--lead", help="Minutes before the market opens for the pre-open refresh."
    ),
    db: str | None = typer.Option(
        None, "--db", help="With --follow: stop trading pairs whose cache goes bad."
    ),
) -> None:
    """Append bars from each pair's last cached bar up to now; with --follow, keep doing it on the schedule
    (and validate after each refresh) until interrupted."""
    cache = _cache(store, now)
    if follow:
        _follow(
            cache, pairs, timeframe, source, timedelta(minutes=every_min), timedelta(minutes=lead_min), db
        )
        return
    results = _run_with_source(source, lambda src: cache.refresh(pairs or None, timeframe, src))
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    for r in results:
        typer.echo(f"{r.message}; last bar {_ts(r.last_bar_ns)} UTC")
