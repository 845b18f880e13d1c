"""Vectorised parsing of text columns (timestamps, prices); each bad value is reported with its line."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo

import numpy as np
import pandas as pd

from traderbot.data.importers._common import localize
from traderbot.data.quality import BadRow

_AWARE_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"
_MISSING = {"", "nan", "NaN", "NAN", "na", "NA", "N/A", "null", "NULL", "None"}
PRICE_FIELDS = ("open", "high", "low", "close")


@dataclass
class FieldProblems:
    """Problems found per row index; `fatal_rows` are rows with more than a missing price."""

    messages: dict[int, list[str]] = field(default_factory=dict)
    fatal_rows: set[int] = field(default_factory=set)

    def add(self, rows: np.ndarray, make: Callable[[int], str], *, fatal: bool = True) -> None:
        """Record `make(i)` for every row index in `rows`."""
        for i in rows.tolist():
            self.messages.setdefault(i, []).append(make(i))
            if fatal:
                self.fatal_rows.add(i)

    def bad_rows_by_index(self, lines: np.ndarray) -> dict[int, BadRow]:
        """One BadRow per row index (in row order), located by its file line."""
        return {
            i: BadRow(f"line {int(lines[i])}", "; ".join(self.messages[i])) for i in sorted(self.messages)
        }


def parse_numbers(
    values: pd.Series, name: str, problems: FieldProblems, *, empty_value: float | None
) -> np.ndarray:
    """Float column; empty cells become `empty_value` or a 'missing' problem, garbage a 'not a number' one."""
    text = values.str.strip()
    nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    bad = ~np.isfinite(nums)
    if not bad.any():
        return nums
    missing = bad & text.isin(list(_MISSING)).to_numpy()
    if empty_value is not None:
        nums[missing] = empty_value
    else:
        problems.add(np.flatnonzero(missing), lambda i: f"{name} is missing", fatal=False)
    infinite = np.isinf(nums)
    garbage = bad & ~missing & ~infinite
    problems.add(np.flatnonzero(garbage), lambda i: f"{name} {text.iloc[i]!r} is not a number")
    problems.add(np.flatnonzero(infinite), lambda i: f"{name} {text.iloc[i]!r} is not a finite number")
    return nums


def _epoch_ns(nums: pd.Series) -> np.ndarray:
    scale = float(np.nanmedian(np.abs(nums.to_numpy(dtype=np.float64))))
    factor = 1 if scale >= 1e17 else 1_000 if scale >= 1e14 else 1_000_000 if scale >= 1e11 else 1_000_000_000
    return np.asarray(np.round(nums.to_numpy(dtype=np.float64) * factor), dtype=np.int64)


def _looks_like_yyyymmdd(nums: pd.Series) -> bool:
    vals = nums.dropna().to_numpy(dtype=np.float64)
    return bool(len(vals)) and bool(
        ((vals >= 19000101) & (vals <= 21001231) & (vals == np.floor(vals))).all()
    )


def _to_datetime(text: pd.Series, fmt: str | None, utc: bool) -> pd.DatetimeIndex:
    if fmt:
        return pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce", utc=utc))
    iso = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc))
    if not iso.isna().any():
        return iso
    with warnings.catch_warnings():  # pandas warns when it falls back to per-element parsing
        warnings.simplefilter("ignore")
        guessed = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", utc=utc))
    return guessed if np.count_nonzero(guessed.isna()) < np.count_nonzero(iso.isna()) else iso


def _bad_stamp_message(text: pd.Series, name: str, fmt: str | None) -> Callable[[int], str]:
    hint = f" in format {fmt!r}" if fmt else ""
    return lambda i: f"{name} {text.iloc[i]!r} is not a date/time{hint}"


def parse_timestamps(
    values: pd.Series, problems: FieldProblems, *, fmt: str | None, tz: tzinfo, name: str = "ts"
) -> tuple[np.ndarray, list[str]]:
    """UTC ns per row (0 where unreadable, recorded in `problems`); naive stamps are local to `tz`."""
    text = values.str.strip().reset_index(drop=True)
    out = np.zeros(len(text), dtype=np.int64)
    notes: list[str] = []
    empty = text.isin(list(_MISSING)).to_numpy()
    problems.add(np.flatnonzero(empty), lambda i: f"{name} is missing")
    nums = pd.to_numeric(text, errors="coerce")
    numeric = fmt is None and bool(nums[~empty].notna().all()) and not _looks_like_yyyymmdd(nums[~empty])
    if numeric and (~empty).any():
        out[~empty] = _epoch_ns(nums[~empty])
        return out, ["numeric time stamps read as UNIX epoch time"]
    if fmt is None and _looks_like_yyyymmdd(nums[~empty]):
        fmt = "%Y%m%d"
    aware = text.str.contains(_AWARE_RE, regex=True).to_numpy() & ~empty
    for mask, is_aware in ((aware, True), (~aware & ~empty, False)):
        if not mask.any():
            continue
        parsed = _to_datetime(text[mask], fmt, utc=is_aware)
        ok = ~np.asarray(parsed.isna())
        idx = np.flatnonzero(mask)
        problems.add(idx[~ok], _bad_stamp_message(text, name, fmt))
        if is_aware:
            out[idx[ok]] = np.asarray(parsed[ok].as_unit("ns").asi8, dtype=np.int64)
        else:
            ns, tz_notes = localize(parsed[ok], tz)
            out[idx[ok]] = ns
            notes += tz_notes
    return out, notes
