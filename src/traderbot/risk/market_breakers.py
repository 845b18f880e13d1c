"""Market circuit breakers and the volatility / spread guards: lock a pair while its market misbehaves.

Breakers trip on an event and hold the pair (scope `pair:<id>`) for `lock_minutes`; guards hold it while a
condition lasts and clear themselves when it ends. Each sets a lock in the risk engine's LockBook, which then
denies new entries (breaker:* -> CIRCUIT_BREAKER, guard:* -> GUARD_LOCK); with `action="reducing"` orders that
reduce a position still pass.

Formulas (per pair, on the bars of its primary (finest) series; prices are the bars' floats):

- true range  TR_t = max(H_t - L_t, |H_t - C_t-1|, |L_t - C_t-1|);
  ATR_t = mean of the last `atr_period` TRs ending at bar t (a simple mean, as `risk.sizing.atr_distance`).
- breaker:gap       |O_t - C_t-1| > gap_atr x ATR_t-1 (the ATR of the bars before t). With `range_shock`
                    (default on) also TR_t > gap_atr x ATR_t-1: coarse bars (e.g. 4h) absorb a price jump inside
                    one bar, so it shows as a huge range rather than an open gap. TR_t >= |O_t - C_t-1| always,
                    so the range test includes the gap test; the reason says which one fired.
- guard:volatility  ATR%_t = 100 x ATR_t / C_t > max_atr_pct. Holds (until_ns None) until a bar's ATR% is at or
                    below max_atr_pct again: it is re-checked on every bar and cleared by this class.
- breaker:stale_data  more than `stale_after_s` of *open-market* time without a bar or tick. Open time counts
                    the minutes the pair's session calendar (`instrument.calendar`) says open, so weekends are
                    excused. Backtests: `on_bar` measures the hole between the previous bar's close and this
                    bar's open and trips when the replay reaches the bar after it (held `lock_minutes` from
                    there: indicators straddle the hole). Live: a session timer calls `check_stale(now_ns)`;
                    ticks refresh the data time, so a session fed only bars needs stale_after_s above the
                    bar timeframe. The `fx` calendar knows no holidays: Christmas / New Year closures count
                    as open time.
- guard:spread      the spread (in pips) > max_spread_pips. Holds until a spread at or below the cap is seen at
                    least 60 s after the last wide one (the next calm bar, or a minute of calm ticks).
- breaker:spread    the spread > spread_multiple x the median of the previous `spread_window` spreads (checked
                    once the window is full; every observation then joins the window).

Spreads come from `on_tick` (ask - bid) or from a series' `spread` column (price units), divided by the pip size.
Warm-up: gap and volatility need `atr_period` true ranges (atr_period + 1 bars) before they judge; an ATR of 0
(flat, pegged quotes) gives no scale, so no gap trip. A breaker re-trips on each new gap (extending its hold) but
not while its earlier lock on a lasting condition (spread, stale data) still holds. The guards' locks have no
end time (`Lock.describe` shows "cleared by hand"); this class clears them when the condition ends, also for a
lock left from before a restart.

Ordering: the kernel publishes each bar on "bars" before strategies' `on_bar`, so a lock set by bar t already
stops orders sent on bar t.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections import deque
from decimal import Decimal
from typing import Literal

import numpy as np
from pydantic import model_validator

from traderbot.core.bus import MessageBus
from traderbot.kernel.cache import Cache
from traderbot.model.calendar import get_calendar
from traderbot.model.data import Bar
from traderbot.risk.locks import Lock, LockBook
from traderbot.risk.section import Section
from traderbot.risk.states import TradingState

_S = 1_000_000_000
_MINUTE = 60 * _S
_SPREAD_CALM_NS = 60 * _S  # a wide spread must be gone this long before guard:spread clears
_ALWAYS_OPEN = {"24/7", "crypto", "always"}

GAP, STALE, SPREAD_BREAKER = "breaker:gap", "breaker:stale_data", "breaker:spread"
VOLATILITY, SPREAD_GUARD = "guard:volatility", "guard:spread"


def _finite_positive(value: Decimal | int | None, name: str, hint: str) -> None:
    if value is not None and (not Decimal(value).is_finite() or value <= 0):
        raise ValueError(f"{name} must be a positive number, got {value}; {hint}")


class MarketBreakersConfig(Section):
    """Every breaker and guard is off until its threshold is set."""

    gap_atr: Decimal | None = None  # breaker:gap, in ATRs of the previous bars
    range_shock: bool = True  # breaker:gap also trips on a bar whose true range exceeds gap_atr x ATR
    atr_period: int = 14
    max_atr_pct: Decimal | None = None  # guard:volatility, ATR as % of the close
    stale_after_s: int | None = None  # breaker:stale_data, seconds of open market without data
    max_spread_pips: Decimal | None = None  # guard:spread, absolute cap
    spread_multiple: Decimal | None = None  # breaker:spread, K x the rolling median spread
    spread_window: int = 100
    action: Literal["reducing", "halted"] = "halted"
    lock_minutes: int = (
        60  # how long a tripped breaker holds the pair (guards hold while the condition lasts)
    )

    @model_validator(mode="after")
    def _check(self) -> MarketBreakersConfig:
        off = "leave it out to switch this check off"
        _finite_positive(self.gap_atr, "gap_atr", f"use an ATR multiple such as 5, or {off}")
        _finite_positive(self.max_atr_pct, "max_atr_pct", f"use a percentage such as 1.0, or {off}")
        _finite_positive(self.stale_after_s, "stale_after_s", f"use seconds such as 600, or {off}")
        _finite_positive(self.max_spread_pips, "max_spread_pips", f"use pips such as 5, or {off}")
        _finite_positive(self.spread_multiple, "spread_multiple", f"use a multiple such as 5, or {off}")
        _finite_positive(self.lock_minutes, "lock_minutes", "use minutes such as 60")
        if self.atr_period < 2:
            raise ValueError(f"atr_period must be at least 2 bars, got {self.atr_period}; use e.g. 14")
        if self.max_atr_pct is not None and self.max_atr_pct > 100:
            raise ValueError(
                f"max_atr_pct is a percentage of the close, got {self.max_atr_pct}; use e.g. 1.0"
            )
        if self.spread_multiple is not None and self.spread_multiple <= 1:
            raise ValueError(
                f"spread_multiple must be above 1 (an ordinary spread is 1 x the median), got "
                f"{self.spread_multiple}; use e.g. 5"
            )
        if self.spread_window < 5:
            raise ValueError(
                f"spread_window must be at least 5 observations, got {self.spread_window}; use 100"
            )
        return self


class _Pair:
    """Rolling state of one pair: a ring of true ranges with its running sum, and a window of spreads."""

    __slots__ = (
        "atr_pct",
        "calendar",
        "count",
        "digits",
        "last_close",
        "last_data_ns",
        "pip",
        "pos",
        "ring",
        "series_idx",
        "spread_pips",
        "spread_ring",
        "spread_sorted",
        "timeframe",
        "tr_sum",
        "wide_ns",
    )

    def __init__(self, period: int, pip: float, digits: int, calendar: str, timeframe: str | None) -> None:
        self.ring = [0.0] * period
        self.pos = 0
        self.count = 0  # true ranges seen, capped at the period
        self.tr_sum = 0.0
        self.last_close: float | None = None
        self.atr_pct: float | None = None
        self.last_data_ns = 0
        self.spread_pips: float | None = None
        self.spread_ring: deque[float] = deque()
        self.spread_sorted: list[float] = []
        self.wide_ns = 0  # when guard:spread last saw a spread above the cap
        self.pip = pip
        self.digits = digits
        self.calendar = calendar
        self.timeframe = timeframe
        self.series_idx: int | None = None


class MarketBreakers:
    """Watches bars and ticks per pair and sets or clears locks in the risk engine's LockBook."""

    def __init__(self, config: MarketBreakersConfig, locks: LockBook, cache: Cache) -> None:
        self.config = config
        self.locks = locks
        self.cache = cache
        self._action = TradingState(config.action)
        self._period = config.atr_period
        self._gap = None if config.gap_atr is None else float(config.gap_atr)
        self._max_pct = None if config.max_atr_pct is None else float(config.max_atr_pct)
        self._stale_ns = None if config.stale_after_s is None else config.stale_after_s * _S
        self._cap = None if config.max_spread_pips is None else float(config.max_spread_pips)
        self._multiple = None if config.spread_multiple is None else float(config.spread_multiple)
        self._hold_ns = config.lock_minutes * _MINUTE
        self._pairs: dict[str, _Pair] = {}

    # ---- wiring --------------------------------------------------------------------------------------------
    def attach(self, bus: MessageBus) -> None:
        """Receive every closed bar (the kernel publishes them on "bars" once anything subscribes)."""
        bus.subscribe("bars", self._on_bar_message)

    def detach(self, bus: MessageBus) -> None:
        bus.unsubscribe("bars", self._on_bar_message)

    def _on_bar_message(self, bar: Bar) -> None:
        self.on_bar(bar)

    # ---- inputs --------------------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> list[Lock]:
        """Update the pair's rolling state with a closed bar and trip or clear locks; returns locks it set."""
        st = self._pairs.get(bar.instrument_id) or self._new_pair(bar.instrument_id, bar.timeframe)
        if bar.timeframe != st.timeframe:
            return []  # another timeframe of the pair: the primary series carries the state
        now = bar.ts_close
        out: list[Lock] = []
        if self._stale_ns is not None and st.last_data_ns and bar.ts - st.last_data_ns > self._stale_ns:
            lk = self._check_hole(bar.instrument_id, st, st.last_data_ns, bar.ts, now)
            if lk is not None:
                out.append(lk)
        pc = st.last_close
        if pc is not None:
            h, lo = bar.high, bar.low
            tr = max(h - lo, abs(h - pc), abs(lo - pc))
            if self._gap is not None and st.count == self._period:
                lk = self._check_gap(bar, st, tr, pc, st.tr_sum / self._period)
                if lk is not None:
                    out.append(lk)
            self._push_tr(st, tr)
            if st.count == self._period:
                st.atr_pct = 100.0 * st.tr_sum / self._period / bar.close
                if self._max_pct is not None:
                    lk = self._check_volatility(bar.instrument_id, st.atr_pct, now)
                    if lk is not None:
                        out.append(lk)
        st.last_close = bar.close
        if now > st.last_data_ns:
            st.last_data_ns = now
        if st.series_idx is not None:
            pips = self._bar_spread(st, bar)
            if pips is not None:
                out += self._observe_spread(bar.instrument_id, st, pips, now)
        return out

    def on_tick(
        self, instrument_id: str, ts_ns: int, bid: float | Decimal, ask: float | Decimal
    ) -> list[Lock]:
        """A live top-of-book price: refreshes the pair's data time and checks its spread (ask - bid).

        A crossed quote (ask < bid) counts as data but not as a spread observation."""
        st = self._pairs.get(instrument_id) or self._new_pair(instrument_id, None)
        if ts_ns > st.last_data_ns:
            st.last_data_ns = ts_ns
        spread = float(ask) - float(bid)
        if spread < 0:
            return []
        return self._observe_spread(instrument_id, st, spread / st.pip, ts_ns)

    def check_stale(self, now_ns: int) -> list[Lock]:
        """Trip breaker:stale_data for every pair silent for more than stale_after_s of open market (a live
        session's timer calls this; backtests need not, `on_bar` finds holes in the replay)."""
        if self._stale_ns is None:
            return []
        out = []
        for iid, st in self._pairs.items():
            if not st.last_data_ns or now_ns - st.last_data_ns <= self._stale_ns:
                continue
            held = self.locks.get(f"pair:{iid}", STALE)
            if held is not None and held.active_at(now_ns):
                continue
            lk = self._check_hole(iid, st, st.last_data_ns, now_ns, now_ns)
            if lk is not None:
                out.append(lk)
        return out

    # ---- queries -------------------------------------------------------------------------------------------
    def spread_now(self, instrument_id: str) -> float | None:
        """The pair's last observed spread in pips, or None before the first one."""
        st = self._pairs.get(instrument_id)
        return None if st is None else st.spread_pips

    def atr_pct(self, instrument_id: str) -> float | None:
        """100 x ATR(atr_period) / last close, or None during the warm-up."""
        st = self._pairs.get(instrument_id)
        return None if st is None else st.atr_pct

    def status(self) -> list[str]:
        """One line per pair: ATR%, last spread, last data time and this class's active locks."""
        lines = []
        sources = (GAP, STALE, SPREAD_BREAKER, VOLATILITY, SPREAD_GUARD)
        for iid in sorted(self._pairs):
            st = self._pairs[iid]
            pct = "warming up" if st.atr_pct is None else f"{st.atr_pct:.3f}%"
            spread = "n/a" if st.spread_pips is None else f"{st.spread_pips:.1f} pips"
            seen = _iso(st.last_data_ns) if st.last_data_ns else "never"
            line = f"{iid}: ATR({self._period}) {pct} of close, spread {spread}, last data {seen}"
            held = [
                lk.source
                for src in sources
                if (lk := self.locks.get(f"pair:{iid}", src)) is not None and lk.active_at(self.cache.now_ns)
            ]
            lines.append(line + (f", locked by {', '.join(held)}" if held else ""))
        return lines

    # ---- checks --------------------------------------------------------------------------------------------
    def _check_gap(self, bar: Bar, st: _Pair, tr: float, pc: float, atr: float) -> Lock | None:
        assert self._gap is not None
        if atr <= 0:
            return None  # flat bars (a pegged quote): no scale to judge a move by
        limit = self._gap * atr
        gap = abs(bar.open - pc)
        if gap > limit:
            what, size = "gap", gap
        elif self.config.range_shock and tr > limit:
            what, size = "range shock", tr
        else:
            return None
        mult = size / atr
        reason = (
            f"{what} {size:.{st.digits}f} = {mult:.1f} ATR({self._period}) > {self.config.gap_atr} ATR "
            f"at {_iso(bar.ts_close)}"
        )
        return self._trip(bar.instrument_id, GAP, reason, bar.ts_close)

    def _check_volatility(self, iid: str, pct: float, now: int) -> Lock | None:
        assert self._max_pct is not None
        scope = f"pair:{iid}"
        held = self.locks.get(scope, VOLATILITY)
        if pct > self._max_pct:
            if held is not None:
                return None
            reason = (
                f"ATR({self._period}) {pct:.2f}% of close > {self.config.max_atr_pct}% at {_iso(now)}; "
                "holds until a bar's ATR% is back at or below the limit"
            )
            return self.locks.add(scope, VOLATILITY, self._action, reason, until_ns=None, now_ns=now)
        if held is not None:
            self.locks.clear(
                scope,
                VOLATILITY,
                actor=VOLATILITY,
                reason=f"ATR({self._period}) {pct:.2f}% <= {self.config.max_atr_pct}% at {_iso(now)}",
            )
        return None

    def _check_hole(self, iid: str, st: _Pair, since: int, until: int, now: int) -> Lock | None:
        assert self._stale_ns is not None
        silent = _open_ns(st.calendar, since, until)
        if silent <= self._stale_ns:
            return None
        reason = (
            f"no data for {silent / 3600 / _S:.1f} h of open market ({_iso(since)} to {_iso(until)}) > "
            f"{self.config.stale_after_s} s at {_iso(now)}"
        )
        return self._trip(iid, STALE, reason, now)

    def _observe_spread(self, iid: str, st: _Pair, pips: float, now: int) -> list[Lock]:
        st.spread_pips = pips
        out: list[Lock] = []
        scope = f"pair:{iid}"
        if self._cap is not None:
            held = self.locks.get(scope, SPREAD_GUARD)
            if pips > self._cap:
                st.wide_ns = now
                if held is None:
                    reason = f"spread {pips:.1f} pips > {self.config.max_spread_pips} pips at {_iso(now)}"
                    out.append(
                        self.locks.add(scope, SPREAD_GUARD, self._action, reason, until_ns=None, now_ns=now)
                    )
            elif held is not None and now - st.wide_ns >= _SPREAD_CALM_NS:
                self.locks.clear(
                    scope,
                    SPREAD_GUARD,
                    actor=SPREAD_GUARD,
                    reason=f"spread {pips:.1f} pips <= {self.config.max_spread_pips} pips at {_iso(now)}",
                )
        if self._multiple is not None:
            window = self.config.spread_window
            if len(st.spread_ring) == window:
                med = _median(st.spread_sorted)
                if med > 0 and pips > self._multiple * med:
                    held = self.locks.get(scope, SPREAD_BREAKER)
                    if held is None or not held.active_at(now):
                        reason = (
                            f"spread {pips:.1f} pips = {pips / med:.1f} x median {med:.1f} pips (last {window}) "
                            f"> {self.config.spread_multiple} x at {_iso(now)}"
                        )
                        out.append(self._trip(iid, SPREAD_BREAKER, reason, now))
                old = st.spread_ring.popleft()
                del st.spread_sorted[bisect_left(st.spread_sorted, old)]
            st.spread_ring.append(pips)
            insort(st.spread_sorted, pips)
        return out

    # ---- helpers -------------------------------------------------------------------------------------------
    def _trip(self, iid: str, source: str, reason: str, now: int) -> Lock:
        return self.locks.add(
            f"pair:{iid}", source, self._action, reason, until_ns=now + self._hold_ns, now_ns=now
        )

    def _push_tr(self, st: _Pair, tr: float) -> None:
        ring, pos = st.ring, st.pos
        st.tr_sum += tr - ring[pos]
        ring[pos] = tr
        pos += 1
        if pos == self._period:
            pos = 0
            st.tr_sum = sum(ring)  # once per lap: no drift from the running sum
        st.pos = pos
        if st.count < self._period:
            st.count += 1

    def _new_pair(self, iid: str, timeframe: str | None) -> _Pair:
        inst = self.cache.instrument(iid)
        idx = self.cache.primary.get(iid)
        if idx is not None:
            timeframe = self.cache.series[idx].timeframe.name
        st = _Pair(self._period, float(inst.pip_size), inst.price_precision, inst.calendar, timeframe)
        if idx is not None and self.cache.series[idx].spread is not None:
            st.series_idx = idx
        self._pairs[iid] = st
        return st

    def _bar_spread(self, st: _Pair, bar: Bar) -> float | None:
        """The bar's spread in pips from its series' spread column (the row that just became visible)."""
        assert st.series_idx is not None
        series = self.cache.series[st.series_idx]
        spread = series.spread
        assert spread is not None
        i = self.cache.visible[st.series_idx] - 1
        if not (0 <= i < len(series) and series.ts[i] == bar.ts):
            i = int(np.searchsorted(series.ts, bar.ts))
            if i >= len(series) or series.ts[i] != bar.ts:
                return None
        value = float(spread[i])
        return value / st.pip if value == value and value >= 0 else None  # NaN or negative: no observation


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def _open_ns(calendar: str, start_ns: int, end_ns: int) -> int:
    """Nanoseconds of [start, end) in which the calendar says the market is open, to the minute."""
    if end_ns <= start_ns:
        return 0
    if calendar.strip().lower() in _ALWAYS_OPEN:
        return end_ns - start_ns
    grid = np.arange(start_ns, end_ns, _MINUTE, dtype=np.int64)
    return int(np.count_nonzero(get_calendar(calendar).is_open(grid))) * _MINUTE


def _iso(ts_ns: int) -> str:
    fmt = "%Y-%m-%dT%H:%MZ" if ts_ns % _MINUTE == 0 else "%Y-%m-%dT%H:%M:%SZ"
    return time.strftime(fmt, time.gmtime(ts_ns // _S))
