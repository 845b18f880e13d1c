"""Realised P&L per pair from the stored fills (the `live P&L` column of `traderbot pairs`).

Fills are replayed in the order they were applied through the same average-cost `Position` the portfolio uses,
per strategy and pair, so the figure is exact (Decimal): realised P&L in the pair's quote currency, less the
commissions charged in that currency. Open positions are not marked to market here (no price is read).
"""

from __future__ import annotations

from decimal import Decimal

from traderbot.core.messages import OrderFilled
from traderbot.core.money import ZERO
from traderbot.model.instrument import get_instrument
from traderbot.model.position import Position


def realized_by_pair(fills: list[OrderFilled]) -> dict[str, tuple[Decimal, str]]:
    """pair -> (realised P&L net of same-currency commissions, the quote currency)."""
    positions: dict[tuple[str, str], Position] = {}
    out: dict[str, tuple[Decimal, str]] = {}
    for f in fills:
        try:
            inst = get_instrument(f.instrument_id)
        except KeyError:
            continue  # an instrument this build does not know: left out rather than guessed
        pos = positions.get((f.strategy_id, f.instrument_id))
        if pos is None:
            pos = positions[(f.strategy_id, f.instrument_id)] = Position(f.instrument_id, f.strategy_id,
                                                                         multiplier=inst.multiplier)  # fmt: skip
        before = pos.realized_pnl_quote
        signed = f.quantity if f.side == "buy" else -f.quantity
        pos.apply_fill(signed, f.price, f.ts, 0, ZERO)
        fee = f.commission if f.commission_currency in ("", inst.quote) else ZERO
        total, _ = out.get(f.instrument_id, (ZERO, inst.quote))
        out[f.instrument_id] = (total + pos.realized_pnl_quote - before - fee, inst.quote)
    return out
