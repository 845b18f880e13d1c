"""Money checks of the simulated venue: sizing an equity-fraction order, and margin for a fill."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from traderbot.brokers.sim.costs import CommissionModel
from traderbot.core.money import ZERO
from traderbot.model.instrument import Instrument
from traderbot.portfolio.portfolio import Portfolio

_EPS = Decimal("1e-9")


def _floor(qty: Decimal, inst: Instrument) -> Decimal:
    if qty <= 0:
        return ZERO
    if inst.lot_size > 0:
        return (qty / inst.lot_size).to_integral_value(ROUND_DOWN) * inst.lot_size
    return qty.quantize(Decimal("1e-12"), ROUND_DOWN)


def size_from_equity(
    portfolio: Portfolio,
    inst: Instrument,
    fraction: Decimal,
    px: Decimal,
    commission: CommissionModel,
    equity: Decimal | None = None,
) -> Decimal:
    """Largest lot-rounded quantity whose notional plus commission fits `fraction` of equity at price `px`.

    q = floor((E*f - per_order) / (px*m*(1+pct) + per_unit)); when a minimum commission binds,
    q = floor((E*f - fee(q)) / (px*m)). Amounts are converted to the account currency.
    """
    rate = portfolio.to_account(Decimal(1), inst.quote)
    total = (portfolio.equity() if equity is None else equity) * fraction
    unit = (px * inst.multiplier * (1 + commission.pct_notional) + commission.per_unit) * rate
    if unit <= 0:
        return ZERO
    q = _floor((total - max(commission.per_order, ZERO) * rate) / unit, inst)
    if q > 0:
        fee = commission.commission(q, px, inst.multiplier) * rate
        if q * px * inst.multiplier * rate + fee > total:
            q = _floor((total - fee) / (px * inst.multiplier * rate), inst)
    return q


def margin_problem(
    portfolio: Portfolio,
    inst: Instrument,
    signed_qty: Decimal,
    px: Decimal,
    fee: Decimal,
    equity: Decimal | None = None,
) -> str:
    """Reason to reject a fill whose resulting position the equity cannot margin, or "".

    A pure reduction always passes. Otherwise the position after the fill needs |q'| * px * m * margin_rate,
    which must fit equity minus the margin of the other instruments minus the fee.
    """
    net = portfolio.net_quantity(inst.id)
    new = net + signed_qty
    if abs(new) <= abs(net) and (new == 0 or (new > 0) == (net > 0)):
        return ""
    need = portfolio.to_account(abs(new) * px * inst.multiplier * inst.margin_rate, inst.quote)
    eq = portfolio.equity() if equity is None else equity
    available = eq - (portfolio.margin_used() - portfolio.margin_for(inst.id)) - fee
    if need > available + _EPS:
        return f"INSUFFICIENT_MARGIN: required={need:.2f} {portfolio.currency}, free={available:.2f}"
    return ""
