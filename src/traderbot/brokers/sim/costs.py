"""Trading costs of the simulated venue: spread, slippage, commission, financing. All exact (Decimal).

Prices in the data are one side (`bid` or `mid`); buys pay the ask, sells receive the bid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from traderbot.brokers.sim.faults import FaultPlan
from traderbot.brokers.sim.latency import LatencyModel
from traderbot.brokers.sim.participation import check_participation
from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument


@dataclass(frozen=True, slots=True)
class SpreadModel:
    """Fixed spread in pips, or the per-bar spread column when the data has one (bid/ask data)."""

    pips: Decimal = ZERO
    price_side: str = "bid"  # what the data's prices are: "bid" or "mid"

    def spread(self, instrument: Instrument, bar_spread: float | None) -> Decimal:
        if bar_spread is not None and bar_spread == bar_spread:
            return Decimal(repr(bar_spread))
        return self.pips * instrument.pip_size

    def executable(self, data_price: Decimal, is_buy: bool, spread: Decimal) -> Decimal:
        """The price a buy (ask) or sell (bid) trades at, given the data's price side."""
        if self.price_side == "mid":
            half = spread / 2
            return data_price + half if is_buy else data_price - half
        return data_price + spread if is_buy else data_price


class SlippageModel(Protocol):
    def slippage(
        self, instrument: Instrument, quantity: Decimal, bar_range: Decimal, bar_volume: float
    ) -> Decimal:
        """Adverse price move (>= 0, in price units) for a market or stop fill."""
        ...


@dataclass(frozen=True, slots=True)
class NoSlippage:
    def slippage(
        self, instrument: Instrument, quantity: Decimal, bar_range: Decimal, bar_volume: float
    ) -> Decimal:
        return ZERO


@dataclass(frozen=True, slots=True)
class FixedSlippage:
    """A fixed number of pips against every market/stop fill."""

    pips: Decimal

    def slippage(
        self, instrument: Instrument, quantity: Decimal, bar_range: Decimal, bar_volume: float
    ) -> Decimal:
        return self.pips * instrument.pip_size


@dataclass(frozen=True, slots=True)
class VolumeSlippage:
    """Square-root impact: k * bar_range * sqrt(quantity / bar_volume), capped at one bar range."""

    k: Decimal = Decimal("0.1")

    def slippage(
        self, instrument: Instrument, quantity: Decimal, bar_range: Decimal, bar_volume: float
    ) -> Decimal:
        if bar_volume <= 0:
            return ZERO
        part = min(Decimal(1), (quantity / Decimal(repr(bar_volume))).sqrt())
        return self.k * bar_range * part


@dataclass(frozen=True, slots=True)
class VolatilitySlippage:
    """A fraction of the bar's high-low range."""

    fraction: Decimal = Decimal("0.05")

    def slippage(
        self, instrument: Instrument, quantity: Decimal, bar_range: Decimal, bar_volume: float
    ) -> Decimal:
        return self.fraction * bar_range


def parse_slippage(text: str) -> SlippageModel:
    """A slippage model from `none`, `fixed:PIPS`, `volume[:K]` or `volatility[:FRACTION]` (config, CLI)."""
    name, _, arg = text.strip().lower().partition(":")
    try:
        value = Decimal(arg) if arg else None
    except ArithmeticError:
        value = Decimal("NaN")
    bad = value is not None and (not value.is_finite() or value < 0)
    if name == "none" and value is None:
        return NoSlippage()
    if name == "fixed" and value is not None and not bad:
        return FixedSlippage(value)
    if name == "volume" and not bad:
        return VolumeSlippage() if value is None else VolumeSlippage(value)
    if name == "volatility" and not bad:
        return VolatilitySlippage() if value is None else VolatilitySlippage(value)
    raise UserError(
        f"slippage {text!r} is not valid: use none, fixed:PIPS, volume:K or volatility:FRACTION "
        "with a number >= 0"
    )


@dataclass(frozen=True, slots=True)
class CommissionModel:
    """Commission in the quote currency: per unit + percent of notional + per order, with a per-order minimum."""

    per_unit: Decimal = ZERO
    pct_notional: Decimal = ZERO  # 0.001 = 0.1 %
    per_order: Decimal = ZERO
    minimum: Decimal = ZERO

    def commission(self, quantity: Decimal, price: Decimal, multiplier: Decimal) -> Decimal:
        return self._order_fee(quantity, quantity * price * multiplier)

    def commission_part(
        self,
        filled_qty: Decimal,
        filled_cost: Decimal,
        quantity: Decimal,
        price: Decimal,
        multiplier: Decimal,
    ) -> Decimal:
        """The fee of a further partial fill: what the whole order owes now minus what its earlier parts paid,
        so the per-order fee and the minimum are charged once per order, not once per part."""
        before = self._order_fee(filled_qty, filled_cost * multiplier)
        return self._order_fee(filled_qty + quantity, (filled_cost + quantity * price) * multiplier) - before

    def _order_fee(self, quantity: Decimal, notional: Decimal) -> Decimal:
        fee = self.per_unit * quantity + self.pct_notional * notional + self.per_order
        return max(fee, self.minimum) if fee > 0 or self.minimum > 0 else ZERO

    @property
    def is_zero(self) -> bool:
        return self.per_unit == 0 and self.pct_notional == 0 and self.per_order == 0 and self.minimum == 0


@dataclass(frozen=True, slots=True)
class FinancingModel:
    """Overnight financing (swap): annual rates on position notional, charged at each 22:00 UTC rollover.

    A positive rate is a cost; a negative rate is a credit. Charged in the quote currency.
    """

    long_rate: Decimal = ZERO
    short_rate: Decimal = ZERO
    rollover_hour_utc: int = 22

    def charge(self, signed_qty: Decimal, price: Decimal, multiplier: Decimal, days: int) -> Decimal:
        rate = self.long_rate if signed_qty > 0 else self.short_rate
        return abs(signed_qty) * price * multiplier * rate * days / Decimal(365)

    @property
    def is_zero(self) -> bool:
        return self.long_rate == 0 and self.short_rate == 0


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """Everything that decides how the simulated venue fills: fill rule, costs, margin, and the realism
    features (all off by default): latency, volume participation, market hours, precision checks, faults.
    docs/simulated_venue.md describes each."""

    fill_on: str = "next_open"  # or "close": market orders fill at the close of the bar they were sent on
    spread: SpreadModel = SpreadModel()
    slippage: SlippageModel = NoSlippage()
    commission: CommissionModel = CommissionModel()
    financing: FinancingModel = FinancingModel()
    leverage_cap: Decimal | None = None  # None: use each instrument's margin rate
    latency: LatencyModel | None = None  # order and cancel delays; None: instant
    participation: Decimal | None = None  # max fraction of a bar's volume one order fills; None: no cap
    enforce_market_hours: bool = False  # reject orders arriving while the calendar says closed
    check_precision: bool = False  # reject quantities off the lot size / below minimum, prices off the tick
    faults: FaultPlan | None = None  # injected faults for tests of the order management

    def __post_init__(self) -> None:
        if self.fill_on not in ("next_open", "close"):
            raise UserError(f"fill_on={self.fill_on!r} is not valid: use next_open or close")
        object.__setattr__(self, "participation", check_participation(self.participation))

    def realism(self) -> list[str]:
        """The realism features switched on (the vectorised sweep path mirrors none of them)."""
        on = [
            ("latency", self.latency is not None and not self.latency.is_zero),
            ("participation", self.participation is not None),
            ("enforce_market_hours", self.enforce_market_hours),
            ("faults", self.faults is not None),
            ("dynamic_spread", type(self.spread) is not SpreadModel),
            ("slippage_model", not isinstance(self.slippage, NoSlippage | FixedSlippage)),
        ]
        return [name for name, flag in on if flag]
