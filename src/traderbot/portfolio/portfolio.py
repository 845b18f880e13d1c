"""The portfolio: cash balance, positions, realised P&L, margin, and the equity curve. Exact (Decimal).

P&L is earned in each instrument's quote currency and converted to the account currency at the rate of the
moment (the latest close of QUOTE+ACCOUNT or ACCOUNT+QUOTE in the cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled, PositionChanged, TradeClosed
from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.kernel.cache import Cache
from traderbot.model.account import Account
from traderbot.model.position import Position


@dataclass(slots=True)
class EquityMarks:
    """Change points for the equity curve: after schedule event `event`, these holdings applied.

    Values are kept as the exact Decimals of the moment (immutable) and converted once, when the curve is built.
    A holding is (series index, signed quantity, cost basis, multiplier).
    """

    event: list[int] = field(default_factory=list)
    balance: list[Decimal] = field(default_factory=list)
    holdings: list[tuple[tuple[int, Decimal, Decimal, Decimal], ...]] = field(default_factory=list)


class Portfolio:
    def __init__(self, cache: Cache, bus: MessageBus, currency: str, starting_cash: Decimal) -> None:
        if starting_cash <= 0:
            raise UserError(f"starting cash must be positive, got {starting_cash}; pass e.g. --cash 10000")
        self.cache = cache
        self.bus = bus
        self.currency = currency
        self.starting_cash = starting_cash
        self.balance = starting_cash
        self.positions: dict[tuple[str, str], Position] = {}
        self._net: dict[str, Decimal] = {}  # instrument -> net signed quantity over strategies
        self._open: dict[tuple[str, str], Position] = {}  # non-flat positions only
        self.trades: list[TradeClosed] = []
        self.commissions = ZERO
        self.financing = ZERO
        self.marks = EquityMarks()
        self.event_index: Callable[[], int] = lambda: -1  # the kernel's schedule position, set by the kernel
        self.version = 0  # bumped on every fill and charge: memoised risk sums know when to recompute
        self.touched: set[str] = set()  # instruments whose positions changed since the risk sums last looked
        self.track_marks = True  # backtests: record holdings per event for the equity curve (not when live)

    # ---- conversion -----------------------------------------------------------------------------------------
    def to_account(self, amount: Decimal, currency: str) -> Decimal:
        if currency == self.currency or amount == 0:
            return amount
        rate = self.cache.rate(currency, self.currency)
        if rate is None:
            raise UserError(
                f"no {currency}/{self.currency} rate: load a pair such as {currency}{self.currency} or "
                f"{self.currency}{currency} alongside, or set the account currency to {currency}"
            )
        return amount * rate

    # ---- positions ------------------------------------------------------------------------------------------
    def position(self, strategy_id: str, instrument_id: str) -> Position:
        key = (strategy_id, instrument_id)
        pos = self.positions.get(key)
        if pos is None:
            inst = self.cache.instrument(instrument_id)
            pos = Position(instrument_id, strategy_id, multiplier=inst.multiplier)
            self.positions[key] = pos
        return pos

    def net_quantity(self, instrument_id: str) -> Decimal:
        return self._net.get(instrument_id, ZERO)

    def on_fill(self, fill: OrderFilled, bar_index: int) -> None:
        """Book a fill: commission, position change, realised P&L of closed lots, trade-list rows."""
        self.version += 1
        self.touched.add(fill.instrument_id)
        inst = self.cache.instruments[fill.instrument_id]
        commission = self.to_account(fill.commission, fill.commission_currency or inst.quote)
        self.balance -= commission
        self.commissions += commission
        pos = self.positions.get((fill.strategy_id, fill.instrument_id)) or self.position(
            fill.strategy_id, fill.instrument_id
        )
        signed = fill.quantity if fill.side == "buy" else -fill.quantity
        lots = pos.apply_fill(signed, fill.price, fill.ts, bar_index, commission)
        self._net[fill.instrument_id] = self._net.get(fill.instrument_id, ZERO) + signed
        key = (fill.strategy_id, fill.instrument_id)
        if pos.quantity:
            self._open[key] = pos
        else:
            self._open.pop(key, None)
        for lot in lots:
            gross = self.to_account(lot.gross_pnl_quote, inst.quote)
            self.balance += gross
            notional = self.to_account(lot.quantity * lot.entry_price * inst.multiplier, inst.quote)
            trade = TradeClosed(
                instrument_id=fill.instrument_id,
                strategy_id=fill.strategy_id,
                side=lot.side,
                quantity=lot.quantity,
                entry_ts=lot.entry_ts,
                exit_ts=fill.ts,
                entry_price=lot.entry_price,
                exit_price=lot.exit_price,
                pnl=gross - lot.open_costs,
                commission=lot.open_costs,
                entry_notional=notional,
                bars_held=bar_index - lot.entry_bar,
            )
            self.trades.append(trade)
            self.bus.publish("trades", trade)
        if self.bus.has_subscribers("positions"):
            self.bus.publish(
                "positions",
                PositionChanged(
                    fill.instrument_id,
                    fill.strategy_id,
                    fill.ts,
                    pos.quantity,
                    pos.avg_price,
                    self.to_account(pos.realized_pnl_quote, inst.quote),
                ),
            )
        self._mark()

    def charge_financing(self, strategy_id: str, instrument_id: str, amount_quote: Decimal) -> None:
        self.version += 1
        inst = self.cache.instrument(instrument_id)
        cost = self.to_account(amount_quote, inst.quote)
        self.balance -= cost
        self.financing += cost
        self.position(strategy_id, instrument_id).open_costs += cost
        self._mark()

    # ---- valuation ------------------------------------------------------------------------------------------
    def unrealized(self) -> Decimal:
        total = ZERO
        for (_, iid), pos in self._open.items():
            if pos.quantity:
                px = self.cache.last_price(iid)
                if px is not None:
                    total += self.to_account(pos.unrealized_quote(px), self.cache.instruments[iid].quote)
        return total

    def equity(self) -> Decimal:
        return self.balance + self.unrealized()

    def margin_used(self) -> Decimal:
        return sum((self.margin_for(iid) for iid, net in self._net.items() if net), ZERO)

    def account(self) -> Account:
        """A snapshot of the account now (exact, account currency)."""
        unrealized = self.unrealized()
        used = self.margin_used()
        equity = self.balance + unrealized
        return Account(
            self.currency,
            self.cache.now_ns,
            self.balance,
            unrealized,
            equity,
            used,
            equity - used,
            self.commissions,
            self.financing,
        )

    def margin_for(self, instrument_id: str) -> Decimal:
        """Margin held by the net position in one instrument (account currency)."""
        net = self.net_quantity(instrument_id)
        if net == 0:
            return ZERO
        inst = self.cache.instruments[instrument_id]
        px = self.cache.last_price(instrument_id) or ZERO
        return self.to_account(abs(net) * px * inst.multiplier * inst.margin_rate, inst.quote)

    def free_margin(self) -> Decimal:
        return self.equity() - self.margin_used()

    def _mark(self) -> None:
        """Record holdings after the current schedule event, for the vectorised equity curve."""
        if not self.track_marks:
            return
        open_ = self._open
        primary = self.cache.primary
        holdings: tuple[tuple[int, Decimal, Decimal, Decimal], ...]
        if not open_:
            holdings = ()
        elif len(open_) == 1:  # the common case, without a generator
            (((_, iid), p),) = open_.items()
            holdings = ((primary[iid], p.quantity, p.cost_basis, p.multiplier),)
        else:
            holdings = tuple(
                (primary[iid], p.quantity, p.cost_basis, p.multiplier)
                for (_, iid), p in sorted(open_.items())
            )
        m = self.marks
        event = self.event_index()
        if m.event and m.event[-1] == event:
            m.balance[-1] = self.balance
            m.holdings[-1] = holdings
        else:
            m.event.append(event)
            m.balance.append(self.balance)
            m.holdings.append(holdings)
