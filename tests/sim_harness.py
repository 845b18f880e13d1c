"""Shared pieces for tests that drive the kernel bar by bar with hand-made hourly bars and scripted actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pandas as pd

from traderbot.data.series import BarSeries
from traderbot.model.data import Bar
from traderbot.strategies.base import Strategy

T0 = pd.Timestamp("2024-01-01", tz="UTC").value
HOUR = 3_600_000_000_000

Row = tuple[float, float, float, float]  # open, high, low, close
Action = Callable[[Strategy], object]


def bars(
    instrument_id: str, rows: list[Row], *, start: str = "2024-01-01", spread: list[float] | None = None
) -> BarSeries:
    """Hourly bars from (open, high, low, close) rows, volume 1000, optional per-bar spread."""
    df = pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=len(rows), freq="1h", tz="UTC"),
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [1000.0] * len(rows),
        }
    )
    if spread is not None:
        df["spread"] = spread
    return BarSeries.from_frame(df, instrument_id, "1h")


class Scripted(Strategy):
    """Runs `script[i](self)` when bar i (0-based) has just closed."""

    name = "scripted"
    script: ClassVar[dict[int, Action]] = {}

    def on_bar(self, bar: Bar) -> None:
        action = self.script.get(len(self.data) - 1)
        if action is not None:
            action(self)


def scripted(script: dict[int, Action]) -> type[Scripted]:
    return type("Script", (Scripted,), {"script": script})
