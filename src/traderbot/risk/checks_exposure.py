"""Pre-trade checks on what an order would hold: margin, position and exposure limits, currency exposure.

Exposure is measured at the reference price (the order's limit/stop price, else the last price), in the
account currency. The projection is the worst case: the current net position, plus every open order on the
order's side that is not reduce-only (when `count_open_orders`), plus the order itself. A risk-reducing order
is never denied here. Each check returns None (pass) or a denial text with its reason code and context.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from traderbot.core.money import ZERO
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.book_sums import TWO_CURRENCY, BookSums
from traderbot.risk.config_sections import LimitsConfig, MarginConfig
from traderbot.risk.open_book import OpenOrderBook
from traderbot.risk.reasons import DenyReason, deny


class OrderSize:
    """The order's quantity and price as the checks see them (an equity-fraction order is priced now), and the
    account-currency value of one unit at that price, worked out once for all the checks that need it."""

    __slots__ = ("_exposure", "_unit", "instrument_id", "price", "quantity", "signed")

    def __init__(self, order: Order, cache: Cache, portfolio: Portfolio, exposure: ExposureChecks) -> None:
        px = order.price or order.trigger_price or cache.last_price(order.instrument_id) or ZERO
        qty = order.quantity
        if order.equity_fraction is not None and px:
            inst = cache.instruments[order.instrument_id]
            qty = portfolio.equity() * order.equity_fraction / (px * inst.multiplier)
            qty = qty / portfolio.to_account(Decimal(1), inst.quote)
        self.instrument_id = order.instrument_id
        self.price = px
        self.quantity = qty
        self.signed = qty if order.side is OrderSide.BUY else -qty
        self._exposure = exposure
        self._unit: Decimal | None = None

    def unit(self) -> Decimal:
        """One unit's value in the account currency at the order's price (the last price when it has none)."""
        u = self._unit
        if u is None:
            u = self._unit = self._exposure.unit_value(self.instrument_id, self.price or None)
        return u


class PairLimitsInForce(NamedTuple):
    """The per-pair limits in effect for one pair: its own value where set, else the account-wide one."""

    max_order_quantity: Decimal | None
    max_order_notional: Decimal | None
    max_position_quantity: Decimal | None
    max_position_notional: Decimal | None


class ExposureChecks:
    def __init__(self, cache: Cache, portfolio: Portfolio, limits: LimitsConfig) -> None:
        self._in_force: dict[str, PairLimitsInForce] = {}
        self._opened_memo: tuple[tuple[int, int], frozenset[str]] | None = None
        self.cache = cache
        self.portfolio = portfolio
        self.limits = limits
        self._units: dict[str, Decimal] = {}
        self._rates: dict[str, Decimal] = {}
        self._gen = -1
        self._rooms: dict[
            str, tuple[int, tuple[Decimal, Decimal, Decimal] | tuple[()]]
        ] = {}  # ccy -> (stamp, room)
        self._rooms_at = -1  # the bounds' version the rooms were worked out for
        self.open = OpenOrderBook()  # kept in step by Cache.track once the engine installs it
        self.sums = BookSums(
            portfolio, self.open, cache.instruments, self.unit_value, count_open=limits.count_open_orders
        )

    # ---- helpers -------------------------------------------------------------------------------------------
    def pending(self, instrument_id: str, side: OrderSide, strategy_id: str | None = None) -> Decimal:
        """Open quantity on one side that could still add to the position (reduce-only orders cannot)."""
        if not self.limits.count_open_orders:
            return ZERO
        return self.open.pending(instrument_id, side, strategy_id)

    def begin(self, book: bool) -> None:
        """Called before each order (and by the engine as each bar arrives). Prices and rates are memoised until
        a bar closes, when the book sums are revalued; with `book`, the sums then catch up with the pairs whose
        positions or open orders changed and were not caught up yet (every change is reported by the portfolio
        and the open-order book, so nothing can change behind the sums' back)."""
        gen = sum(self.cache.visible)
        if gen != self._gen:
            self._gen = gen
            self._units.clear()
            self._rates.clear()
            self.open.touched.clear()
            self.portfolio.touched.clear()
            self.sums.revalue()
        elif book:
            self.catch_up()

    def follow(self, instrument_id: str | None, gen_before: int) -> bool:
        """One bar closed since the prices were memoised at `gen_before` closed bars (of `instrument_id` when
        it is the pair's primary series, else of a series no price is read from): forget only the rates and
        unit values that depend on that pair's price and recompute the book sums' rows of the pairs they feed
        (and of those that changed since). False when the memos were not current before this bar: the caller
        then revalues everything."""
        if self._gen != gen_before:
            return False
        self._gen = sum(self.cache.visible)
        touched, filled = self.open.touched, self.portfolio.touched
        pairs = touched | filled
        touched.clear()
        filled.clear()
        if instrument_id is not None:
            acct, rates, units = self.portfolio.currency, self._rates, self._units
            moved = {c for c in rates if instrument_id in (c + acct, acct + c)}  # Cache.rate's two pairs
            for c in moved:
                del rates[c]
            instruments = self.cache.instruments
            stale = [p for p in units if p == instrument_id or instruments[p].quote in moved]
            for p in stale:
                del units[p]
            pairs.update(stale)
        self.sums.reprice(pairs)
        return True

    def catch_up(self) -> None:
        """Recompute the book sums' rows of the pairs that changed (at the current prices)."""
        touched, filled = self.open.touched, self.portfolio.touched
        if touched or filled:
            pairs = tuple(touched | filled)
            touched.clear()
            filled.clear()
            self.sums.touch(pairs)

    def on_book_change(self) -> None:
        """An open order changed (the OMS is placing, amending, filling or canceling it): catch the sums up now,
        so the next order's checks find them ready. If prices moved since the last revaluation, the next check
        revalues everything instead."""
        if sum(self.cache.visible) == self._gen:
            self.catch_up()

    def rate(self, currency: str) -> Decimal:
        """The currency -> account currency rate now (memoised until a bar closes)."""
        r = self._rates.get(currency)
        if r is None:
            r = self._rates[currency] = self.portfolio.to_account(Decimal(1), currency)
        return r

    def unit_value(self, instrument_id: str, price: Decimal | None = None) -> Decimal:
        """Account-currency value of one unit: price x multiplier x quote->account rate (price: the last price
        unless given)."""
        if price is None:
            v = self._units.get(instrument_id)
            if v is None:
                inst = self.cache.instruments[instrument_id]
                px = self.cache.last_price(instrument_id) or ZERO
                v = self._units[instrument_id] = px * inst.multiplier * self.rate(inst.quote)
            return v
        inst = self.cache.instruments[instrument_id]
        return price * inst.multiplier * self.rate(inst.quote)

    def notional(self, instrument_id: str, quantity: Decimal, price: Decimal | None = None) -> Decimal:
        """|quantity| x price x multiplier in the account currency (price: the last price unless given)."""
        return abs(quantity) * self.unit_value(instrument_id, price)

    def in_force(self, instrument_id: str) -> PairLimitsInForce:
        lim = self._in_force.get(instrument_id)
        if lim is None:
            names = PairLimitsInForce._fields
            lim = self._in_force[instrument_id] = PairLimitsInForce(
                *(self.limits.pair(instrument_id, n) for n in names)
            )
        return lim

    def projected(self, order: Order, size: OrderSize) -> Decimal:
        """The pair's net position if the order and the open orders on its side all filled."""
        net = self.portfolio.net_quantity(order.instrument_id)
        extra = self.pending(order.instrument_id, order.side)
        return net + size.signed + (extra if order.side is OrderSide.BUY else -extra)

    # ---- checks --------------------------------------------------------------------------------------------
    def check_order_size(self, order: Order, size: OrderSize) -> str | None:
        lim, iid = self.limits, order.instrument_id
        pair = self._in_force.get(iid) or self.in_force(iid)
        max_q = pair.max_order_quantity
        if max_q is not None and size.quantity > max_q:
            return deny(DenyReason.QUANTITY_EXCEEDS_MAX, f"max={max_q}, order={size.quantity}")
        max_n = pair.max_order_notional
        if (max_n is None and lim.min_order_notional is None) or not size.price:
            return None
        notional = size.quantity * size.unit()
        ccy = self.portfolio.currency
        if max_n is not None and notional > max_n:
            return deny(DenyReason.NOTIONAL_EXCEEDS_MAX, f"max={max_n} {ccy}, order={notional:.2f} {ccy}")
        if lim.min_order_notional is not None and notional < lim.min_order_notional:
            return deny(
                DenyReason.BELOW_MIN_NOTIONAL,
                f"min={lim.min_order_notional} {ccy}, order={notional:.2f} {ccy}",
            )
        return None

    def check_position(self, order: Order, size: OrderSize) -> str | None:
        iid = order.instrument_id
        net = self.portfolio._net.get(iid, ZERO)
        pair = self._in_force.get(iid) or self.in_force(iid)
        max_q, max_n = pair.max_position_quantity, pair.max_position_notional
        if max_q is not None or max_n is not None:
            extra = self.open.side.get((iid, order.side), ZERO) if self.limits.count_open_orders else ZERO
            after = net + size.signed + (extra if order.side is OrderSide.BUY else -extra)  # as `projected`
            if max_q is not None and abs(after) > max_q:
                return deny(DenyReason.POSITION_LIMIT, f"{iid} max={max_q} units, would hold {after}")
            if max_n is not None:
                value = abs(after) * size.unit()
                if value > max_n:
                    ccy = self.portfolio.currency
                    return deny(
                        DenyReason.POSITION_LIMIT, f"{iid} max={max_n} {ccy}, would hold {value:.2f} {ccy}"
                    )
        max_open = self.limits.max_open_positions
        if max_open is not None and not net:
            opened = self._opened()
            if iid not in opened and len(opened) >= max_open:
                return deny(DenyReason.OPEN_POSITIONS_LIMIT, f"max={max_open}, open={len(opened)}, new={iid}")
        return None

    def _opened(self) -> frozenset[str]:
        """Pairs that hold a position or could (open orders that could open one count: the worst case);
        memoised until a position changes or a pair side gains its first open order or loses its last."""
        key = (self.open.shape, self.portfolio.version)
        memo = self._opened_memo
        if memo is None or memo[0] != key:
            opened = {i for i, q in self.portfolio._net.items() if q}
            if self.limits.count_open_orders:
                opened.update(i for i, _ in self.open.side)
            memo = self._opened_memo = (key, frozenset(opened))
        return memo[1]

    def _gross(self, order: Order, size: OrderSize, strategy_id: str | None) -> Decimal:
        """Worst-case gross notional: each pair at the larger of (held + open buys) and (held - open sells),
        with the order added to its side (valued at the order's price)."""
        memo = self.sums._gross.get(strategy_id) or self.sums.gross(strategy_id)
        iid = order.instrument_id
        total = memo.total
        row = memo.rows.get(iid)
        if row is None:
            q = buys = sells = ZERO
        else:
            q, buys, sells, value = row
            total -= value
        if order.side is OrderSide.BUY:
            buys += size.quantity
        else:
            sells += size.quantity
        return total + max(abs(q + buys), abs(q - sells)) * size.unit()

    def check_strategy(self, order: Order, size: OrderSize) -> str | None:
        limit = self.limits.max_strategy_notional
        if limit is None:
            return None
        sid = order.strategy_id
        total = self._gross(order, size, sid)
        if total > limit:
            ccy = self.portfolio.currency
            return deny(
                DenyReason.STRATEGY_EXPOSURE_LIMIT, f"{sid} max={limit} {ccy}, would hold {total:.2f} {ccy}"
            )
        return None

    def check_portfolio(self, order: Order, size: OrderSize) -> str | None:
        limit = self.limits.max_portfolio_notional
        if limit is None:
            return None
        total = self._gross(order, size, None)
        if total > limit:
            ccy = self.portfolio.currency
            return deny(
                DenyReason.PORTFOLIO_EXPOSURE_LIMIT, f"max={limit} {ccy}, would hold {total:.2f} {ccy}"
            )
        return None

    def currency_exposure(self) -> dict[str, Decimal]:
        """Net exposure per currency of the positions, in the account currency; FX pairs count +base, -quote."""
        out: dict[str, Decimal] = {}
        for iid, net in self.portfolio._net.items():
            if net:
                for ccy, v in self._delta(iid, net, None).items():
                    out[ccy] = out.get(ccy, ZERO) + v
        out.pop(self.portfolio.currency, None)  # the account's own currency is not a currency risk
        return out

    def _delta(self, iid: str, signed: Decimal, px: Decimal | None) -> dict[str, Decimal]:
        inst = self.cache.instruments[iid]
        value = signed * self.unit_value(iid, px)
        if inst.asset_class in TWO_CURRENCY:
            if inst.base == inst.quote:
                return {}
            return {inst.base: value, inst.quote: -value}
        return {inst.quote: value}

    def check_currency(self, order: Order, size: OrderSize) -> str | None:
        iid = order.instrument_id
        inst = self.cache.instruments[iid]
        v = size.signed * size.unit()
        if inst.asset_class in TWO_CURRENCY:  # long the base, short the quote
            if inst.base == inst.quote:
                return None
            reason = self._currency_limit(inst.base, v)
            return reason if reason is not None else self._currency_limit(inst.quote, -v)
        return self._currency_limit(inst.quote, v)

    def _currency_limit(self, ccy: str, v: Decimal) -> str | None:
        sums = self.sums
        if sums._currency is None:
            sums.bound(ccy)  # builds the bounds (and bumps their version)
        if self._rooms_at != sums.bounds_version:
            self._rooms.clear()
            self._rooms_at = sums.bounds_version
        stamp = sums.moved.get(ccy, 0)
        kept = self._rooms.get(ccy)
        if kept is None or kept[0] != stamp:  # only a change of this currency's bounds moves its room
            kept = self._rooms[ccy] = (stamp, self._room(ccy))
        room = kept[1]
        if not room or not (v > room[0] if v > 0 else -v > room[1]):
            return None
        b_lo, b_hi = sums.bound(ccy)
        lo, hi = (b_lo, b_hi + v) if v > 0 else (b_lo + v, b_hi)
        worst = hi if abs(hi) >= abs(lo) else lo
        acc = self.portfolio.currency
        return deny(
            DenyReason.CURRENCY_EXPOSURE_LIMIT,
            f"{ccy} max={room[2]} {acc}, could reach {worst:.2f} {acc} (open orders included)",
        )

    def _room(self, ccy: str) -> tuple[Decimal, Decimal, Decimal] | tuple[()]:
        """How far an order may move the currency's high bound up and its low bound down before it is denied:
        denied when the new worst case exceeds both the limit and the worst case the book already holds.
        With bounds (lo, hi) and top = max(limit, |lo|, |hi|): a rise v > 0 is denied when v > top - hi, a
        fall when -v > top + lo. Empty when the currency has no limit (or is the account's own)."""
        lim = self.limits
        limit = lim.currency_limits.get(ccy, lim.max_currency_exposure)
        if limit is None or ccy == self.portfolio.currency:
            return ()
        b_lo, b_hi = self.sums._lo.get(ccy, ZERO), self.sums._hi.get(ccy, ZERO)  # built: see _currency_limit
        top = max(limit, abs(b_lo), abs(b_hi))
        return top - b_hi, top + b_lo, limit


class MarginCheck:
    """Free margin must cover open orders' margin and this order's, keeping a share of equity free."""

    def __init__(
        self, cache: Cache, portfolio: Portfolio, exposure: ExposureChecks, config: MarginConfig
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.exposure = exposure
        self.config = config
        exposure.sums.margin_free_pct = config.min_free_margin_pct

    def check(self, order: Order, size: OrderSize) -> str | None:
        sums = self.exposure.sums
        inst = self.cache.instruments[order.instrument_id]
        needed = sums.orders_margin() + size.quantity * size.unit() * inst.margin_rate
        free = sums.free_margin()
        if needed > free:
            ccy = self.portfolio.currency
            return deny(
                DenyReason.INSUFFICIENT_MARGIN,
                f"needs {needed:.2f} {ccy} (open orders included), free {free:.2f} {ccy}",
            )
        return None
