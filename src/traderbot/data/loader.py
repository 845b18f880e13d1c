"""Load any OHLCV file (CSV or Parquet) for a one-off backtest, e.g. `traderbot backtest --data FILE`."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from traderbot.data.importers._common import check_readable, finish_import, parse_tz
from traderbot.data.importers._fields import FieldProblems, parse_timestamps
from traderbot.data.importers.csv import TS_NAMES, import_csv, plan_columns
from traderbot.data.quality import BadRow, QualityReport
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

NAN_HINT = "fix the file or allow dropping rows with missing prices (--drop-nan)"
PARQUET_SUFFIXES = {".parquet", ".pq"}


def _parquet_frame(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise UserError(f"{path.name} is not a readable Parquet file ({exc}); check the file") from exc
    if isinstance(df.index, pd.DatetimeIndex) and not any(str(c).lower() in TS_NAMES for c in df.columns):
        df = df.reset_index(names="ts")
    if df.empty:
        raise UserError(f"file {path} has no rows; there is nothing to load")
    return df


def _stamps(col: pd.Series, tz: tzinfo, problems: FieldProblems) -> tuple[np.ndarray, list[str]]:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return np.asarray(pd.DatetimeIndex(col).tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64), []
    if str(col.dtype).startswith("datetime64"):
        from traderbot.data.importers._common import localize

        return localize(pd.DatetimeIndex(col), tz)
    return parse_timestamps(col.astype(str), problems, fmt=None, tz=tz)


def _parquet_arrays(
    path: Path, tz: tzinfo, drop_nan: bool
) -> tuple[tuple[np.ndarray, ...], list[BadRow], list[str]]:
    df = _parquet_frame(path)
    names = [str(c) for c in df.columns]
    plan = plan_columns(names, {}, path.name, raw_first=names[0])
    problems = FieldProblems()
    stamps, notes = _stamps(df[plan.ts or names[0]], tz, problems)
    prices = [pd.to_numeric(df[plan.prices[k]], errors="coerce").to_numpy(np.float64) for k in plan.prices]
    volume = (
        pd.to_numeric(df[plan.volume], errors="coerce").fillna(0.0).to_numpy(np.float64)
        if plan.volume
        else np.zeros(len(df))
    )
    nan_rows = ~np.isfinite(np.column_stack(prices)).all(axis=1)
    bad_stamp = np.zeros(len(df), dtype=bool)
    bad_stamp[list(problems.messages)] = True
    if bad_stamp.any():
        first = sorted(problems.messages)[0]
        raise UserError(f"{path.name} row {first + 1}: {problems.messages[first][0]}; fix the time stamps")
    bad = [
        BadRow(f"bar at {pd.Timestamp(int(stamps[i]), tz='UTC')}", "missing or non-finite price")
        for i in np.flatnonzero(nan_rows)
    ]
    if bad and not drop_nan:
        shown = ", ".join(b.where.removeprefix("bar at ") for b in bad[:5])
        raise UserError(f"{path.name} has {len(bad)} bar(s) with missing prices (at {shown}); {NAN_HINT}")
    keep = ~nan_rows
    return (stamps[keep], *(p[keep] for p in prices), volume[keep]), bad, notes


def load_ohlcv_file(
    path: Path | str,
    *,
    drop_nan: bool = False,
    tz: str | tzinfo | None = "UTC",
    instrument: Instrument | str | None = None,
    timeframe: str | None = None,
    calendar: str | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Canonical bars and a quality report from a CSV or Parquet file; rows are sorted and de-duplicated."""
    p = check_readable(Path(path))
    zone = parse_tz(tz)
    if p.suffix.lower() in PARQUET_SUFFIXES:
        arrays, bad, notes = _parquet_arrays(p, zone, drop_nan)
        return finish_import(
            arrays,
            source=p.name,
            instrument=instrument,
            timeframe=timeframe,
            calendar=calendar,
            bad_rows=bad,
            notes=notes,
        )
    return import_csv(
        p,
        tz=zone,
        drop_missing=drop_nan,
        instrument=instrument,
        timeframe=timeframe,
        calendar=calendar,
        hint=NAN_HINT,
    )
