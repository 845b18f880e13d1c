"""Sums over the book that the exposure and margin checks compare orders against, kept one row per pair.

Three sums: the worst-case gross notional (of the portfolio, and of each strategy that has sent an order), the
lowest and highest exposure per currency any subset of the open orders could produce, and the margin the open
orders would take. Each is held as a row per pair plus a total. When an order or a position changes, only that
pair's rows are recomputed and the totals adjusted by the difference. The totals are kept in a wide Decimal context
(100 digits), where adding and subtracting the rows is exact, so a total is always exactly the sum of its rows
whatever order the changes came in (were a sum ever inexact, it is added up again from the rows); when prices
move (a bar closes) every row is revalued. `ExposureChecks.begin` brings the sums up to
date before each order, and the risk engine does it as each bar arrives in a live session, so the order that
follows finds them ready.

Values are in the account currency at the current price (`value(pair)`: one unit's value); open orders count
only when `count_open` (reduce-only orders never count: they can only shrink a position).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Context, Decimal, Inexact

from traderbot.core.money import ZERO
from traderbot.model.enums import OrderSide
from traderbot.model.instrument import AssetClass, Instrument
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.open_book import OpenOrderBook

TWO_CURRENCY = frozenset({AssetClass.FX, AssetClass.METAL, AssetClass.CRYPTO})
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_WIDE = Context(prec=100, traps=[])
_add, _sub = _WIDE.add, _WIDE.subtract

GrossRow = tuple[Decimal, Decimal, Decimal, Decimal]  # held, open buys, open sells, worst-case notional
CurrencyRow = tuple[tuple[str, Decimal, Decimal], ...]  # (currency, low, high) contributions of one pair


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for v in values:
        total = _add(total, v)
    return total


class Gross:
    """Worst-case gross notional of one scope (the portfolio, or one strategy): per pair (held, open buys, open
    sells, value of the larger of held + buys and held - sells) and the total."""

    __slots__ = ("rows", "total")

    def __init__(self, rows: dict[str, GrossRow]) -> None:
        self.rows = rows
        self.total = _exact_sum(r[3] for r in rows.values())


class BookSums:
    def __init__(
        self,
        portfolio: Portfolio,
        open_book: OpenOrderBook,
        instruments: dict[str, Instrument],
        value: Callable[[str], Decimal],
        *,
        count_open: bool,
    ) -> None:
        self.portfolio = portfolio
        self.open = open_book
        self.instruments = instruments
        self.value = value
        self.count_open = count_open
        self._gross: dict[str | None, Gross] = {}
        self._currency: dict[str, CurrencyRow] | None = None  # per pair
        self._lo: dict[str, Decimal] = {}  # per currency, the totals of the rows
        self._hi: dict[str, Decimal] = {}
        self.bounds_version = 0  # bumped when every currency's bounds are built again
        self.moved: dict[
            str, int
        ] = {}  # currency -> a stamp, new each time its bounds may have changed since
        self._stamp = 0
        self._orders_margin: dict[str, Decimal] | None = None  # per pair
        self._orders_margin_total = ZERO
        self._free: tuple[int, Decimal] | None = None  # (portfolio version, free margin before open orders)
        self.margin_free_pct = ZERO

    # ---- keeping up ----------------------------------------------------------------------------------------
    def revalue(self) -> None:
        """Prices moved: revalue every row of the sums in use (and forget the others)."""
        scopes = list(self._gross)
        currency, margin = self._currency is not None, self._orders_margin is not None
        self._gross.clear()
        self._currency = self._orders_margin = None
        self._free = None
        for scope in scopes:
            self.gross(scope)
        if currency:
            self.bound("")
        if margin:
            self.orders_margin()
            self.free_margin()

    def reprice(self, pairs: Iterable[str]) -> None:
        """These pairs' prices (or positions, or open orders) changed: recompute their rows; equity moved with
        the prices, so the free margin is worked out again."""
        self._free = None
        self.touch(pairs)
        if self._orders_margin is not None:
            self.free_margin()

    def touch(self, pairs: Iterable[str]) -> None:
        """These pairs' positions or open orders changed: recompute their rows and adjust the totals."""
        _WIDE.clear_flags()
        for scope, memo in self._gross.items():
            rows, total = memo.rows, memo.total
            for iid in pairs:
                old = rows.get(iid)
                if old is not None:
                    total = _sub(total, old[3])
                row = self._gross_row(scope, iid)
                if row is None:
                    rows.pop(iid, None)
                else:
                    rows[iid] = row
                    total = _add(total, row[3])
            memo.total = total
        currency = self._currency
        if currency is not None:
            lo, hi, moved = self._lo, self._hi, self.moved
            self._stamp += 1
            for iid in pairs:
                for ccy, low, high in currency.pop(iid, ()):
                    lo[ccy], hi[ccy] = _sub(lo[ccy], low), _sub(hi[ccy], high)
                    moved[ccy] = self._stamp
                crow = self._currency_row(iid)
                if crow:
                    currency[iid] = crow
                    for ccy, low, high in crow:
                        lo[ccy], hi[ccy] = _add(lo.get(ccy, ZERO), low), _add(hi.get(ccy, ZERO), high)
                        moved[ccy] = self._stamp
        margin = self._orders_margin
        if margin is not None:
            total = self._orders_margin_total
            for iid in pairs:
                total = _sub(total, margin.pop(iid, ZERO))
                m = self._margin_row(iid)
                if m:
                    margin[iid] = m
                    total = _add(total, m)
            self._orders_margin_total = total
        if _WIDE.flags[Inexact]:  # never expected at 100 digits; should it happen, add everything up again
            self.revalue()

    # ---- gross ---------------------------------------------------------------------------------------------
    def gross(self, scope: str | None) -> Gross:
        memo = self._gross.get(scope)
        if memo is None:
            rows: dict[str, GrossRow] = {}
            for iid in self._pairs(scope):
                row = self._gross_row(scope, iid)
                if row is not None:
                    rows[iid] = row
            memo = self._gross[scope] = Gross(rows)
        return memo

    def _pairs(self, scope: str | None) -> dict[str, None]:
        """Pairs where the scope holds a position or (when counted) has open orders, in a stable order."""
        p, book = self.portfolio, self.open
        if scope is None:
            out = dict.fromkeys(iid for iid, q in p._net.items() if q)
            if self.count_open:
                out.update(dict.fromkeys(iid for iid, _ in book.side))
        else:
            out = dict.fromkeys(iid for s, iid in p._open if s == scope)
            if self.count_open:
                out.update(dict.fromkeys(iid for s, iid, _ in book.by_strategy if s == scope))
        return out

    def _held_open(self, scope: str | None, iid: str) -> tuple[Decimal, Decimal, Decimal]:
        p, book = self.portfolio, self.open
        if scope is None:
            q = p._net.get(iid, ZERO)
            if not self.count_open:
                return q, ZERO, ZERO
            return q, book.side.get((iid, _BUY), ZERO), book.side.get((iid, _SELL), ZERO)
        pos = p._open.get((scope, iid))
        q = pos.quantity if pos is not None else ZERO
        if not self.count_open:
            return q, ZERO, ZERO
        per = book.by_strategy
        return q, per.get((scope, iid, _BUY), ZERO), per.get((scope, iid, _SELL), ZERO)

    def _gross_row(self, scope: str | None, iid: str) -> GrossRow | None:
        q, buys, sells = self._held_open(scope, iid)
        if not (q or buys or sells):
            return None
        return q, buys, sells, max(abs(q + buys), abs(q - sells)) * self.value(iid)

    # ---- currencies ----------------------------------------------------------------------------------------
    def bound(self, currency: str) -> tuple[Decimal, Decimal]:
        """The lowest and highest net exposure to one currency that any subset of the open orders could produce
        when filled, on top of the positions (account currency)."""
        if self._currency is None:
            self._currency = {}
            lo: dict[str, Decimal] = {}
            hi: dict[str, Decimal] = {}
            for iid in self._pairs(None):
                crow = self._currency_row(iid)
                if crow:
                    self._currency[iid] = crow
                    for ccy, low, high in crow:
                        lo[ccy], hi[ccy] = _add(lo.get(ccy, ZERO), low), _add(hi.get(ccy, ZERO), high)
            self._lo, self._hi = lo, hi
            self.bounds_version += 1
        return self._lo.get(currency, ZERO), self._hi.get(currency, ZERO)

    def bounds(self) -> dict[str, tuple[Decimal, Decimal]]:
        """`bound` for every currency the book touches, the account's own left out."""
        self.bound("")
        own = self.portfolio.currency
        return {c: (self._lo[c], self._hi[c]) for c in self._lo if c != own}

    def _currency_row(self, iid: str) -> CurrencyRow:
        q, buys, sells = self._held_open(None, iid)
        if not (q or buys or sells):
            return ()
        inst = self.instruments[iid]
        unit = self.value(iid)
        held, up, down = q * unit, buys * unit, sells * unit
        if inst.asset_class in TWO_CURRENCY:  # long the base, short the quote
            return (inst.base, held - down, held + up), (inst.quote, -held - up, -held + down)
        return ((inst.quote, held - down, held + up),)

    # ---- margin --------------------------------------------------------------------------------------------
    def orders_margin(self) -> Decimal:
        """Margin the open orders would take if they all filled at the current price."""
        if self._orders_margin is None:
            self._orders_margin = {}
            for iid in dict.fromkeys(iid for iid, _ in self.open.side):  # counted even without count_open
                m = self._margin_row(iid)
                if m:
                    self._orders_margin[iid] = m
            self._orders_margin_total = _exact_sum(self._orders_margin.values())
        return self._orders_margin_total

    def _margin_row(self, iid: str) -> Decimal:
        side = self.open.side
        qty = side.get((iid, _BUY), ZERO) + side.get((iid, _SELL), ZERO)
        if not qty:
            return ZERO
        return qty * self.value(iid) * self.instruments[iid].margin_rate

    def free_margin(self) -> Decimal:
        """Equity less the margin positions use, less the share of equity kept free (before open orders)."""
        p = self.portfolio
        memo = self._free
        if memo is None or memo[0] != p.version:
            equity = p.equity()
            free = equity - p.margin_used() - equity * self.margin_free_pct / 100
            memo = self._free = (p.version, free)
        return memo[1]
