"""The canonical bar frame: ts (datetime64[ns, UTC], bar open time), open, high, low, close, volume."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from traderbot.errors import UserError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
COLUMNS: tuple[str, ...] = ("ts", *PRICE_COLUMNS, "volume")
TS_DTYPE = "datetime64[ns, UTC]"


@dataclass(frozen=True, slots=True)
class CanonStats:
    """What `canonicalize` had to fix: rows out of order and duplicated stamps dropped (last one kept)."""

    rows_in: int
    out_of_order: int
    duplicates_dropped: int


def empty_frame() -> pd.DataFrame:
    """A canonical frame with no rows."""
    return pd.DataFrame(
        {"ts": pd.DatetimeIndex([], tz="UTC").as_unit("ns")} | {c: np.zeros(0) for c in COLUMNS[1:]}
    )


def frame_from_arrays(
    ts_ns: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> pd.DataFrame:
    """Build a canonical-typed frame from int64 ns stamps and float arrays (no checks)."""
    ts = pd.DatetimeIndex(np.asarray(ts_ns, dtype="datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame(
        {
            "ts": ts,
            "open": np.asarray(o, dtype=np.float64),
            "high": np.asarray(h, dtype=np.float64),
            "low": np.asarray(lo, dtype=np.float64),
            "close": np.asarray(c, dtype=np.float64),
            "volume": np.asarray(v, dtype=np.float64),
        }
    )


def ts_ns(df: pd.DataFrame) -> np.ndarray:
    """The ts column as int64 nanoseconds since the epoch (UTC)."""
    col = df["ts"]
    if isinstance(col.dtype, pd.DatetimeTZDtype) or str(col.dtype).startswith("datetime64"):
        return np.asarray(pd.DatetimeIndex(col).as_unit("ns").asi8, dtype=np.int64)
    raise UserError(
        f"column 'ts' has type {col.dtype}, not a timestamp; convert it with pd.to_datetime first"
    )


def _coerce_ts(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC").dt.as_unit("ns")
    if str(col.dtype).startswith("datetime64"):
        return col.dt.tz_localize("UTC").dt.as_unit("ns")
    raise UserError(
        f"column 'ts' has type {col.dtype}, not a timestamp; convert it with pd.to_datetime first"
    )


def _coerce_numbers(df: pd.DataFrame, out: dict[str, object]) -> None:
    for name in COLUMNS[1:]:
        col = df[name]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            raise UserError(f"column {name!r} has type {col.dtype}, not numbers; convert it to float first")
        out[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)


def _nan_rows_message(df: pd.DataFrame, bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    shown = ", ".join(str(df["ts"].iloc[i]) for i in idx[:5])
    more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
    return f"{len(idx)} bar(s) have missing (NaN) prices at {shown}{more}; drop or fill them before storing"


def validate_frame(df: pd.DataFrame, *, allow_nan: bool = False) -> pd.DataFrame:
    """Check canonical invariants (columns, types, sorted unique ts, no NaN prices); return a clean copy."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"bar data lacks column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    out: dict[str, object] = {"ts": _coerce_ts(df["ts"]).reset_index(drop=True)}
    _coerce_numbers(df, out)
    frame = pd.DataFrame(out)
    if frame["ts"].isna().any():
        raise UserError("column 'ts' has missing timestamps; drop those rows before storing")
    stamps = ts_ns(frame)
    steps = np.diff(stamps)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0])
        what = "duplicated" if steps[i] == 0 else "out of order"
        raise UserError(
            f"timestamps are {what} at {frame['ts'].iloc[i + 1]}; "
            "sort and de-duplicate them with canonicalize() first"
        )
    if not allow_nan:
        bad = np.isnan(frame[list(PRICE_COLUMNS)].to_numpy()).any(axis=1)
        if bad.any():
            raise UserError(_nan_rows_message(frame, bad))
    frame["volume"] = frame["volume"].fillna(0.0)
    return frame


def canonicalize(df: pd.DataFrame, *, allow_nan: bool = False) -> tuple[pd.DataFrame, CanonStats]:
    """Sort by ts (stable), drop duplicated stamps keeping the last, then validate."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"bar data lacks column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    ts = _coerce_ts(df["ts"])
    stamps = np.asarray(pd.DatetimeIndex(ts).asi8, dtype=np.int64)
    rows = len(stamps)
    out_of_order = int((np.diff(stamps) < 0).sum()) if rows > 1 else 0
    work = df.reset_index(drop=True)
    if out_of_order:
        order = np.argsort(stamps, kind="stable")
        work = work.iloc[order].reset_index(drop=True)
        stamps = stamps[order]
    dup = np.zeros(rows, dtype=bool)
    if rows > 1:
        dup[:-1] = stamps[1:] == stamps[:-1]  # an earlier row with the same stamp as the next one
    if dup.any():
        work = work.loc[~dup].reset_index(drop=True)
    stats = CanonStats(rows_in=rows, out_of_order=out_of_order, duplicates_dropped=int(dup.sum()))
    return validate_frame(work, allow_nan=allow_nan), stats
