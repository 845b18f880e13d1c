"""Causal views a strategy reads: bars and indicators truncated to what has closed by now.

A strategy never holds a full array: `BarView.close` is `close[:n]` where n counts the bars closed so far,
and an indicator computed over the whole series is exposed the same way after a causality check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from traderbot.data.series import BarSeries


class Column(np.ndarray):
    """An (initially empty) column handed to strategies in `on_start`: it names the data for `Strategy.I`."""

    series_idx: int
    field: str

    @staticmethod
    def make(arr: np.ndarray, series_idx: int, field: str) -> Column:
        col = arr.view(Column)
        col.series_idx = series_idx
        col.field = field
        return col

    def __array_finalize__(self, obj: object) -> None:
        self.series_idx = getattr(obj, "series_idx", -1)
        self.field = getattr(obj, "field", "")


class BarView:
    """Bars of one series visible now. `len(view)` is the number of closed bars; `view.close[-1]` the last."""

    __slots__ = ("_count", "_idx", "_series")

    def __init__(self, series: BarSeries, idx: int, count: Callable[[], int]) -> None:
        self._series = series
        self._idx = idx
        self._count = count

    @property
    def instrument_id(self) -> str:
        return self._series.instrument_id

    @property
    def series_idx(self) -> int:
        return self._idx

    def rebind(self, series: BarSeries, count: Callable[[], int]) -> None:
        """Point at a grown series (live trading appends closed bars); the rows already visible are unchanged."""
        self._series = series
        self._count = count

    @property
    def timeframe(self) -> str:
        return self._series.timeframe.name

    def __len__(self) -> int:
        return self._count()

    def _col(self, name: str) -> np.ndarray:
        arr: np.ndarray = getattr(self._series, name)
        return Column.make(arr[: self._count()], self._idx, name)

    @property
    def ts(self) -> np.ndarray:
        return self._col("ts")

    @property
    def open(self) -> np.ndarray:
        return self._col("open")

    @property
    def high(self) -> np.ndarray:
        return self._col("high")

    @property
    def low(self) -> np.ndarray:
        return self._col("low")

    @property
    def close(self) -> np.ndarray:
        return self._col("close")

    @property
    def volume(self) -> np.ndarray:
        return self._col("volume")


class IndicatorView:
    """An indicator series truncated to the bars closed so far; `ind[-1]` is the latest value."""

    __slots__ = ("__weakref__", "_arr", "_count", "_list", "_vidx", "_vis", "name")

    def __init__(
        self,
        arr: np.ndarray,
        count: Callable[[], int],
        name: str,
        visible: tuple[list[int], int] | None = None,
    ) -> None:
        self._arr = arr
        self._count = count
        self.name = name
        # fast path: read the kernel's visible-bar counter directly instead of calling `count`
        self._vis: list[int] | None
        self._vis, self._vidx = visible if visible is not None else (None, 0)
        self._list: list[Any] | None = None  # the values handed out by `cursor`, kept in step by `swap`

    def __len__(self) -> int:
        return self._count() if self._vis is None else self._vis[self._vidx]

    def __getitem__(self, key: Any) -> Any:
        n = self._count() if self._vis is None else self._vis[self._vidx]
        if key.__class__ is int:
            if key < 0:
                key += n
            if not 0 <= key < n:
                raise IndexError(f"indicator {self.name}: index out of the {n} bars seen so far")
            return self._arr[key]
        return self._arr[:n][key]

    @property
    def values(self) -> np.ndarray:
        return self._arr[: len(self)]

    def cursor(self) -> tuple[list[Any], list[int], int] | None:
        """(all values as a list, the kernel's visible-bar counters, this series' index) for hot loops that
        read `values[counters[index] - 1]`; None when the view has no direct counter."""
        if self._vis is None:
            return None
        if self._list is None:
            self._list = self._arr.tolist()
        return self._list, self._vis, self._vidx

    def swap(self, arr: np.ndarray) -> None:
        """Take the values computed again on a grown series (the caller has checked the seen rows are equal);
        a list handed out by `cursor` grows in place, so a strategy holding it reads the new rows too."""
        if self._list is not None:
            self._list.extend(arr[len(self._list) :].tolist())
        self._arr = arr

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        v = self.values
        return v.astype(dtype) if dtype is not None else v
