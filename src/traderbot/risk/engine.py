"""The pre-trade risk engine: a chain of small checks; the first denial stops the chain.

Every order in every mode passes here before the execution engine persists and sends it. A check returns None
(pass) or a denial text that starts with a DenyReason code and gives its context, e.g.
`NOTIONAL_EXCEEDS_MAX: max=100000 USD, order=150000 USD`. Only configured checks are in the chain, so an
unconfigured limit costs nothing. Order of the chain: kill switch, reconciliation and trading states, locks
(protections, breakers, guards), the order's own validity, guards (market hours, news), the price collar, size
and exposure limits, margin, correlation, then order flow (duplicates, throttle, rate). Exposure, margin and
correlation checks never deny a risk-reducing order.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from traderbot.brokers.sim.rejections import MarketHours
from traderbot.core.bus import MessageBus
from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.kernel.cache import Cache
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk import events
from traderbot.risk.checks_correlation import CorrelationCheck
from traderbot.risk.checks_exposure import ExposureChecks, MarginCheck, OrderSize
from traderbot.risk.checks_flow import FlowChecks
from traderbot.risk.config_sections import LimitsConfig
from traderbot.risk.locks import LockBook
from traderbot.risk.overrides import Overrides
from traderbot.risk.reasons import DenyReason, deny
from traderbot.risk.states import SYSTEM, TradingState, TradingStates

if TYPE_CHECKING:
    from traderbot.risk.config import RiskConfig
    from traderbot.risk.news import NewsBlackout

Check = Callable[[Order], str | None]
SizedCheck = Callable[[Order, OrderSize], str | None]
RiskLimits = LimitsConfig  # the name earlier code and tests use for the per-order limits

_LOCK_REASONS = {
    "protection": DenyReason.PROTECTION_LOCK,
    "breaker": DenyReason.CIRCUIT_BREAKER,
    "guard": DenyReason.GUARD_LOCK,
    "manual": DenyReason.MANUAL_LOCK,
}
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Denial:
    ts: int
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    quantity: str
    code: str
    reason: str


class DenialSink(Protocol):
    def record_denial(self, denial: Denial) -> None: ...


def _exempt(order: Order) -> bool:
    """A filled entry's protective exit or the kill switch's flattening: let through halts and locks when it
    reduces, never throttled."""
    return bool(order.parent_id) or order.tag == "kill_switch"


def _price_problem(label: str, px: Decimal, tick: Decimal) -> str | None:
    if not px.is_finite() or px <= 0:
        return deny(DenyReason.INVALID_PRICE, f"{label}={px}")
    if px % tick:
        return deny(DenyReason.PRICE_PRECISION, f"tick_size={tick}, {label}={px}")
    return None


def _has_position_limits(lim: LimitsConfig) -> bool:
    names = ("max_position_quantity", "max_position_notional")
    per_pair = any(getattr(p, n) is not None for p in lim.pairs.values() for n in names)
    return per_pair or any(getattr(lim, n) is not None for n in names) or lim.max_open_positions is not None


class RiskEngine:
    """Runs the check chain; `state` is the system trading state (ACTIVE, REDUCING, HALTED)."""

    def __init__(
        self,
        cache: Cache,
        portfolio: Portfolio,
        limits: LimitsConfig | None = None,
        states: TradingStates | None = None,
        locks: LockBook | None = None,
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.bus: MessageBus | None = None  # see attach_bus
        self.states = states or TradingStates(now_ns=lambda: cache.now_ns)
        self.locks = locks or LockBook(now_ns=lambda: cache.now_ns)
        self.overrides = Overrides(now_ns=lambda: cache.now_ns)
        self.reconciling: str | None = None  # why orders wait (set by reconciliation until it has finished)
        self.kill_switch_engaged: Callable[[], bool] = lambda: False  # set by the kernel's kill switch
        self.quotes: dict[str, tuple[int, Decimal]] = {}  # live prices: instrument -> (ts, mid)
        self._bar_refs: dict[str, tuple[int, int, tuple[int, Decimal]]] = {}  # (series, bars, (ts, close))
        self._bands: dict[
            str, tuple[tuple[int, Decimal], Decimal, Decimal]
        ] = {}  # collar: (reference, low, high)
        self._seen_ids: set[str] = set()
        self._seen: list[int] = []  # closed bars per series when the memos were last brought up to date
        self._moved_at = -1  # the time the time-only memos were last brought up to date
        self.denied = 0
        self.denials: Counter[str] = Counter()  # reason code -> orders denied (a backtest reports these)
        self.recent: deque[Denial] = deque(maxlen=200)
        self.sink: DenialSink | None = None  # live: the database
        self.config: RiskConfig | None = None
        self._hours = MarketHours()
        self.news: NewsBlackout | None = None
        self.configure_limits(limits or LimitsConfig())

    def attach_bus(self, bus: MessageBus) -> None:
        """Publish risk events on `bus` (topic "risk"): denials, trading-state changes, locks."""
        self.bus = self.states.bus = self._locks.bus = bus

    @property
    def locks(self) -> LockBook:
        return self._locks

    @locks.setter
    def locks(self, book: LockBook) -> None:  # a book swapped in later (the service's) publishes too
        book.bus = self.bus
        self._locks = book

    # ---- configuration -------------------------------------------------------------------------------------
    def configure_limits(self, limits: LimitsConfig) -> None:
        """Only the size and exposure limits (the older, narrower entry point)."""
        from traderbot.risk.config import RiskConfig

        self.apply(RiskConfig(limits=limits))

    def apply(self, config: RiskConfig, news: NewsBlackout | None = None) -> None:
        """Build the whole chain from a validated configuration, then swap it in at once."""
        cache, portfolio = self.cache, self.portfolio
        exposure = ExposureChecks(cache, portfolio, config.limits)
        lim = config.limits
        pre: list[Check] = [self._check_kill_switch, self._check_state, self._check_locks, self._check_duplicate_id,
                            self._check_instrument, self._check_quantity, self._check_prices,
                            self._check_reduce_only]  # fmt: skip
        if config.market_hours:
            pre.append(self._check_market_hours)
        if news is not None:
            pre.append(self._check_news)
        if config.collar is not None:
            pre.append(self._check_collar)
        sized: list[SizedCheck] = []  # every order, reducing or not
        if lim.max_order_quantity or lim.max_order_notional or lim.min_order_notional or lim.pairs:
            sized.append(exposure.check_order_size)
        growing: list[SizedCheck] = []
        if _has_position_limits(lim):
            growing.append(exposure.check_position)
        if lim.max_strategy_notional is not None:
            growing.append(exposure.check_strategy)
        if lim.max_portfolio_notional is not None:
            growing.append(exposure.check_portfolio)
        if lim.max_currency_exposure is not None or lim.currency_limits:
            sized.append(exposure.check_currency)  # every order: closing one pair can grow a currency's total
        if config.margin is not None:
            growing.append(MarginCheck(cache, portfolio, exposure, config.margin).check)
        correlation = CorrelationCheck(cache, portfolio, config.correlation) if config.correlation else None
        flow = FlowChecks(config.flow)
        flows: list[Callable[[Order, int], str | None]] = []
        if config.flow.duplicate_window_s is not None:
            flows.append(flow.check_duplicate)
        if config.flow.max_repeats is not None:
            flows.append(flow.check_repeats)
        if config.flow.max_submits is not None:
            flows.append(flow.check_submit_rate)
        book = bool(set(growing) - {exposure.check_position}) or exposure.check_currency in sized
        # swap everything in at once: a failure above leaves the previous chain untouched
        self._book = book
        self.config, self.news, self.exposure, self.flow = config, news, exposure, flow
        self._pre, self._sized, self._growing, self._flows = pre, sized, growing, flows
        if growing or exposure.check_currency in sized:  # the margin check counts open orders regardless
            exposure.open.rebuild(cache.open_ids.values())
            cache.order_listener = exposure.open.on_order
            exposure.open.on_change = exposure.on_book_change if book else None
        else:
            cache.order_listener = None
        self._correlation = correlation
        self._collar = config.collar
        self._bands = {}
        self._moved_at = -1
        self._collar_age_ns = int(config.collar.max_age_s * _NS) if config.collar else 0

    def revalue(self) -> None:
        """Bring every price-dependent memo up to date now: the exposure and margin sums, the correlations the
        correlation cap would ask for; and what depends on the time: the market-hours calendar day, the news
        windows, the flow windows. The result of a check never depends on
        whether this ran (each memo also catches up on its own at the next order); it only moves the work off
        the order path. A live session runs it as each bar arrives (`follow_bars`)."""
        if self._sized or self._growing:
            self.exposure.begin(self._book)
            for iid in self.cache.primary:  # every pair's unit value (price x rate), not only the book's
                with contextlib.suppress(UserError):  # no rate yet: the order itself will say so
                    self.exposure.unit_value(iid)
        if self._correlation is not None:
            self._correlation.prepare()
        if self._collar is not None:
            for iid in self.cache.primary:
                self.reference(iid)
        self._clock_moved()
        self._seen = list(self.cache.visible)

    def follow_bars(self, bus: MessageBus) -> None:
        """Revalue as each bar arrives on the bus (after the cache has it, before strategies see it)."""
        bus.subscribe("bars", self._on_bar)

    def _on_bar(self, bar: Bar) -> None:
        """Bring the memos up to date for this one bar: only what depends on its pair's price is recomputed
        when nothing else moved since the last revaluation; otherwise everything is revalued."""
        c = self.cache
        k = c.primary.get(bar.instrument_id, -1)
        iid: str | None = bar.instrument_id
        if (
            k < 0 or c.series[k].timeframe.name != bar.timeframe
        ):  # another timeframe: no price is read from it
            iid = None
            k = next((j for j, s in enumerate(c.series)
                      if s.instrument_id == bar.instrument_id and s.timeframe.name == bar.timeframe), -1)  # fmt: skip
        seen, visible = self._seen, c.visible
        if k < 0 or len(seen) != len(visible):
            self.revalue()
            return
        before = sum(seen)
        seen[k] = visible[k]
        if seen != visible or not self._follow(iid, before):
            self.revalue()

    def _follow(self, iid: str | None, before: int) -> bool:
        if (self._sized or self._growing) and not self.exposure.follow(iid, before):
            return False
        if self._correlation is not None:
            if not self._correlation.follow(iid, before):
                return False
            self._correlation.prepare()
        if iid is not None:
            if self._sized or self._growing:
                with contextlib.suppress(UserError):
                    self.exposure.unit_value(iid)
            if self._collar is not None:
                self.reference(iid)
        self._clock_moved()
        return True

    def _clock_moved(self) -> None:
        """What depends on the time alone: the market-hours day, the news windows, the flow windows (once per
        time: the other pairs' bars at the same time find it done)."""
        now, cache = self.cache.now_ns, self.cache
        if now == self._moved_at:
            return
        self._moved_at = now
        if self.config is not None and self.config.market_hours:
            for inst in {i.calendar: i for i in cache.instruments.values()}.values():
                self._hours.problem(inst, now)
        if self.news is not None:
            for iid in cache.primary:
                self.news.active(cache.instruments[iid], now)
        if self._flows:
            self.flow.expire(now)

    def dispose(self) -> None:
        """Drop the chain (bound methods and checkers referring back to the kernel's parts)."""
        self._pre, self._sized, self._growing, self._flows = [], [], [], []
        self._correlation = None
        self.cache.order_listener = None

    @property
    def state(self) -> TradingState:
        """The system-wide trading state (strategies and pairs have their own in `states`)."""
        return self.states.get(SYSTEM)

    @state.setter
    def state(self, value: TradingState) -> None:
        self.states.set(SYSTEM, value, actor="system", reason="set in code")

    # ---- the chain -----------------------------------------------------------------------------------------
    def check(self, order: Order) -> str | None:
        reason = self._run(order)
        if reason is not None:
            self._record(order, reason)
        return reason

    def _run(self, order: Order) -> str | None:
        for chk in self._pre:
            reason = chk(order)
            if reason is not None:
                return reason
        if not (self._sized or self._growing or self._correlation or self._flows):
            return None
        if self._sized or self._growing:
            self.exposure.begin(self._book)
            size = OrderSize(order, self.cache, self.portfolio, self.exposure)
            for sized in self._sized:
                reason = sized(order, size)
                if reason is not None:
                    return reason
        if (self._growing or self._correlation) and not self._shrinks(order):
            for grow in self._growing:
                reason = grow(order, size)
                if reason is not None:
                    return reason
            corr = self._correlation
            if corr is not None and not self._bypassed("correlation", order):
                reason = corr.check(order)
                if reason is not None:
                    return reason
        if self._flows and not _exempt(order):
            now = self.cache.now_ns
            for flow in self._flows:
                reason = flow(order, now)
                if reason is not None:
                    return reason
        return None

    def check_cancel(self, order: Order) -> str | None:
        """A strategy's cancel request: only the cancel rate limit applies (the kill switch never asks)."""
        reason = self.flow.check_cancel_rate(self.cache.now_ns)
        if reason is not None:
            self._record(order, reason)
        return reason

    def _record(self, order: Order, reason: str) -> None:
        code = reason.partition(":")[0]
        self.denied += 1
        self.denials[code] += 1
        d = Denial(self.cache.now_ns, order.client_order_id, order.strategy_id, order.instrument_id,
                   order.side.value, str(order.quantity), code, reason)  # fmt: skip
        self.recent.append(d)
        if self.sink is not None:
            self.sink.record_denial(d)
        events.publish(self.bus, d)

    # ---- helpers -------------------------------------------------------------------------------------------
    def _reduces(self, order: Order) -> bool:
        """True when the order is on the closing side and cannot reverse the position through flat."""
        net = self.portfolio.net_quantity(order.instrument_id)
        closing_side = (net > 0 and order.side is OrderSide.SELL) or (net < 0 and order.side is OrderSide.BUY)
        if not closing_side:
            return False
        return order.reduce_only or (order.equity_fraction is None and order.quantity <= abs(net))

    def _shrinks(self, order: Order) -> bool:
        """True when the order, with the open orders on its side, can only shrink both the pair's net position
        and its strategy's own position (never through flat): such orders skip the exposure checks."""
        if order.equity_fraction is not None:
            return False
        iid, side, qty = order.instrument_id, order.side, order.quantity
        net = self.portfolio._net.get(iid, ZERO)
        selling = side is OrderSide.SELL
        if not (net > 0 if selling else net < 0):  # the common case: an order that adds to the pair
            return False
        pos = self.portfolio.positions.get((order.strategy_id, iid))
        own = pos.quantity if pos is not None else ZERO
        for held, strategy in ((net, None), (own, order.strategy_id)):
            if not (held > 0 if selling else held < 0):
                return False
            if qty + self.exposure.pending(iid, side, strategy) > abs(held):
                return False
        return True

    def _bypassed(self, guard: str, order: Order) -> bool:
        ov = self.overrides
        return bool(ov) and ov.bypassed(guard, order.strategy_id, order.instrument_id, self.cache.now_ns)

    def reference(self, instrument_id: str) -> tuple[int, Decimal] | None:
        """The newest known price of the pair with its time: a live quote or the last closed bar's close."""
        c = self.cache
        best: tuple[int, Decimal] | None = None
        idx = c.primary.get(instrument_id)
        if idx is not None and c.visible[idx]:
            n = c.visible[idx]
            memo = self._bar_refs.get(instrument_id)
            if memo is not None and memo[0] == idx and memo[1] == n:
                best = memo[2]
            else:
                s = c.series[idx]
                px = c.last_price(instrument_id)
                assert px is not None
                best = (int(s.ts[n - 1]) + s.timeframe.ns, px)
                self._bar_refs[instrument_id] = (idx, n, best)
        quote = self.quotes.get(instrument_id)
        if quote is not None and (best is None or quote[0] >= best[0]):
            best = quote
        return best

    def on_price(self, instrument_id: str, ts_ns: int, price: Decimal) -> None:
        """A live price (mid) for the collar's reference."""
        self.quotes[instrument_id] = (ts_ns, price)

    # ---- checks --------------------------------------------------------------------------------------------
    def _check_kill_switch(self, order: Order) -> str | None:
        if not self.kill_switch_engaged():
            return None
        if _exempt(order) and self._reduces(order):
            return None
        return deny(DenyReason.KILL_SWITCH_ENGAGED, "re-arm it first (traderbot risk rearm --reason ...)")

    def _check_state(self, order: Order) -> str | None:
        if self.reconciling is not None and not (order.parent_id and self._reduces(order)):
            # a filled entry's protective exits still go out while reconciling: never leave a position naked
            return deny(DenyReason.RECONCILING, self.reconciling)
        if not self.states.restricted:
            return None
        state, scope = self.states.effective(order.strategy_id, order.instrument_id)
        if state is TradingState.HALTED and not (_exempt(order) and self._reduces(order)):
            # a filled entry's own protective exits (and the kill switch's flattening) still go out
            return deny(DenyReason.TRADING_HALTED, f"state={state.value}, scope={scope}")
        if state is TradingState.REDUCING and not (order.reduce_only or self._reduces(order)):
            return deny(DenyReason.REDUCE_ONLY_STATE, f"state={state.value}, scope={scope}")
        return None

    def _check_locks(self, order: Order) -> str | None:
        if not self._locks:
            return None
        lock = self._locks.effective(order.strategy_id, order.instrument_id, self.cache.now_ns)
        if lock is None:
            return None
        if lock.action is TradingState.REDUCING and (order.reduce_only or self._reduces(order)):
            return None
        if _exempt(order) and self._reduces(order):
            return None
        guard = lock.source.partition(":")[2]
        if lock.source.startswith("guard:") and self._bypassed(guard, order):
            return None
        return deny(
            _LOCK_REASONS.get(lock.source.partition(":")[0], DenyReason.PROTECTION_LOCK), lock.describe()
        )

    def _check_duplicate_id(self, order: Order) -> str | None:
        if order.client_order_id in self._seen_ids:
            return deny(DenyReason.DUPLICATE_CLIENT_ORDER_ID, f"client_order_id={order.client_order_id}")
        self._seen_ids.add(order.client_order_id)
        return None

    def _check_instrument(self, order: Order) -> str | None:
        if order.instrument_id not in self.cache.instruments:
            return deny(DenyReason.UNKNOWN_INSTRUMENT, f"instrument={order.instrument_id}")
        return None

    def _check_quantity(self, order: Order) -> str | None:
        q = order.quantity
        if order.equity_fraction is not None:
            f = order.equity_fraction
            if not f.is_finite() or f <= 0:
                return deny(DenyReason.INVALID_QUANTITY, f"equity_fraction={f}")
            return None
        if not q.is_finite() or q <= 0:
            return deny(DenyReason.INVALID_QUANTITY, f"quantity={q}")
        inst = self.cache.instruments[order.instrument_id]
        if inst.lot_size > 0 and q % inst.lot_size != 0:
            return deny(DenyReason.QUANTITY_PRECISION, f"lot_size={inst.lot_size}, quantity={q}")
        if q < inst.min_quantity:
            return deny(DenyReason.BELOW_MIN_QUANTITY, f"min={inst.min_quantity}, quantity={q}")
        return None

    def _check_prices(self, order: Order) -> str | None:
        price, trigger = order.price, order.trigger_price
        if price is None and trigger is None:
            return None
        tick = self.cache.instruments[order.instrument_id].tick_size
        if price is not None:
            reason = _price_problem("price", price, tick)
            if reason is not None:
                return reason
        return None if trigger is None else _price_problem("trigger_price", trigger, tick)

    def _check_reduce_only(self, order: Order) -> str | None:
        if not order.reduce_only:
            return None
        net = self.portfolio.net_quantity(order.instrument_id)
        if not self._reduces(order) or (order.equity_fraction is None and order.quantity > abs(net)):
            return deny(
                DenyReason.REDUCE_ONLY_VIOLATION, f"position={net}, order={order.side.value} {order.quantity}"
            )
        return None

    def _check_market_hours(self, order: Order) -> str | None:
        problem = self._hours.problem(self.cache.instruments[order.instrument_id], self.cache.now_ns)
        if not problem or self._bypassed("market_hours", order):
            return None
        return deny(DenyReason.MARKET_CLOSED, problem.partition(": ")[2])

    def _check_news(self, order: Order) -> str | None:
        news = self.news
        assert news is not None
        now = self.cache.now_ns
        event = news.active(self.cache.instruments[order.instrument_id], now)
        if event is None or self._reduces(order) or self._bypassed("news", order):
            return None
        return deny(DenyReason.NEWS_BLACKOUT, news.describe(event, now))

    def _check_collar(self, order: Order) -> str | None:
        collar = self._collar
        assert collar is not None
        if order.type is OrderType.MARKET and self._reduces(order):
            return None  # closing at market is never blocked by a missing quote
        if self.overrides and self._bypassed("collar", order):
            return None
        ref = self.reference(order.instrument_id)
        if ref is None:
            return deny(DenyReason.NO_REFERENCE_PRICE, f"{order.instrument_id} has no price yet")
        ts, px = ref
        age_ns = self.cache.now_ns - ts
        if age_ns > self._collar_age_ns:
            return deny(
                DenyReason.STALE_REFERENCE_PRICE,
                f"{order.instrument_id} last price {px} is {age_ns / _NS:.0f} s old, max={collar.max_age_s} s",
            )
        if not px:
            return None
        band = self._bands.get(order.instrument_id)
        if band is None or band[0] is not ref:  # the band moves with the reference only
            width = px * collar.max_deviation_pct / 100
            band = self._bands[order.instrument_id] = (ref, px - width, px + width)
        _, low, high = band
        price, trigger = order.price, order.trigger_price
        if price is not None and not low <= price <= high:
            return _collar_denial("price", price, px, collar.max_deviation_pct)
        if trigger is not None and not low <= trigger <= high:
            return _collar_denial("trigger_price", trigger, px, collar.max_deviation_pct)
        return None


def _collar_denial(label: str, price: Decimal, reference: Decimal, max_pct: Decimal) -> str:
    dev = abs(price - reference) / reference * 100
    return deny(
        DenyReason.PRICE_COLLAR, f"{label}={price} is {dev:.2f}% from reference {reference}, max={max_pct}%"
    )
