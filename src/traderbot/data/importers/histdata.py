"""HistData.com M1 ASCII importer: `YYYYMMDD HHMMSS;O;H;L;C;V`, stamped in EST without DST (UTC-5)."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from traderbot.data.importers._common import check_readable, finish_import, localize, parse_tz
from traderbot.data.importers.csv import ColumnPlan, parse_cells
from traderbot.data.importers.table import first_line, read_text_table
from traderbot.data.quality import BadRow, QualityReport
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

DEFAULT_TZ = "-05:00"
STAMP_FORMAT = "%Y%m%d %H%M%S"
NAMES = ["dt", "open", "high", "low", "close", "volume"]
_PLAN = ColumnPlan(ts="dt", date=None, time=None, prices={k: k for k in NAMES[1:5]}, volume="volume")


def _delimiter(path: Path) -> str:
    line = first_line(path)
    if ";" in line:
        return ";"
    if "," in line:
        return ","
    raise UserError(
        f"{path.name} does not look like HistData M1 ASCII (first line {line[:60]!r}); "
        "expected lines like '20230102 170000;1.07012;1.07022;1.07003;1.07018;0'"
    )


def _fast_parse(path: Path, delimiter: str) -> tuple[pd.DatetimeIndex, list[np.ndarray]] | None:
    """Typed parse with pyarrow; None when any line is malformed (the slow path then finds it)."""
    types = {"dt": pa.timestamp("ns")} | {name: pa.float64() for name in NAMES[1:]}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=NAMES, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=types, timestamp_parsers=[STAMP_FORMAT], strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    cols = [table.column(n) for n in NAMES]
    if any(c.null_count for c in cols):
        return None
    values = [c.to_numpy() for c in cols[1:]]
    if not all(np.isfinite(v).all() for v in values):
        return None
    return pd.DatetimeIndex(cols[0].to_numpy()), values


def import_histdata(
    path: Path | str,
    *,
    tz: str | tzinfo | None = DEFAULT_TZ,
    skip_bad_rows: bool = False,
    instrument: Instrument | str | None = None,
    timeframe: str | None = "1m",
    calendar: str | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Import HistData M1 ASCII (';' or ',' separated); stamps go from `tz` (default UTC-5) to UTC."""
    p = check_readable(Path(path))
    zone = parse_tz(tz)
    delimiter = _delimiter(p)
    parsed = _fast_parse(p, delimiter)
    notes = [f"source stamps read as {zone} and converted to UTC"]
    if parsed is not None:
        stamps, tz_notes = localize(parsed[0], zone)
        arrays: tuple[np.ndarray, ...] = (stamps, *parsed[1])
        skipped: list[BadRow] = []
        notes += tz_notes
    else:
        table = read_text_table(p, NAMES, delimiter, has_header=False)
        arrays, skipped, more = parse_cells(
            table, _PLAN, fmt=STAMP_FORMAT, tz=zone, source=p.name, skip_bad_rows=skip_bad_rows
        )
        notes += more
    return finish_import(
        arrays,
        source=p.name,
        instrument=instrument,
        timeframe=timeframe,
        calendar=calendar,
        bad_rows=skipped,
        notes=notes,
    )
