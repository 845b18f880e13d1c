"""Import a file into a store: parse with the chosen importer, assess quality, write atomically."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow.parquet as pq

from traderbot.data.importers._common import check_readable
from traderbot.data.importers.csv import import_csv
from traderbot.data.importers.histdata import DEFAULT_TZ, import_histdata
from traderbot.data.importers.oanda import import_oanda
from traderbot.data.importers.table import first_line
from traderbot.data.quality import QualityReport
from traderbot.data.store import ParquetBarStore, normalize_instrument
from traderbot.data.stores import LayeredStore
from traderbot.errors import UserError

FORMATS = ("histdata", "oanda", "csv")
_HISTDATA_LINE = re.compile(r"^\d{8} \d{6}[;,]")


def detect_format(path: Path | str) -> str:
    """Guess the format: .json -> oanda, 'YYYYMMDD HHMMSS;' lines -> histdata, anything else -> csv."""
    p = check_readable(Path(path))
    if p.suffix.lower() == ".json":
        return "oanda"
    return "histdata" if _HISTDATA_LINE.match(first_line(p)) else "csv"


@dataclass(frozen=True)
class ImportOptions:
    """Format options: time zone of naive stamps, CSV column map and date format, OANDA price side."""

    tz: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    price: str = "mid"
    skip_bad_rows: bool = False
    calendar: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """Where the bars went, how many the series now holds, and the quality report of the imported bars."""

    path: Path
    instrument: str
    timeframe: str
    rows_imported: int
    rows_stored: int
    report: QualityReport


def read_source(
    path: Path | str, fmt: str, *, instrument: str | None, timeframe: str | None, options: ImportOptions
) -> tuple[pd.DataFrame, QualityReport]:
    """Parse a file with the importer for `fmt` (histdata, oanda or csv)."""
    kind = fmt.strip().lower()
    inst, tf, cal, skip = instrument, timeframe, options.calendar, options.skip_bad_rows
    if kind == "histdata":
        return import_histdata(
            path,
            tz=options.tz or DEFAULT_TZ,
            skip_bad_rows=skip,
            instrument=inst,
            timeframe=tf or "1m",
            calendar=cal,
        )
    if kind == "oanda":
        if options.tz:
            raise UserError("OANDA candle times carry their own zone; drop --tz for --format oanda")
        return import_oanda(
            path, price=options.price, skip_bad_rows=skip, instrument=inst, timeframe=tf, calendar=cal
        )
    if kind == "csv":
        return import_csv(
            path,
            mapping=options.mapping,
            date_format=options.date_format,
            tz=options.tz or "UTC",
            skip_bad_rows=skip,
            instrument=inst,
            timeframe=tf,
            calendar=cal,
        )
    raise UserError(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")


def import_file(
    store: ParquetBarStore | LayeredStore,
    path: Path | str,
    fmt: str,
    *,
    instrument: str | None,
    timeframe: str | None = None,
    options: ImportOptions | None = None,
    mode: Literal["merge", "replace"] = "merge",
) -> ImportResult:
    """Import one file into `store` (merge by default); nothing is written when the file is refused."""
    opts = options or ImportOptions()
    df, report = read_source(path, fmt, instrument=instrument, timeframe=timeframe, options=opts)
    key = instrument or report.instrument
    if not key:
        raise UserError("no instrument given; pass --instrument ID (e.g. EURUSD)")
    if report.timeframe is None:
        raise UserError("cannot tell the timeframe of a single bar; pass --timeframe (e.g. 1m, 15m, 1d)")
    src = Path(path).resolve()
    provenance = {
        "source_file": str(src),
        "source_bytes": src.stat().st_size,
        "format": fmt.lower(),
        "options": {k: v for k, v in asdict(opts).items() if v not in (None, {}, False)},
        "rows_imported": len(df),
        "bad_rows_skipped": len(report.bad_rows),
        "duplicates_dropped": report.duplicates,
    }
    written = store.write(key, report.timeframe, df, mode=mode, provenance=provenance)
    stored = pq.read_metadata(written).num_rows
    return ImportResult(written, normalize_instrument(key), report.timeframe, len(df), stored, report)
