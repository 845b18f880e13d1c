"""The pre-trade parts of the risk configuration: limits, price collar, order flow, margin, correlation.

Every section is strict (unknown keys refused) and checked for impossible or contradictory values when it is
loaded, so an engine never starts with a half-valid configuration. Money is in the account currency.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator, model_validator

from traderbot.risk.currencies import check_currency
from traderbot.risk.section import Section


def _positive(v: Decimal | int | None, what: str = "a limit") -> None:
    if v is not None and (not Decimal(v).is_finite() or v <= 0):
        raise ValueError(f"{what} must be a positive number, got {v}; remove it to switch the limit off")


def _pct(v: Decimal | None) -> Decimal | None:
    if v is not None and not (0 < v <= 100):
        raise ValueError(f"a percentage must be in (0, 100], got {v}")
    return v


class PairLimits(Section):
    """Per-pair overrides; a value set here replaces the account-wide one for that pair."""

    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position_quantity: Decimal | None = None
    max_position_notional: Decimal | None = None

    @model_validator(mode="after")
    def _check(self) -> PairLimits:
        for name in type(self).model_fields:
            _positive(getattr(self, name))
        return self


class LimitsConfig(Section):
    """Size and exposure limits. Exposure counts open orders (`count_open_orders`) so a burst of orders cannot
    pass one by one and fill past a limit together."""

    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    min_order_notional: Decimal | None = None
    max_position_quantity: Decimal | None = None  # per pair, net over strategies
    max_position_notional: Decimal | None = None  # per pair
    max_strategy_notional: Decimal | None = None  # gross over one strategy's positions
    max_portfolio_notional: Decimal | None = None  # gross over every position
    max_open_positions: int | None = None  # pairs with a non-zero net position
    max_currency_exposure: Decimal | None = (
        None  # per currency, |net| (FX pairs decomposed into two currencies)
    )
    currency_limits: dict[str, Decimal] = Field(default_factory=dict)  # per-currency max_currency_exposure
    pairs: dict[str, PairLimits] = Field(default_factory=dict)
    count_open_orders: bool = True

    @field_validator("currency_limits")
    @classmethod
    def _currencies(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        out = {}
        for code, limit in v.items():
            _positive(limit, f"the exposure limit for {code}")
            out[check_currency(code)] = limit
        return out

    @model_validator(mode="after")
    def _check(self) -> LimitsConfig:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                _positive(value)
        pairs = [("min_order_notional", "max_order_notional"),
                 ("max_position_notional", "max_strategy_notional"),
                 ("max_position_notional", "max_portfolio_notional"),
                 ("max_strategy_notional", "max_portfolio_notional")]  # fmt: skip
        for low, high in pairs:
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is larger than {high} ({hi}): make {low} <= {high}")
        return self

    def pair(self, instrument_id: str, name: str) -> Decimal | None:
        over = self.pairs.get(instrument_id)
        value = getattr(over, name) if over is not None else None
        return value if value is not None else getattr(self, name, None)


class CollarConfig(Section):
    """Limit and stop prices must lie within `max_deviation_pct` of a reference price no older than
    `max_age_s`; without a fresh reference every order is denied (NO_REFERENCE_PRICE, STALE_REFERENCE_PRICE)."""

    max_deviation_pct: Decimal = Decimal(5)
    max_age_s: Decimal = Decimal(300)

    @model_validator(mode="after")
    def _check(self) -> CollarConfig:
        _pct(self.max_deviation_pct)
        _positive(self.max_age_s, "max_age_s")
        return self


class FlowConfig(Section):
    """Order-flow controls: duplicate-order window, submit/cancel rate limits, repeated-execution throttle."""

    duplicate_window_s: Decimal | None = None  # the same order (pair, side, type, size, price) again
    max_submits: int | None = None  # per rate_window_s
    max_cancels: int | None = None  # per rate_window_s (strategy cancels; the kill switch is never limited)
    rate_window_s: Decimal = Decimal(1)
    max_repeats: int | None = None  # orders on the same pair and side by one strategy per repeat_window_s
    repeat_window_s: Decimal = Decimal(60)

    @model_validator(mode="after")
    def _check(self) -> FlowConfig:
        for name in type(self).model_fields:
            _positive(getattr(self, name), name)
        return self


class MarginConfig(Section):
    """Free margin must cover the order's margin plus that of open orders, leaving `min_free_margin_pct` of
    equity free."""

    min_free_margin_pct: Decimal = Decimal(0)

    @field_validator("min_free_margin_pct")
    @classmethod
    def _range(cls, v: Decimal) -> Decimal:
        if not (0 <= v < 100):
            raise ValueError(f"min_free_margin_pct must be in [0, 100), got {v}")
        return v


class CorrelationConfig(Section):
    """No more than `max_positions` open positions (counting the new one) whose rolling return correlation,
    signed by direction, exceeds `threshold` over `lookback_bars` bars."""

    max_positions: int = 2
    threshold: Decimal = Decimal("0.8")
    lookback_bars: int = 100

    @model_validator(mode="after")
    def _check(self) -> CorrelationConfig:
        if self.max_positions < 1:
            raise ValueError(f"max_positions must be at least 1, got {self.max_positions}")
        if not (0 < self.threshold < 1):
            raise ValueError(f"threshold is a correlation in (0, 1), got {self.threshold}")
        if self.lookback_bars < 10:
            raise ValueError(
                f"lookback_bars must be at least 10 to estimate a correlation, got {self.lookback_bars}"
            )
        return self
