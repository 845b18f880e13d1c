"""What a strategy can do, routed through the kernel: read causal data, build indicators, send orders.

Orders go strategy -> risk engine -> execution engine -> venue; nothing bypasses the risk engine.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import numpy as np

from traderbot.core.ids import ClientOrderIdGenerator
from traderbot.core.money import ZERO
from traderbot.data.series import resample_series
from traderbot.errors import UserError
from traderbot.execution.algos.parent import AlgoStatus, ParentOrder
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.instrument import Instrument
from traderbot.model.order import Bracket, Order, TakeProfit
from traderbot.model.timeframe import Timeframe
from traderbot.risk.sizing import Sizing
from traderbot.risk.sizing_methods import (
    EquityPeak,
    bars_per_year,
    drawdown_cut,
    kelly_quantity,
    order_confidence,
    recent_pnls,
    risk_distance,
    vol_target_quantity,
)
from traderbot.strategies.base import indicator_leaves, indicator_views
from traderbot.strategies.views import BarView, Column, IndicatorView

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel
    from traderbot.strategies.base import Strategy


class LookAheadError(UserError):
    """An indicator's past values changed when future bars were added: it peeks ahead."""


@dataclass(frozen=True, slots=True)
class _Const:
    """An indicator argument that is not a column (a period, a factor): passed again as it was."""

    value: Any


@dataclass(slots=True)
class _Built:
    """An indicator as `Strategy.I` built it: the function, its arguments (column names or constants), the
    series, and weak references to the views handed to the strategy."""

    func: Callable[..., Any]
    args: tuple[str | _Const, ...]
    kwargs: dict[str, Any]
    name: str
    sidx: int
    leaves: list[weakref.ReferenceType[IndicatorView]]


_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_BRACKET_KEYS = {"sl", "tp", "trailing_sl", "trailing_atr_sl"}
_ORDER_KEYS = {
    "limit",
    "stop",
    "sl",
    "tp",
    "trailing",
    "trailing_atr",
    "atr_period",
    "reduce_only",
    "tag",
    "pair",
    "tif",
    "trailing_sl",
    "trailing_atr_sl",
    "confidence",  # the signal's confidence in [0, 1]: scales kelly sizing
}
_ALGO_KEYS = {"algo", "pair"}  # an algorithm sends its own market or limit children


class StrategyContext:
    def __init__(self, kernel: Kernel, strategy: Strategy, sizing: Sizing) -> None:
        self.k = kernel
        self.strategy = strategy
        self.sizing = sizing
        self._fraction_note = f"{sizing.describe()} of equity at fill"
        reserve = getattr(
            kernel.execution.journal, "reserve", None
        )  # persistent ids when the journal has them
        self.ids = ClientOrderIdGenerator(kernel.trader_id, strategy.strategy_id, reserve=reserve)
        self._views: dict[tuple[str, str | None], BarView] = {}
        self._built: list[_Built] = []  # how each indicator was made, to compute it again when series grow
        self.indicators: list[str] = []
        self.logs: list[str] = []

    # ---- data ----------------------------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self.k.cache.now_ns

    def bar_view(self, instrument_id: str, timeframe: str | None) -> BarView:
        key = (instrument_id, timeframe)
        view = self._views.get(key)
        if view is None:
            view = self._make_view(instrument_id, timeframe)
            self._views[key] = view
        return view

    def _make_view(self, instrument_id: str, timeframe: str | None) -> BarView:
        cache = self.k.cache
        base_idx = cache.series_index(instrument_id)
        if timeframe is None or Timeframe.parse(timeframe).ns == cache.series[base_idx].timeframe.ns:
            return BarView(cache.series[base_idx], base_idx, self._counter(base_idx))
        tf = Timeframe.parse(timeframe)
        try:
            idx = cache.series_index(instrument_id, tf.ns)
        except UserError:
            derived = resample_series(cache.series[base_idx], tf)
            idx = self.k.add_derived_series(derived)
        return BarView(cache.series[idx], idx, self._counter(idx))

    def _counter(self, idx: int) -> Callable[[], int]:
        """How many bars of series `idx` are visible now: the kernel's counter, or by time for derived series."""
        cache = self.k.cache
        if idx not in self.k._derived:
            return lambda: cache.visible[idx]
        ts_close = cache.series[idx].ts_close
        return lambda: int(np.searchsorted(ts_close, cache.now_ns, side="right"))

    def indicator(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], name: str
    ) -> Any:
        """Run `func` on whole columns, verify it is causal on two prefixes, return bar-by-bar views."""
        cols = [a for a in args if isinstance(a, Column)]
        if not cols:
            raise UserError(f"indicator {name}: pass columns such as self.data.close, not computed arrays")
        sidx = cols[0].series_idx
        series = self.k.cache.series[sidx]
        full = [getattr(series, a.field) if isinstance(a, Column) else a for a in args]
        values = func(*full, **kwargs)
        n = len(series)
        for cut in sorted({n // 2, n - max(1, n // 10)}):
            if cut < 2:
                continue
            part = func(
                *[x[:cut] if isinstance(a, Column) else x for a, x in zip(args, full, strict=True)], **kwargs
            )
            _assert_prefix_equal(values, part, cut, name)
        self.indicators.append(name)
        primary = sidx == self.k.cache.primary.get(series.instrument_id)
        view = self.bar_view(series.instrument_id, None if primary else series.timeframe.name)
        fast = (self.k.cache.visible, sidx) if primary else None
        views = indicator_views(values, view.__len__, name, fast)
        fields = tuple(a.field if isinstance(a, Column) else _Const(a) for a in args)
        leaves = [weakref.ref(v) for v in indicator_leaves(views)]
        self._built.append(_Built(func, fields, kwargs, name, sidx, leaves))
        return views

    def refresh(self, grown: Collection[int]) -> None:
        """Series `grown` got new bars (live trading): views read the new arrays, and each indicator built on
        them is computed again and swapped into the views the strategy holds. The rows the strategy could
        already see must not change (LookAheadError otherwise): the same causality proof as at the start."""
        cache = self.k.cache
        for view in self._views.values():
            if view.series_idx in grown:
                view.rebind(cache.series[view.series_idx], self._counter(view.series_idx))
        kept: list[_Built] = []
        for b in self._built:
            held = [ref() for ref in b.leaves]
            if all(v is None for v in held):  # the strategy dropped it (e.g. rebuilt on new parameters)
                continue
            kept.append(b)
            if b.sidx not in grown:
                continue
            series = cache.series[b.sidx]
            full = [x.value if isinstance(x, _Const) else getattr(series, x) for x in b.args]
            arrays = indicator_leaves(b.func(*full, **b.kwargs))
            for leaf, arr in zip(held, arrays, strict=True):
                if leaf is not None:
                    _assert_prefix_equal(arr, leaf._arr, len(leaf), b.name)
                    leaf.swap(np.asarray(arr))
        self._built = kept

    # ---- account -------------------------------------------------------------------------------------------
    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal:
        pos = self.k.portfolio.positions.get((strategy_id, instrument_id))
        return pos.quantity if pos is not None else ZERO

    def equity(self) -> Decimal:
        return self.k.portfolio.equity()

    # ---- orders --------------------------------------------------------------------------------------------
    def submit(self, strategy: Strategy, side: str, quantity: Any, kw: dict[str, Any]) -> str | None:
        if kw and "algo" in kw:
            return self.submit_algo(strategy, side, quantity, kw)
        if kw and not kw.keys() <= _ORDER_KEYS:
            unknown = sorted(set(kw) - _ORDER_KEYS)
            raise UserError(f"unknown order option {unknown[0]!r}: valid options are {sorted(_ORDER_KEYS)}")
        iid = kw.get("pair") or strategy.instrument_id if kw else strategy.instrument_id
        inst = self.k.cache.instrument(iid)
        if self.k.finite_replay and self._on_last_bar(inst.id):
            self.logs.append(f"{self.k.cache.now_ns} {strategy.strategy_id}: {side} on the last bar ignored")
            return None
        o_side = _SIDES[side]
        limit = stop = trailing = trailing_atr = None
        bracket: Bracket | None = None
        otype = OrderType.MARKET
        if kw:  # options are parsed only when given: a plain market order skips all of this
            limit, stop = _price(kw.get("limit"), inst), _price(kw.get("stop"), inst)
            trailing, trailing_atr = _dec(kw.get("trailing")), _dec(kw.get("trailing_atr"))
            if trailing is not None or trailing_atr is not None:
                otype = OrderType.TRAILING_STOP
            elif limit is not None and stop is not None:
                otype = OrderType.STOP_LIMIT
            elif limit is not None:
                otype = OrderType.LIMIT
            elif stop is not None:
                otype = OrderType.STOP
            bracket = _bracket(kw, inst) if kw.keys() & _BRACKET_KEYS else None
        qty, fraction, note = self._size(strategy, iid, o_side, quantity, bracket, limit or stop, kw)
        order = Order(
            self.ids.generate(),
            inst.id,
            strategy.strategy_id,
            o_side,
            otype,
            qty,
            self.k.cache.now_ns,
            limit,
            stop,
            trailing,
            trailing_atr,
            int(kw.get("atr_period", 14)) if kw else 14,
            TimeInForce(kw["tif"]) if kw and "tif" in kw else TimeInForce.GTC,
            bool(kw.get("reduce_only", False)) if kw else False,
            fraction,
            bracket,
            tag=str(kw.get("tag", "")) if kw else "",
            sizing_note=note,
        )
        return self.k.send(order)

    def submit_algo(self, strategy: Strategy, side: str, quantity: Any, kw: dict[str, Any]) -> str | None:
        """Start an execution algorithm (TWAP, VWAP, Iceberg); its parent id, or None when it was refused."""
        extra = sorted(set(kw) - _ALGO_KEYS)
        if extra:
            raise UserError(
                f"option {extra[0]!r} cannot be combined with algo=: the algorithm sends its own market or "
                f"limit children; with algo= use only {sorted(_ALGO_KEYS)}"
            )
        algo = kw["algo"]
        if not callable(getattr(algo, "plan", None)):
            raise UserError(f"algo= takes TWAP(...), VWAP(...) or Iceberg(...), not {type(algo).__name__}")
        iid = kw.get("pair") or strategy.instrument_id
        cache = self.k.cache
        if self.k.finite_replay and iid in cache.primary and self._on_last_bar(iid):
            self.logs.append(
                f"{cache.now_ns} {strategy.strategy_id}: {side} {algo.name} on the last bar ignored"
            )
            return None
        o_side = _SIDES[side]
        qty = _dec(quantity)
        if qty is None and iid in cache.instruments:
            qty, fraction, _ = self._size(strategy, iid, o_side, None, None, None)
            if fraction is not None:
                raise UserError(
                    f"{algo.name} needs a quantity: pass one (self.{side}(qty, algo=...)) or use units or risk "
                    "sizing; all-in sizing is decided at one fill price, which an algorithm's children do not share"
                )
        parent = self.k.algos.submit(
            algo,
            strategy_id=strategy.strategy_id,
            instrument_id=iid,
            side=o_side,
            quantity=qty if qty is not None else Decimal("NaN"),
            new_id=self.ids.generate,
        )
        if parent.status is AlgoStatus.FAILED and not parent.child_ids:
            self.logs.append(f"{cache.now_ns} {strategy.strategy_id}: {algo.name} refused: {parent.reason}")
            return None
        return parent.parent_id

    def parent_order(self, strategy: Strategy, parent_id: str) -> ParentOrder | None:
        parent = self.k.algos.get(parent_id)
        return parent if parent is not None and parent.strategy_id == strategy.strategy_id else None

    def working_algo_ids(self, strategy_id: str, instrument_id: str) -> list[str]:
        return [p.parent_id for p in self.k.algos.working(strategy_id, instrument_id)]

    def _size(
        self,
        strategy: Strategy,
        iid: str,
        side: OrderSide,
        quantity: Any,
        bracket: Bracket | None,
        entry: Decimal | None,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Decimal, Decimal | None, str]:
        """The quantity (or equity fraction, for all_in and fraction) and a note of how it was found.

        Formulas: `traderbot.risk.sizing_methods`; sizes are rounded down to lots after the drawdown cut."""
        inst = self.k.cache.instruments[iid]
        confidence = order_confidence(options.get("confidence") if options else None)
        if quantity is not None:
            q = _dec(quantity)
            return (q if q is not None else Decimal("NaN")), None, "explicit"
        s = self.sizing
        factor: Decimal | None = None
        dd = ""
        if s.drawdown is not None:
            peak: EquityPeak | None = getattr(self, "_equity_peak", None)
            if peak is None:  # tracked from the first sized order on, and at every close of its trades
                peak = self._equity_peak = EquityPeak(strategy.strategy_id, self.k.portfolio.equity)
                self.k.bus.subscribe("trades", peak.on_trade)
            factor, dd = drawdown_cut(s.drawdown, peak)
        if s.method == "fraction":
            return ZERO, (s.value if factor is None else s.value * factor), self._fraction_note + dd
        if s.method == "units":
            units = s.value if factor is None else s.value * factor
            return inst.round_quantity(units), None, f"units:{s.value}{dd}"
        px = entry or self.k.cache.last_price(iid)
        if px is None:
            return Decimal("NaN"), None, f"{s.method} sizing without a price"
        equity = self.k.portfolio.equity()
        if s.method == "risk":
            dist, how = risk_distance(s, px, bracket, self.bar_view(iid, None))
            if not dist.is_finite() or dist <= 0:
                return Decimal("NaN"), None, f"risk sizing: no usable {how}"
            per_unit = self.k.portfolio.to_account(dist * inst.multiplier, inst.quote)
            raw = equity * s.value / 100 / per_unit
            note = f"risk:{s.value}% equity={equity:.2f} dist={dist} ({how}){dd}"
            return inst.round_quantity(raw if factor is None else raw * factor), None, note
        unit_value = self.k.portfolio.to_account(px * inst.multiplier, inst.quote)
        if s.method == "vol":
            bars = self.bar_view(iid, None)
            per_year = bars_per_year(inst.calendar, Timeframe.parse(bars.timeframe).seconds)
            raw, note = vol_target_quantity(s, bars.close, per_year, equity, unit_value)
        else:
            pnls = recent_pnls(self.k.portfolio.trades, strategy.strategy_id, iid, s.window)
            raw, note = kelly_quantity(s, pnls, confidence, equity, unit_value)
        if not raw.is_finite():
            return Decimal("NaN"), None, note
        q = inst.round_quantity(raw if factor is None else raw * factor)
        return q, None, f"{note} price={px}{dd} -> {q} units"

    def _on_last_bar(self, instrument_id: str) -> bool:
        idx = self.k.cache.primary[instrument_id]
        return self.k.cache.visible[idx] >= len(self.k.cache.series[idx])

    def close_position(self, strategy: Strategy, instrument_id: str) -> str | None:
        qty = self.position_qty(strategy.strategy_id, instrument_id)
        if qty == 0:
            return None
        if self.k.finite_replay and self._on_last_bar(instrument_id):
            return None
        if self.k.cache.open_ids:
            for order in self.k.cache.open_orders(instrument_id, strategy.strategy_id):
                if order.reduce_only:  # the position's own exits (bracket children) go with it
                    self.k.execution.cancel(order)
        order = Order(
            self.ids.generate(),
            instrument_id,
            strategy.strategy_id,
            OrderSide.SELL if qty > 0 else OrderSide.BUY,
            OrderType.MARKET,
            abs(qty),
            self.k.cache.now_ns,
            reduce_only=True,
            tag="close",
            sizing_note="close",
        )
        return self.k.send(order)

    def cancel(self, strategy: Strategy, client_order_id: str) -> None:
        parent = self.k.algos.get(client_order_id)
        if parent is not None:  # an algorithm's parent: stop it and cancel its working children
            if parent.strategy_id != strategy.strategy_id:
                raise UserError(f"algo {client_order_id} does not belong to strategy {strategy.strategy_id}")
            self.k.algos.cancel(client_order_id, f"CANCELED: by strategy {strategy.strategy_id}")
            return
        order = self.k.cache.orders.get(client_order_id)
        if order is None or order.strategy_id != strategy.strategy_id:
            raise UserError(f"order {client_order_id} does not belong to strategy {strategy.strategy_id}")
        self.k.execution.cancel(order)

    def open_order_ids(self, strategy_id: str, instrument_id: str) -> list[str]:
        return [o.client_order_id for o in self.k.cache.open_orders(instrument_id, strategy_id)]

    def log(self, strategy: Strategy, message: str) -> None:
        self.logs.append(f"{self.k.cache.now_ns} {strategy.strategy_id}: {message}")


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("NaN")


def _price(value: Any, inst: Instrument) -> Decimal | None:
    """Float prices (computed by strategies) are rounded to the tick; Decimals are taken as given and checked."""
    d = _dec(value)
    if isinstance(value, float) and d is not None and d.is_finite():
        return inst.round_price(d)
    return d


def _bracket(kw: dict[str, Any], inst: Instrument) -> Bracket | None:
    sl, tp = _price(kw.get("sl"), inst), kw.get("tp")
    tsl, tatr = _dec(kw.get("trailing_sl")), _dec(kw.get("trailing_atr_sl"))
    tps: tuple[TakeProfit, ...] = ()
    if tp is not None:
        if isinstance(tp, list | tuple):
            tps = tuple(TakeProfit(_price(p, inst) or Decimal("NaN"), _dec(f) or Decimal(0)) for p, f in tp)
        else:
            tps = (TakeProfit(_price(tp, inst) or Decimal("NaN")),)
    if sl is None and not tps and tsl is None and tatr is None:
        return None
    return Bracket(
        stop_loss=sl,
        take_profits=tps,
        trailing_offset=tsl,
        trailing_atr_multiple=tatr,
        atr_period=int(kw.get("atr_period", 14)),
    )


def _assert_prefix_equal(full: Any, part: Any, cut: int, name: str) -> None:
    fa = full if isinstance(full, tuple | list) else (full,)
    pa = part if isinstance(part, tuple | list) else (part,)
    for f, p in zip(fa, pa, strict=False):
        f = np.asarray(f)[:cut]
        p = np.asarray(p)[:cut]
        same = (f == p) | (np.isnan(f) & np.isnan(p)) if f.dtype.kind == "f" else f == p
        if not np.all(same):
            bad = int(np.flatnonzero(~same)[0])
            raise LookAheadError(
                f"indicator {name} uses future data: its value at bar {bad} changes when later bars are added; "
                "compute it from past and current bars only"
            )
