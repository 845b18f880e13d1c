"""`traderbot data ...`: import files into the bar store, list and inspect it, resample series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from traderbot.data.importers.csv import parse_mapping
from traderbot.data.ingest import FORMATS, ImportOptions, detect_format, import_file
from traderbot.data.quality import QualityReport, quality_report
from traderbot.data.resample import resample
from traderbot.data.store import StoreEntry, normalize_instrument, parse_timeframe
from traderbot.data.stores import LayeredStore, open_stores
from traderbot.errors import UserError

app = typer.Typer(
    name="data",
    help="Market data: import files into the store, list and inspect stored bars, resample them.",
    no_args_is_help=True,
    add_completion=False,
)

STORE_HELP = "Store folder (default: $TRADERBOT_DATA_DIR/store or ./traderbot_data/store)."


def _stores(store: Path | None) -> LayeredStore:
    return open_stores(store)


def _mode(mode: str) -> Literal["merge", "replace"]:
    if mode not in ("merge", "replace"):
        raise UserError(f"unknown --mode {mode!r}; use merge (keep existing bars) or replace")
    return "merge" if mode == "merge" else "replace"


def _print_report(report: QualityReport, as_json: bool, max_gaps: int = 10) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict(max_gaps), indent=2))
    else:
        typer.echo(report.to_text(max_gaps))


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(
        ..., help="File to import (HistData ASCII, OANDA candles JSON or OHLCV CSV)."
    ),
    instrument: str | None = typer.Option(None, "--instrument", "-i", help="Instrument id, e.g. EURUSD."),
    timeframe: str | None = typer.Option(None, "--timeframe", "-t", help="Bar length, e.g. 1m, 15m, 1d."),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help=f"One of {', '.join(FORMATS)} (default: guess)."
    ),
    tz: str | None = typer.Option(
        None, "--tz", help="Zone of naive stamps: IANA name or offset like -05:00."
    ),
    mapping: str | None = typer.Option(
        None, "--map", help="CSV columns, e.g. ts=Date,open=Open,close=Close."
    ),
    date_format: str | None = typer.Option(
        None, "--date-format", help="strftime format, e.g. %d.%m.%Y %H:%M."
    ),
    price: str = typer.Option("mid", "--price", help="OANDA price component: mid, bid or ask."),
    skip_bad_rows: bool = typer.Option(
        False, "--skip-bad-rows", help="Drop malformed rows (listed) instead."
    ),
    calendar: str | None = typer.Option(None, "--calendar", help="Calendar for gaps: fx, 24/7 or e.g. XNYS."),
    mode: str = typer.Option("merge", "--mode", help="merge (new bars win on equal stamps) or replace."),
    store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the quality report as JSON."),
) -> None:
    """Import a file into the store (atomically) and print its quality report."""
    kind = (fmt or detect_format(file)).lower()
    options = ImportOptions(
        tz=tz,
        mapping=parse_mapping(mapping),
        date_format=date_format,
        price=price,
        skip_bad_rows=skip_bad_rows,
        calendar=calendar,
    )
    target = _stores(store)
    result = import_file(
        target, file, kind, instrument=instrument, timeframe=timeframe, options=options, mode=_mode(mode)
    )
    _print_report(result.report, as_json)
    if not as_json:
        typer.echo(
            f"imported {result.rows_imported:,} {result.timeframe} bars of {result.instrument} ({kind}) "
            f"into {result.path}; the series now holds {result.rows_stored:,} bars"
        )


def _entries_table(entries: list[StoreEntry]) -> Table:
    table = Table(title="Stored bar series", show_lines=False)
    for name, justify in (
        ("instrument", "left"),
        ("timeframe", "left"),
        ("rows", "right"),
        ("first (UTC)", "left"),
        ("last (UTC)", "left"),
        ("size", "right"),
        ("source", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for e in entries:
        first = e.first.strftime("%Y-%m-%d %H:%M") if e.first is not None else "-"
        last = e.last.strftime("%Y-%m-%d %H:%M") if e.last is not None else "-"
        size = (
            f"{e.size_bytes / 1_048_576:.2f} MB"
            if e.size_bytes >= 100_000
            else f"{e.size_bytes / 1024:.1f} kB"
        )
        table.add_row(e.instrument, e.timeframe, f"{e.rows:,}", first, last, size, e.source)
    return table


@app.command("list")
def list_cmd(
    store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List stored series: your store first, then the bundled sample data."""
    stores = _stores(store)
    entries = stores.list()
    if as_json:
        rows = [
            {
                "instrument": e.instrument,
                "timeframe": e.timeframe,
                "rows": e.rows,
                "first": e.first.isoformat() if e.first is not None else None,
                "last": e.last.isoformat() if e.last is not None else None,
                "size_bytes": e.size_bytes,
                "source": e.source,
                "path": str(e.path),
            }
            for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    Console(width=120).print(_entries_table(entries))
    typer.echo(f"user store: {stores.user.root}")


@app.command("inspect")
def inspect_cmd(
    instrument: str = typer.Argument(..., help="Instrument id, e.g. EURUSD."),
    timeframe: str = typer.Option(..., "--timeframe", "-t", help="Stored timeframe, e.g. 1m or 15m."),
    start: str | None = typer.Option(None, "--start", help="First bar open time (UTC), e.g. 2023-01-01."),
    end: str | None = typer.Option(None, "--end", help="Stop before this time (UTC)."),
    calendar: str | None = typer.Option(None, "--calendar", help="Calendar for gaps: fx, 24/7 or e.g. XNYS."),
    gaps: int = typer.Option(10, "--gaps", help="How many of the largest gaps to list."),
    store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the quality report as JSON."),
) -> None:
    """Print the quality report of stored bars."""
    stores = _stores(store)
    tf = parse_timeframe(timeframe).name
    layer = stores.locate(instrument, tf)
    df = layer.read(instrument, tf, start, end)
    if len(df) == 0:
        raise UserError(f"no {tf} bars of {instrument} between {start} and {end}; widen --start/--end")
    history = layer.history(instrument, tf)
    notes = [f"last write: {json.dumps(history[-1], default=str)}"] if history else []
    report = quality_report(
        df,
        timeframe=tf,
        instrument=normalize_instrument(instrument),
        calendar=calendar,
        source=f"{layer.name} store {layer.path_for(instrument, tf)}",
        notes=notes,
    )
    _print_report(report, as_json, gaps)


@app.command("resample")
def resample_cmd(
    instrument: str = typer.Argument(..., help="Instrument id, e.g. EURUSD."),
    from_tf: str = typer.Option(..., "--from", help="Stored source timeframe, e.g. 1m."),
    to_tf: str = typer.Option(..., "--to", help="Target timeframe, a multiple of --from (at most 1d)."),
    calendar: str | None = typer.Option(
        None, "--calendar", help="Trading-day calendar for 1d: fx, 24/7, XNYS."
    ),
    mode: str = typer.Option("merge", "--mode", help="merge (new bars win on equal stamps) or replace."),
    store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Resample a stored series and write the result into your store."""
    stores = _stores(store)
    src, dst = parse_timeframe(from_tf).name, parse_timeframe(to_tf).name
    df = stores.read(instrument, src)
    out = resample(df, src, dst, instrument=normalize_instrument(instrument), calendar=calendar)
    provenance = {
        "derived_from": f"{normalize_instrument(instrument)} {src}",
        "operation": f"resample {src}->{dst}",
    }
    path = stores.write(instrument, dst, out, mode=_mode(mode), provenance=provenance)
    typer.echo(
        f"resampled {len(df):,} {src} bars into {len(out):,} {dst} bars of "
        f"{normalize_instrument(instrument)}; wrote {path}"
    )
