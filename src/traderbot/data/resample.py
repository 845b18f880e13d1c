"""Aggregate bars to a longer timeframe (open first, high max, low min, close last, volume sum)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traderbot.data.frame import frame_from_arrays, ts_ns, validate_frame
from traderbot.data.sessions import DAY_NS, resolve_calendar, session_labels
from traderbot.data.store import parse_timeframe
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument
from traderbot.model.timeframe import Timeframe


def _check_timeframes(from_tf: Timeframe, to_tf: Timeframe) -> None:
    if to_tf.ns <= from_tf.ns:
        raise UserError(
            f"cannot resample {from_tf} to {to_tf}: only longer timeframes can be built; "
            "pick a --to longer than --from"
        )
    if to_tf.ns % from_tf.ns:
        raise UserError(
            f"cannot resample {from_tf} to {to_tf}: {to_tf} is not a whole multiple of {from_tf}; "
            "pick a multiple"
        )
    if to_tf.ns > DAY_NS:
        raise UserError(
            f"cannot resample to {to_tf}: timeframes longer than 1d are not supported; use 1d or less"
        )


def _check_spacing(stamps: np.ndarray, from_tf: Timeframe) -> None:
    steps = np.diff(stamps)
    if len(steps) and steps.min() < from_tf.ns:
        i = int(np.argmin(steps))
        at = pd.Timestamp(int(stamps[i + 1]), tz="UTC")
        raise UserError(
            f"the data is finer than {from_tf} (bars {pd.Timedelta(int(steps[i]))} apart at {at}); "
            "pass the timeframe the data really has as --from"
        )


def bin_labels(stamps: np.ndarray, to_tf: Timeframe, calendar: str) -> np.ndarray:
    """Bin open time (UTC ns) for each bar: epoch multiples intraday, the session's label for 1d."""
    if to_tf.ns == DAY_NS:
        return session_labels(stamps, calendar)
    return stamps // to_tf.ns * to_tf.ns


def aggregate(df: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """OHLCV per run of equal labels (labels must be non-decreasing, as they are for sorted bars)."""
    if len(df) == 0:
        return df.iloc[:0].copy()
    if (np.diff(labels) < 0).any():
        raise UserError("bars must be sorted by time before resampling; canonicalize the data first")
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)] - 1
    o, h, lo, c, v = (df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))
    return frame_from_arrays(
        labels[starts],
        o[starts],
        np.maximum.reduceat(h, starts),
        np.minimum.reduceat(lo, starts),
        c[ends],
        np.add.reduceat(v, starts),
    )


def resample(
    df: pd.DataFrame,
    from_tf: str | Timeframe,
    to_tf: str | Timeframe,
    *,
    instrument: Instrument | str | None = None,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Resample canonical bars to a longer timeframe, labelled by bin open time; empty bins are skipped.

    Intraday bins align to UTC epoch multiples; 1d bins follow the calendar's trading day (FX: 17:00 NY).
    """
    src = parse_timeframe(from_tf) if isinstance(from_tf, str) else from_tf
    dst = parse_timeframe(to_tf) if isinstance(to_tf, str) else to_tf
    _check_timeframes(src, dst)
    frame = validate_frame(df)
    stamps = ts_ns(frame)
    _check_spacing(stamps, src)
    cal_name, _ = resolve_calendar(instrument, calendar)
    return aggregate(frame, bin_labels(stamps, dst, cal_name))
