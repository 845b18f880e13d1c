"""Run a backtest: the live kernel with a simulated clock replaying stored bars as fast as possible."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from traderbot.analytics.metrics import compute_metrics
from traderbot.backtest.equity import equity_curve
from traderbot.backtest.result import BacktestResult, trades_frame
from traderbot.brokers.sim.costs import NoSlippage, VenueConfig
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import Instrument
from traderbot.risk.config import RiskConfig
from traderbot.risk.engine import RiskLimits
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy


@dataclass
class BacktestSpec:
    """Everything that decides a backtest's outcome. `extra` holds data-only series (e.g. FX conversion pairs)."""

    strategy: type[Strategy]
    pairs: list[tuple[Instrument, BarSeries]]
    params: dict[str, Any] = field(default_factory=dict)
    cash: Decimal = Decimal(10_000)
    account_currency: str | None = None
    venue: VenueConfig = field(default_factory=VenueConfig)
    sizing: Sizing = field(default_factory=lambda: Sizing.parse("all_in"))
    risk: RiskLimits | None = None
    risk_config: RiskConfig | None = None  # the whole risk configuration (overrides `risk` when given)
    extra: list[tuple[Instrument, BarSeries]] = field(default_factory=list)

    def venue_has_slippage(self) -> bool:
        return not isinstance(self.venue.slippage, NoSlippage)


def run_backtest(spec: BacktestSpec) -> BacktestResult:
    if not spec.pairs:
        raise UserError("no pair to backtest: give at least one --pair or --data FILE")
    currency = spec.account_currency or _default_currency(spec.pairs)
    kernel = Kernel(
        account_currency=currency, starting_cash=spec.cash, venue=spec.venue, risk_limits=spec.risk
    )
    kernel.finite_replay = True
    if spec.risk_config is not None:
        kernel.configure_risk(spec.risk_config)
    for inst, series in spec.pairs + spec.extra:
        if len(series) == 0:
            raise UserError(f"no bars for {inst.id} in the chosen range: widen --from/--to")
        kernel.add_data(inst, series)
    sizing = spec.sizing
    if sizing.method == "fraction" and len(spec.pairs) > 1:
        sizing = replace(sizing, value=sizing.value / len(spec.pairs))  # all-in splits equally across pairs
    strategies = []
    for inst, _ in spec.pairs:
        strat = spec.strategy(**spec.params)
        kernel.add_strategy(strat, inst.id, sizing)
        strategies.append(strat)
    ts, sid, row = kernel.schedule()
    kernel.start()
    kernel.run_events(ts, sid, row)
    kernel.stop()
    equity, exposure = equity_curve(kernel.cache, kernel.portfolio, ts, sid, row, start_ns=_first_open(spec))
    trades = trades_frame(kernel.portfolio.trades)
    metrics = compute_metrics(equity, trades, exposure)
    logs = [line for _, ctx in kernel.strategies for line in ctx.logs]
    open_positions = sum(1 for p in kernel.portfolio.positions.values() if p.quantity)
    final_equity = str(kernel.portfolio.equity())
    orders, denied, denials = len(kernel.cache.orders), kernel.risk.denied, dict(kernel.risk.denials)
    rejected = sum(1 for o in kernel.cache.orders.values() if o.status is OrderStatus.REJECTED)
    params = strategies[0].params
    kernel.dispose()
    return BacktestResult(
        strategy=spec.strategy.name,
        params=params,
        pairs=[inst.id for inst, _ in spec.pairs],
        equity=equity,
        exposure=exposure,
        trades=trades,
        metrics=metrics,
        final_equity_exact=final_equity,
        settings=_settings(spec, currency, sizing),
        orders=orders,
        denied=denied,
        denials=denials,
        rejected=rejected,
        bars=len(ts),
        open_positions=open_positions,
        logs=logs,
    )


def _first_open(spec: BacktestSpec) -> int:
    return min(int(s.ts[0]) for _, s in spec.pairs + spec.extra)


def _default_currency(pairs: list[tuple[Instrument, BarSeries]]) -> str:
    quotes = {inst.quote for inst, _ in pairs}
    if len(quotes) == 1:
        return quotes.pop()
    return "USD"


def _settings(spec: BacktestSpec, currency: str, sizing: Sizing) -> dict[str, str]:
    v = spec.venue
    c = v.commission
    return {
        "account_currency": currency,
        "starting_cash": f"{spec.cash}",
        "fill": v.fill_on,
        "spread_pips": f"{v.spread.pips}",
        "price_side": v.spread.price_side,
        "commission": f"per_unit={c.per_unit} pct={c.pct_notional} per_order={c.per_order} min={c.minimum}",
        "slippage": type(v.slippage).__name__,
        "financing": f"long={v.financing.long_rate} short={v.financing.short_rate}",
        "sizing": sizing.describe(),
        **({"venue_realism": ", ".join(v.realism())} if v.realism() else {}),
    }
