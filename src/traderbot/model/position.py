"""A net position in one instrument for one strategy, with exact average price and realised P&L.

P&L here is in the instrument's quote currency: quantity * (exit - entry) * multiplier for a long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from traderbot.core.money import ZERO


class ClosedLot(NamedTuple):
    """The part of a position a fill closed: the raw material of one trade-list row (quote currency)."""

    side: str
    quantity: Decimal
    entry_ts: int
    entry_bar: int
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl_quote: Decimal
    open_costs: Decimal  # share of entry commission/financing carried by the closed quantity (account ccy)


@dataclass(slots=True)
class Position:
    """Average-cost position. `cost_basis` (sum of price x quantity of the open quantity) is exact, so a full
    close realises exactly proceeds - cost; a partial close realises its pro-rata share of the cost basis."""

    instrument_id: str
    strategy_id: str
    multiplier: Decimal = Decimal(1)
    quantity: Decimal = ZERO  # signed
    cost_basis: Decimal = ZERO  # >= 0: sum of price * |quantity| over the open quantity
    opened_ts: int = 0
    opened_bar: int = 0
    realized_pnl_quote: Decimal = ZERO
    open_costs: Decimal = ZERO  # commissions and financing paid on the open quantity, account ccy
    fills: int = field(default=0)

    @property
    def avg_price(self) -> Decimal:
        return self.cost_basis / abs(self.quantity) if self.quantity else ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def side(self) -> str:
        return "flat" if self.quantity == 0 else ("long" if self.quantity > 0 else "short")

    def unrealized_quote(self, price: Decimal) -> Decimal:
        sign = 1 if self.quantity > 0 else -1
        return sign * (price * abs(self.quantity) - self.cost_basis) * self.multiplier

    def apply_fill(
        self, signed_qty: Decimal, price: Decimal, ts: int, bar: int, cost: Decimal
    ) -> list[ClosedLot]:
        """Apply a fill (signed quantity) and return the lots it closed; `cost` is its commission (account ccy)."""
        self.fills += 1
        q = self.quantity
        if q == 0 or (q > 0) == (signed_qty > 0):
            if q == 0:
                self.opened_ts, self.opened_bar = ts, bar
                self.open_costs = ZERO
            self.cost_basis += price * abs(signed_qty)
            self.quantity = q + signed_qty
            self.open_costs += cost
            return []
        closing = min(abs(signed_qty), abs(q))
        full = closing == abs(q)
        cost_share = self.cost_basis if full else self.cost_basis * closing / abs(q)
        sign = 1 if q > 0 else -1
        gross = sign * (closing * price - cost_share) * self.multiplier
        share = self.open_costs if full else self.open_costs * closing / abs(q)
        exit_cost = cost if closing == abs(signed_qty) else cost * closing / abs(signed_qty)
        lot = ClosedLot(
            side="long" if q > 0 else "short",
            quantity=closing,
            entry_ts=self.opened_ts,
            entry_bar=self.opened_bar,
            entry_price=self.avg_price,
            exit_price=price,
            gross_pnl_quote=gross,
            open_costs=share + exit_cost,
        )
        self.realized_pnl_quote += gross
        self.open_costs -= share
        self.cost_basis -= cost_share
        self.quantity = q + signed_qty
        if self.quantity == 0:
            self.cost_basis = ZERO
            self.open_costs = ZERO
        elif abs(signed_qty) > closing:  # reversed through flat: the rest opens a new position at this price
            self.cost_basis = price * abs(self.quantity)
            self.opened_ts, self.opened_bar = ts, bar
            self.open_costs = cost - exit_cost
        return [lot]
