"""Protections: daily, losing-streak and drawdown limits that lock a scope for a while when they are reached.

A protection watches events only (closed trades on bus topic "trades", fills on "fills"), never bars, so it
costs nothing per bar, and nothing at all when no limit is configured (it then subscribes to nothing). When a
limit is reached it adds a lock to the LockBook (source "protection:<name>"); the lock is persisted before it
takes effect, and the risk engine then denies new entries in that scope with PROTECTION_LOCK. With the default
action "reducing" orders that close or reduce a position still pass.

| name               | counts                                              | scope locked        | until               |
| ------------------ | --------------------------------------------------- | ------------------- | ------------------- |
| trades_per_day     | entries of the day (`max_trades_per_day`)           | system / pair:<id>  | next day start      |
| daily_loss         | closed-trade P&L of the day (`max_daily_loss[_pct]`)| system / pair:<id>  | next day start      |
| consecutive_losses | losing closed trades in a row                       | system / pair:<id>  | now + pause_minutes |
| cooldown           | each exit on a pair (`cooldown_minutes`)            | pair:<id>           | exit + cooldown     |
| pair_drawdown      | a pair's cumulative closed-trade P&L from its peak  | pair:<id>           | next day start      |
| low_performance    | a pair's last N closed trades                       | pair:<id>           | now + lock_minutes  |
| drawdown           | account equity from its peak (`max_drawdown_pct`)   | system              | cleared by hand     |

Days are UTC days starting at `day_start_utc_hour`; an event belongs to the day of its own timestamp (a fill's or
a trade's exit time) and the first event of a new day resets the daily counters. The formulas are in
`protection_rules`. Definitions:
- an entry is an order whose fill opened, increased or reversed its strategy's position in the pair (the
  position after the fill lies on the fill's side); reduce-only orders and bracket exits never count, and an
  order filled in several parts counts once;
- the day-start balance (base of `max_daily_loss_pct`) is the account balance minus the P&L of the trades closed
  so far today, taken at the day's first check: realised money only, without open positions' unrealised P&L;
- the account's peak equity is observed at each closed trade and each fill (protections see no bars), starting
  from the starting cash; after a person clears the drawdown lock the peak restarts from the equity of that
  moment, so trading can resume;
- a consecutive-losses, low-performance or pair-drawdown lock starts a new count (streak, window, peak), so
  the next lock needs new losses; a daily lock is set again on the day's next event if a person clears it
  while the limit is still exceeded.

Per-pair overrides (`pairs: {EURUSD: {...}}`): only the fields written in an override count ("set" means present
in the configuration, even at a default value such as `pause_minutes: 60`).
- max_trades_per_day, max_daily_loss, max_daily_loss_pct, max_consecutive_losses: the `global` value counts the
  whole account and locks "system"; a pair's value adds a limit on that pair's own count, which locks
  "pair:<id>" (the account count still includes the pair).
- cooldown_minutes, max_pair_drawdown_pct, low_performance, pause_minutes, action: the `global` value applies to
  every pair; a pair's value replaces it for that pair.
- max_drawdown_pct and day_start_utc_hour are account-wide: refused in a pair override.

After a restart the locks come back with the LockBook's store; the counters are rebuilt with `rebuild()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled, TradeClosed
from traderbot.kernel.cache import Cache
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.locks import LockBook
from traderbot.risk.protection_rules import (
    NS_PER_MIN,
    LowPerformanceConfig,
    ProtectionsConfig,
    ProtectionsSettings,
    Tally,
    cooldown_reason,
    daily_loss_breach,
    daily_loss_pct_breach,
    day_of,
    day_start,
    drawdown_breach,
    entries_breach,
    low_performance_breach,
    pair_drawdown_breach,
    streak_breach,
)
from traderbot.risk.states import SYSTEM, TradingState

_TRADE_BASED = (
    "max_daily_loss",
    "max_daily_loss_pct",
    "max_consecutive_losses",
    "cooldown_minutes",
    "max_pair_drawdown_pct",
    "low_performance",
)
_DRAWDOWN = "protection:drawdown"

__all__ = ["LowPerformanceConfig", "Protections", "ProtectionsConfig", "ProtectionsSettings"]


class Protections:
    """Counts closed trades and fills, and sets a lock when a configured limit is reached."""

    def __init__(
        self, settings: ProtectionsSettings, locks: LockBook, portfolio: Portfolio, cache: Cache
    ) -> None:
        self.settings = settings
        self.locks = locks
        self.portfolio = portfolio
        self.cache = cache
        configs = [settings.global_, *settings.pairs.values()]
        self._counts_entries = any(c.max_trades_per_day is not None for c in configs)
        self._watches_equity = settings.global_.max_drawdown_pct is not None
        self._watches_trades = self._watches_equity or any(
            getattr(c, name) is not None for c in configs for name in _TRADE_BASED
        )
        self._hour = settings.global_.day_start_utc_hour
        self._limits: dict[str, ProtectionsConfig] = {}
        self._reset()
        self._dd_locked = locks.get(SYSTEM, _DRAWDOWN) is not None

    def _reset(self) -> None:
        self._account = Tally()
        self._pairs: dict[str, Tally] = {}
        self._day: int | None = None
        self._entry_orders: set[str] = set()  # entry orders counted today
        self._day_start_balance: Decimal | None = None
        self._peak: Decimal | None = None

    # ---- wiring --------------------------------------------------------------------------------------------
    def attach(self, bus: MessageBus) -> None:
        """Subscribe to closed trades ("trades") and fills ("fills"), each only when a limit needs it."""
        if self._watches_trades:
            bus.subscribe("trades", self.on_trade)
        if self._counts_entries or self._watches_equity:
            bus.subscribe("fills", self.on_fill)

    def detach(self, bus: MessageBus) -> None:
        bus.unsubscribe("trades", self.on_trade)
        bus.unsubscribe("fills", self.on_fill)

    # ---- events --------------------------------------------------------------------------------------------
    def on_fill(self, fill: OrderFilled) -> None:
        """Count an entry (once per order) and check the trades-per-day limits; check the account drawdown."""
        now = self.cache.now_ns
        self._roll(fill.ts)
        if self._counts_entries and fill.client_order_id not in self._entry_orders and self._is_entry(fill):
            self._entry_orders.add(fill.client_order_id)
            self._count_entry(fill.instrument_id)
            self._check_entries(fill.instrument_id, now)
        if self._watches_equity:
            self._check_drawdown(now)

    def on_trade(self, trade: TradeClosed) -> None:
        """Count a closed trade and check every trade-based limit; check the account drawdown."""
        now = self.cache.now_ns
        self._apply_trade(trade, at=now, now=now)
        if self._watches_equity:
            self._check_drawdown(now)

    def rebuild(
        self, trades: Sequence[TradeClosed], now_ns: int, *, peak_equity: Decimal | None = None
    ) -> None:
        """After a restart: reset the counters and replay the closed trades in exit order (at least today's;
        earlier ones also restore the losing streaks, the low-performance windows and the pair drawdowns),
        then count today's entries as the positions opened today (from the trades and the open positions;
        an increase of an open position is not visible there). A limit found reached sets its lock only if
        that lock would still be running at `now_ns` and none is held. `peak_equity`: the account's known
        peak (default: the starting cash, or the equity now if higher)."""
        self._reset()
        today = day_of(now_ns, self._hour)
        past = sorted((t for t in trades if t.exit_ts <= now_ns), key=lambda t: t.exit_ts)
        today_pnl = sum((t.pnl for t in past if day_of(t.exit_ts, self._hour) == today), Decimal(0))
        for trade in past:
            self._roll(trade.exit_ts)
            if self._day == today and self._day_start_balance is None:
                self._day_start_balance = self.portfolio.balance - today_pnl
            self._apply_trade(trade, at=trade.exit_ts, now=now_ns)
        self._roll(now_ns)
        if self._day_start_balance is None:
            self._day_start_balance = self.portfolio.balance - today_pnl
        opened = {(t.strategy_id, t.instrument_id, t.entry_ts) for t in past}
        opened |= {
            (p.strategy_id, p.instrument_id, p.opened_ts)
            for p in self.portfolio.positions.values()
            if p.quantity
        }
        for _, pair, ts in sorted(opened, key=lambda o: o[2]):
            if day_of(ts, self._hour) == today:
                self._count_entry(pair)
                self._check_entries(pair, now_ns)
        self._peak = peak_equity
        if self._watches_equity:
            self._check_drawdown(now_ns)

    # ---- counting ------------------------------------------------------------------------------------------
    def _roll(self, ts: int) -> None:
        """Start a new day when `ts` lies past the current one (a late event of an earlier day counts today)."""
        day = day_of(ts, self._hour)
        if self._day is not None and day <= self._day:
            return
        self._day = day
        self._account.new_day()
        for tally in self._pairs.values():
            tally.new_day()
        self._entry_orders.clear()
        self._day_start_balance = None

    def _tally(self, pair: str) -> Tally:
        tally = self._pairs.get(pair)
        if tally is None:
            tally = self._pairs[pair] = Tally()
        return tally

    def pair_limits(self, pair: str) -> ProtectionsConfig:
        """The limits on one pair's own counters (cached `ProtectionsSettings.for_pair`)."""
        cfg = self._limits.get(pair)
        if cfg is None:
            cfg = self._limits[pair] = self.settings.for_pair(pair)
        return cfg

    def _scopes(self, pair: str) -> Iterator[tuple[str, Tally, ProtectionsConfig, str]]:
        """(scope, counters, limits, label) of the account, then of the pair."""
        yield SYSTEM, self._account, self.settings.global_, ""
        yield f"pair:{pair}", self._tally(pair), self.pair_limits(pair), pair

    def _is_entry(self, fill: OrderFilled) -> bool:
        order = self.cache.orders.get(fill.client_order_id)
        if order is not None and (order.reduce_only or order.parent_id):
            return False
        pos = self.portfolio.positions.get((fill.strategy_id, fill.instrument_id))
        return pos is not None and pos.quantity != 0 and (pos.quantity > 0) == (fill.side == "buy")

    def _count_entry(self, pair: str) -> None:
        self._account.entries += 1
        self._tally(pair).entries += 1

    def _apply_trade(self, trade: TradeClosed, *, at: int, now: int) -> None:
        """Count the trade, then check its limits; `at` is when it happened by our clock, `now` the time now."""
        self._roll(trade.exit_ts)
        pair = trade.instrument_id
        cfg = self.pair_limits(pair)
        self._account.record(trade.pnl, 0)
        self._tally(pair).record(trade.pnl, cfg.low_performance.lookback_trades if cfg.low_performance else 0)
        for scope, tally, limits, label in self._scopes(pair):
            self._check_daily_loss(scope, tally, limits, label, now)
            self._check_streak(scope, tally, limits, label, at, now)
        self._check_pair(trade, cfg, at, now)

    # ---- checks --------------------------------------------------------------------------------------------
    def _lock(self, scope: str, name: str, until: int | None, reason: str, action: str, now: int) -> None:
        """Add the lock unless it would already be over, or the same source holds one lasting at least as long."""
        if until is not None and until <= now:
            return
        source = f"protection:{name}"
        held = self.locks.get(scope, source)
        if (
            held is not None
            and held.active_at(now)
            and (held.until_ns is None or (until is not None and held.until_ns >= until))
        ):
            return
        self.locks.add(scope, source, TradingState(action), reason, until_ns=until, now_ns=now)

    def _day_end(self) -> int:
        assert self._day is not None
        return day_start(self._day + 1, self._hour)

    def _check_entries(self, pair: str, now: int) -> None:
        for scope, tally, limits, label in self._scopes(pair):
            reason = entries_breach(tally.entries, limits.max_trades_per_day, label)
            if reason:
                self._lock(scope, "trades_per_day", self._day_end(), reason, limits.action, now)

    def _check_daily_loss(
        self, scope: str, tally: Tally, limits: ProtectionsConfig, label: str, now: int
    ) -> None:
        until = self._day_end()
        if until <= now or (limits.max_daily_loss is None and limits.max_daily_loss_pct is None):
            return
        ccy = self.portfolio.currency
        reason = daily_loss_breach(tally.day_pnl, limits.max_daily_loss, ccy, label)
        if reason is None and limits.max_daily_loss_pct is not None:
            if self._day_start_balance is None:
                self._day_start_balance = self.portfolio.balance - self._account.day_pnl
            reason = daily_loss_pct_breach(
                tally.day_pnl, limits.max_daily_loss_pct, self._day_start_balance, ccy, label
            )
        if reason:
            self._lock(scope, "daily_loss", until, reason, limits.action, now)

    def _check_streak(
        self, scope: str, tally: Tally, limits: ProtectionsConfig, label: str, at: int, now: int
    ) -> None:
        reason = streak_breach(tally.streak, limits.max_consecutive_losses, limits.pause_minutes, label)
        if reason:
            tally.streak = 0  # the pause uses up the streak
            self._lock(
                scope,
                "consecutive_losses",
                at + limits.pause_minutes * NS_PER_MIN,
                reason,
                limits.action,
                now,
            )

    def _check_pair(self, trade: TradeClosed, cfg: ProtectionsConfig, at: int, now: int) -> None:
        """The pair-level limits: cooldown after the exit, the pair's drawdown, its recent performance."""
        pair, scope, ccy = trade.instrument_id, f"pair:{trade.instrument_id}", self.portfolio.currency
        tally = self._tally(pair)
        if cfg.cooldown_minutes is not None:
            until = trade.exit_ts + cfg.cooldown_minutes * NS_PER_MIN
            self._lock(
                scope,
                "cooldown",
                until,
                cooldown_reason(pair, trade.exit_ts, cfg.cooldown_minutes),
                cfg.action,
                now,
            )
        reason = pair_drawdown_breach(
            tally, self.portfolio.starting_cash, cfg.max_pair_drawdown_pct, ccy, pair
        )
        if reason:
            tally.peak_pnl = tally.cum_pnl  # the lock starts a new measurement
            self._lock(scope, "pair_drawdown", self._day_end(), reason, cfg.action, now)
        low = cfg.low_performance
        if low is not None:
            reason = low_performance_breach(tally.recent, low.lookback_trades, low.min_profit, ccy, pair)
            if reason:
                tally.recent.clear()  # the next lock needs a new window of trades
                self._lock(
                    scope, "low_performance", at + low.lock_minutes * NS_PER_MIN, reason, cfg.action, now
                )

    def _check_drawdown(self, now: int) -> None:
        limits = self.settings.global_
        equity = self.portfolio.equity()
        if self._dd_locked and self.locks.get(SYSTEM, _DRAWDOWN) is None:
            self._peak, self._dd_locked = equity, False  # a person cleared the lock: measure afresh
        if self._peak is None:
            self._peak = max(self.portfolio.starting_cash, equity)
        elif equity > self._peak:
            self._peak = equity
        reason = drawdown_breach(equity, self._peak, limits.max_drawdown_pct, self.portfolio.currency)
        if reason:
            self._lock(SYSTEM, "drawdown", None, reason, limits.action, now)
            self._dd_locked = True

    # ---- reporting -----------------------------------------------------------------------------------------
    def status(self) -> list[str]:
        """One line per configured limit with its counter now, then the active protection locks."""
        ccy, g, now = self.portfolio.currency, self.settings.global_, self.cache.now_ns
        today = self._day is not None and day_of(now, self._hour) <= self._day  # else no event yet today
        lines = list(self._status_scope("account", self._account, g, today))
        if g.max_drawdown_pct is not None:
            equity = self.portfolio.equity()
            peak = self._peak if self._peak is not None else max(self.portfolio.starting_cash, equity)
            dd = max(peak - equity, Decimal(0)) / peak * 100 if peak > 0 else Decimal(0)
            lines.append(
                f"account drawdown: {dd:.2f}% / max {g.max_drawdown_pct}% "
                f"(equity {equity:.2f} {ccy}, peak {peak:.2f} {ccy})"
            )
        for pair in sorted(self._pairs.keys() | self.settings.pairs.keys()):
            tally, cfg = self._tally(pair), self.pair_limits(pair)
            lines += self._status_scope(pair, tally, cfg, today)
            if cfg.max_pair_drawdown_pct is not None:
                pct = (tally.peak_pnl - tally.cum_pnl) / self.portfolio.starting_cash * 100
                lines.append(
                    f"{pair} drawdown: {pct:.2f}% / max {cfg.max_pair_drawdown_pct}% of the starting equity"
                )
            if cfg.low_performance is not None:
                low = cfg.low_performance
                window = tally.recent[-low.lookback_trades :]
                lines.append(
                    f"{pair} last {len(window)}/{low.lookback_trades} trades: "
                    f"{sum(window, Decimal(0)):.2f} {ccy} (min {low.min_profit} {ccy})"
                )
        lines += [
            f"locked: {lk.describe()}" for lk in self.locks.active(now) if lk.source.startswith("protection:")
        ]
        return lines

    def _status_scope(self, label: str, tally: Tally, cfg: ProtectionsConfig, today: bool) -> Iterator[str]:
        ccy = self.portfolio.currency
        entries, loss = (tally.entries, max(-tally.day_pnl, Decimal(0))) if today else (0, Decimal(0))
        if cfg.max_trades_per_day is not None:
            yield f"{label} entries today: {entries} / max {cfg.max_trades_per_day}"
        if cfg.max_daily_loss is not None:
            yield f"{label} daily loss: {loss:.2f} / max {cfg.max_daily_loss} {ccy}"
        if cfg.max_daily_loss_pct is not None:
            base = self._day_start_balance if today else None
            if base is None:  # not taken yet today: the balance before today's closed trades
                base = self.portfolio.balance - (self._account.day_pnl if today else Decimal(0))
            pct = loss / base * 100 if base > 0 else Decimal(0)
            yield f"{label} daily loss: {pct:.2f}% / max {cfg.max_daily_loss_pct}% of {base:.2f} {ccy}"
        if cfg.max_consecutive_losses is not None:
            yield f"{label} losing streak: {tally.streak} / max {cfg.max_consecutive_losses}"
