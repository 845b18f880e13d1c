"""The Strategy base class: what a trader writes, in one file.

    class SmaCross(Strategy):
        name = "sma_cross"
        fast = IntParam(10, low=2, high=200)
        slow = IntParam(30, low=3, high=400)

        def on_start(self) -> None:
            self.f = self.I(sma, self.data.close, self.fast)
            self.s = self.I(sma, self.data.close, self.slow)

        def on_bar(self, bar: Bar) -> None:
            if self.f[-2] < self.s[-2] and self.f[-1] > self.s[-1]:
                self.buy()

Strategies see only closed bars (`self.data`, `self.bars(...)`); indicators built with `self.I` are computed once
and checked for causality, then exposed bar by bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from traderbot.model.data import Bar
from traderbot.strategies.params import Param, declared_params, resolve_params
from traderbot.strategies.views import BarView, IndicatorView

if TYPE_CHECKING:
    from traderbot.core.messages import OrderFilled
    from traderbot.execution.algos.parent import ParentOrder
    from traderbot.kernel.strategy_context import StrategyContext


class Strategy:
    """Subclass it, declare parameters as class attributes, override the hooks."""

    name: ClassVar[str] = "strategy"
    description: ClassVar[str] = ""
    _params: dict[str, Any]

    def __init__(self, **params: Any) -> None:
        self._params = resolve_params(type(self), params)
        self.validate()
        self._ctx: StrategyContext | None = None
        self.instrument_id = ""
        self.strategy_id = self.name

    # ---- declared parameters ------------------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> dict[str, Param[Any]]:
        return dict(declared_params(cls))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def validate(self) -> None:
        """Check relations between parameters; raise UserError with one clear sentence."""

    def switch_params(self, params: dict[str, Any]) -> None:
        """Take a new parameter set while running (a newly promoted version): checked in full first, so a bad
        set leaves the running one untouched; then `on_params_changed` rebuilds what depends on them."""
        new = resolve_params(type(self), params)
        old = self._params
        self._params = new
        try:
            self.validate()
        except Exception:
            self._params = old
            raise
        if self._ctx is not None:
            self.on_params_changed()

    def on_params_changed(self) -> None:
        """Override to rebuild indicators or state that depend on the parameters (called while running)."""

    # ---- hooks ---------------------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Build indicators with `self.I`; no bar has closed yet."""

    def on_bar(self, bar: Bar) -> None:
        """Called when a bar of the strategy's pair closes."""

    def on_fill(self, fill: OrderFilled) -> None:
        """Called for each fill of this strategy's orders."""

    def on_stop(self) -> None:
        """Called once at the end of a run or when the strategy is stopped."""

    # ---- data ----------------------------------------------------------------------------------------------
    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.name} is not attached to a kernel yet")
        return self._ctx

    @property
    def data(self) -> BarView:
        """Closed bars of the strategy's own pair at its primary timeframe."""
        return self.ctx.bar_view(self.instrument_id, None)

    def bars(self, pair: str | None = None, timeframe: str | None = None) -> BarView:
        """Closed bars of another timeframe (resampled on the fly) and/or another loaded pair."""
        return self.ctx.bar_view(pair or self.instrument_id, timeframe)

    def I(self, func: Any, *args: Any, name: str | None = None, **kwargs: Any) -> Any:  # noqa: E743 - the familiar backtesting.py name
        """Compute an indicator over the whole series once, prove it causal, expose it bar by bar."""
        return self.ctx.indicator(func, args, kwargs, str(name or getattr(func, "__name__", "indicator")))

    @property
    def now_ns(self) -> int:
        return self.ctx.now_ns()

    # ---- account -------------------------------------------------------------------------------------------
    def position(self, pair: str | None = None) -> Decimal:
        """Signed quantity held by this strategy in `pair` (default: its own)."""
        return self.ctx.position_qty(self.strategy_id, pair or self.instrument_id)

    @property
    def equity(self) -> Decimal:
        return self.ctx.equity()

    # ---- orders --------------------------------------------------------------------------------------------
    def buy(self, quantity: Decimal | float | None = None, **kwargs: Any) -> str | None:
        """Buy at market, or with `limit=`/`stop=`; `sl=`, `tp=` (one price or [(price, fraction), ...]),
        `trailing=` (distance) or `trailing_atr=` (ATR multiple) attach exits; `confidence=` (0..1) scales
        Kelly sizing. Returns the client order id, or None when the risk engine denied the order.

        With `algo=TWAP(...)`, `VWAP(...)` or `Iceberg(...)` the quantity is worked by an execution algorithm
        through child orders; the parent id ("ALG-...") is returned, or None when the algorithm was refused
        (the reason is in the strategy's log)."""
        return self.ctx.submit(self, "buy", quantity, kwargs)

    def sell(self, quantity: Decimal | float | None = None, **kwargs: Any) -> str | None:
        """Sell (or go short) at market, or with `limit=`/`stop=`; same options as `buy`, `algo=` included."""
        return self.ctx.submit(self, "sell", quantity, kwargs)

    def close(self, pair: str | None = None) -> str | None:
        """Flatten this strategy's position in `pair` with a reduce-only market order."""
        return self.ctx.close_position(self, pair or self.instrument_id)

    def cancel(self, client_order_id: str) -> None:
        """Cancel an order, or an algorithm by its parent id (which cancels all its working children)."""
        self.ctx.cancel(self, client_order_id)

    def cancel_all(self, pair: str | None = None) -> None:
        for pid in self.ctx.working_algo_ids(self.strategy_id, pair or self.instrument_id):
            self.ctx.cancel(self, pid)  # first, or they would replace the children canceled below
        for oid in self.ctx.open_order_ids(self.strategy_id, pair or self.instrument_id):
            self.ctx.cancel(self, oid)

    def parent_order(self, parent_id: str) -> ParentOrder | None:
        """This strategy's algorithm parent: status, filled quantity, exact average price, child ids."""
        return self.ctx.parent_order(self, parent_id)

    def log(self, message: str) -> None:
        self.ctx.log(self, message)


def indicator_views(values: Any, count: Any, name: str, visible: tuple[list[int], int] | None = None) -> Any:
    """Wrap an indicator's output (array, tuple/NamedTuple of arrays, or an object of arrays) in causal views."""
    import dataclasses

    import numpy as np

    if isinstance(values, np.ndarray):
        return IndicatorView(values, count, name, visible)
    if hasattr(values, "_fields"):
        return type(values)(
            *[
                indicator_views(v, count, f"{name}.{f}", visible)
                for f, v in zip(values._fields, values, strict=True)
            ]
        )
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        from types import SimpleNamespace

        return SimpleNamespace(
            **{
                f.name: indicator_views(getattr(values, f.name), count, f"{name}.{f.name}", visible)
                for f in dataclasses.fields(values)
            }
        )
    if isinstance(values, Sequence):
        return tuple(indicator_views(v, count, f"{name}[{i}]", visible) for i, v in enumerate(values))
    raise TypeError(f"indicator {name} returned {type(values).__name__}; return NumPy arrays")


def indicator_leaves(obj: Any) -> list[Any]:
    """The arrays of an indicator's output, or the views `indicator_views` made of them, in one order (depth
    first), so values computed again can be paired with the views a strategy holds."""
    import dataclasses

    if isinstance(obj, IndicatorView) or hasattr(obj, "__array_interface__"):
        return [obj]
    if hasattr(obj, "_fields") or isinstance(obj, Sequence):
        return [leaf for item in obj for leaf in indicator_leaves(item)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [leaf for f in dataclasses.fields(obj) for leaf in indicator_leaves(getattr(obj, f.name))]
    return [leaf for item in vars(obj).values() for leaf in indicator_leaves(item)]  # SimpleNamespace
