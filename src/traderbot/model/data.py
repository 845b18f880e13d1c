"""Market data messages: bars and quotes. Prices here are market data (float64); accounting converts exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Bar(NamedTuple):
    """One OHLCV bar. `ts` is the bar's open time, `ts_close` when it completed (UTC ns).

    A NamedTuple: immutable and cheap to create once per bar on the hot path.
    """

    instrument_id: str
    timeframe: str
    ts: int
    ts_close: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book at `ts` (UTC ns)."""

    instrument_id: str
    ts: int
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0
