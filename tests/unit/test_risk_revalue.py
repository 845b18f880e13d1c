"""The engine revalues its price-dependent sums as bars arrive (live sessions follow the bus's "bars"), which only
moves work off the order path: every check decides exactly as it would have without it."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count

import numpy as np
import pandas as pd

from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.book_sums import BookSums
from traderbot.risk.config import RiskConfig
from traderbot.risk.config_sections import CorrelationConfig, LimitsConfig, MarginConfig

N_BARS = 30
CONFIG = RiskConfig(
    limits=LimitsConfig(
        max_strategy_notional=D(60_000), max_portfolio_notional=D(80_000), max_currency_exposure=D(50_000)
    ),
    margin=MarginConfig(min_free_margin_pct=D(10)),
)


def kernel(follow: bool) -> Kernel:
    k = Kernel(account_currency="USD", starting_cash=D(20_000))
    ts = pd.date_range("2024-01-02", periods=N_BARS, freq="1h", tz="UTC")
    rng = np.random.default_rng(7)
    for iid, px in {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0}.items():
        c = px * np.exp(np.cumsum(rng.normal(0, 0.004, N_BARS)))
        frame = pd.DataFrame({"ts": ts, "open": c, "high": c * 1.001, "low": c * 0.999, "close": c})
        k.add_data(get_instrument(iid), BarSeries.from_frame(frame, iid, "1h"))
    k.risk.apply(CONFIG)
    if follow:
        k.risk.follow_bars(k.bus)
    return k


def run(follow: bool) -> tuple[list[str | None], list[int]]:
    """Send a fixed stream of orders bar by bar; the decisions, and after each bar whether the sums were
    already revalued for it before any order asked."""
    k = kernel(follow)
    ids = count()
    ts, sid, row = k.schedule()
    decisions: list[str | None] = []
    fresh: list[int] = []
    per_bar = len(k.cache.series)
    for b in range(N_BARS - 1):
        k.run_events(ts[b * per_bar : (b + 1) * per_bar], sid[b * per_bar : (b + 1) * per_bar],
                     row[b * per_bar : (b + 1) * per_bar])  # fmt: skip
        fresh.append(int(k.risk.exposure._gen == sum(k.cache.visible)))
        for n, iid in enumerate(("EURUSD", "GBPUSD", "USDJPY")):
            inst = k.cache.instruments[iid]
            px = k.cache.last_price(iid)
            assert px is not None
            side = OrderSide.BUY if (b + n) % 3 else OrderSide.SELL
            qty = D(5_000 * (1 + (b * 7 + n) % 4))
            limit = inst.round_price(px * (D("0.999") if side is OrderSide.BUY else D("1.001")))
            kind = OrderType.LIMIT if (b + n) % 2 else OrderType.MARKET
            o = Order(f"O{next(ids)}", iid, "S", side, kind, qty, k.cache.now_ns,
                      price=limit if kind is OrderType.LIMIT else None)  # fmt: skip
            k.send(o)
            decisions.append(o.reason or None)
    return decisions, fresh


def test_following_bars_changes_no_decision_and_has_the_sums_ready() -> None:
    lazy, lazy_fresh = run(follow=False)
    eager, eager_fresh = run(follow=True)
    assert eager == lazy
    assert any(d is not None for d in lazy) and any(d is None for d in lazy)  # the stream meets the limits
    assert all(eager_fresh)  # revalued as the bars arrived
    assert not any(lazy_fresh)  # without following, only the next order revalues


N_BARS4 = 60
PAIRS4 = {"EURUSD": 1.1, "GBPUSD": 1.25, "USDJPY": 150.0, "EURJPY": 165.0}  # EURJPY's value rides on USDJPY


def kernel4(follow: bool) -> Kernel:
    k = Kernel(account_currency="USD", starting_cash=D(100_000))
    ts = pd.date_range("2024-01-02", periods=N_BARS4, freq="1h", tz="UTC")
    rng = np.random.default_rng(11)
    common = np.cumsum(rng.normal(0, 0.004, N_BARS4))
    for iid, px in PAIRS4.items():
        c = px * np.exp(common + np.cumsum(rng.normal(0, 0.002, N_BARS4)))  # correlated: the cap has work
        frame = pd.DataFrame({"ts": ts, "open": c, "high": c * 1.001, "low": c * 0.999, "close": c})
        k.add_data(get_instrument(iid), BarSeries.from_frame(frame, iid, "1h"))
    config = RiskConfig(
        limits=LimitsConfig(
            max_strategy_notional=D(150_000),
            max_portfolio_notional=D(200_000),
            max_currency_exposure=D(120_000),
        ),
        margin=CONFIG.margin,
        correlation=CorrelationConfig(max_positions=2, threshold=D("0.5"), lookback_bars=20),
    )
    k.risk.apply(config)
    if follow:
        k.risk.follow_bars(k.bus)
    return k


def assert_memos_as_from_scratch(k: Kernel) -> None:
    """Every memo the incremental revaluation left equals what a full revaluation computes now."""
    x, p, cache = k.risk.exposure, k.portfolio, k.cache
    assert x._gen == sum(cache.visible)
    for iid, unit in x._units.items():
        inst = cache.instruments[iid]
        px = cache.last_price(iid) or D(0)  # no bar of the pair yet: worth nothing
        assert unit == px * inst.multiplier * p.to_account(D(1), inst.quote), iid
    fresh = BookSums(p, x.open, cache.instruments, x.unit_value, count_open=True)
    fresh.margin_free_pct = x.sums.margin_free_pct
    for scope in list(x.sums._gross):
        kept, new = x.sums.gross(scope), fresh.gross(scope)
        assert (kept.total, kept.rows) == (new.total, new.rows), scope
    kept_bounds = {c: b for c, b in x.sums.bounds().items() if b != (0, 0)}  # a currency no longer held: 0
    assert kept_bounds == {c: b for c, b in fresh.bounds().items() if b != (0, 0)}
    assert x.sums.orders_margin() == fresh.orders_margin()
    assert x.sums.free_margin() == fresh.free_margin()
    corr = k.risk._correlation
    assert corr is not None
    for (iid, side), reason in corr._decisions().items():
        assert reason == corr._decide(iid, side), (iid, side)


def run_bar_by_bar(follow: bool) -> tuple[list[str | None], int, int]:
    """Orders after single bars (the other pairs' bars of that hour not in yet) as well as after whole hours.
    Returns the decisions, the full revaluations the bars caused, and the bars seen."""
    k = kernel4(follow)
    full = 0
    revalue = k.risk.revalue

    def counted() -> None:
        nonlocal full
        full += 1
        revalue()

    k.risk.revalue = counted  # type: ignore[method-assign]
    ids = count()
    ts, sid, row = k.schedule()
    decisions: list[str | None] = []
    for e in range(len(ts)):
        k.run_events(ts[e : e + 1], sid[e : e + 1], row[e : e + 1])
        if follow:
            assert_memos_as_from_scratch(k)
        if e < 4 * 21 or e % 3:  # 20 bars of returns first: the correlation cap then decides
            continue
        iid = list(PAIRS4)[(e // 3) % 4]
        px = k.cache.last_price(iid)
        assert px is not None
        side = OrderSide.BUY if (e // 3) % 5 else OrderSide.SELL
        kind = OrderType.MARKET if e % 4 else OrderType.LIMIT
        limit = k.cache.instruments[iid].round_price(
            px * (D("0.999") if side is OrderSide.BUY else D("1.001"))
        )
        o = Order(f"O{next(ids)}", iid, "S", side, kind, D(4_000 + 1_000 * (e % 3)), k.cache.now_ns,
                  price=limit if kind is OrderType.LIMIT else None)  # fmt: skip
        k.send(o)
        decisions.append(o.reason or None)
    return decisions, full, len(ts)


def test_each_bar_revalues_only_its_own_pair_and_the_memos_equal_a_full_revaluation() -> None:
    lazy, _, _ = run_bar_by_bar(follow=False)
    eager, full, bars = run_bar_by_bar(follow=True)
    assert eager == lazy
    assert any(d is not None and "CORRELATION" in d.upper() for d in lazy)  # the stream meets the cap
    assert any(d is None for d in lazy)
    assert full <= 2  # the first bar (nothing memoised yet); every later bar only its own pair's part
    assert bars == N_BARS4 * len(PAIRS4)


def test_a_held_pairs_bar_refreshes_the_decisions_that_weigh_it() -> None:
    """Positions in the pairs whose bars come last at each hour: the other pairs' decisions (bars already in)
    weigh correlations that move with each held pair's bar, and must never be kept stale."""
    from traderbot.core.messages import OrderFilled

    k = kernel4(follow=True)
    corr = k.risk._correlation
    assert corr is not None
    ts, sid, row = k.schedule()
    texts: set[str] = set()
    for e in range(len(ts)):
        k.run_events(ts[e : e + 1], sid[e : e + 1], row[e : e + 1])
        if e == 4 * 25:  # 25 hours of bars in: hold the two pairs dispatched last at each hour
            for n, iid in enumerate(("USDJPY", "EURJPY")):
                px = k.cache.last_price(iid)
                assert px is not None
                k.portfolio.on_fill(OrderFilled(f"F{n}", iid, "S", 0, trade_id=f"T{n}", side="buy",
                                                quantity=D(1_000), price=px), 0)  # fmt: skip
        for (iid, side), reason in corr._decisions().items():
            assert reason == corr._decide(iid, side), (e, iid, side)
            if reason and iid in ("EURUSD", "GBPUSD"):
                texts.add(reason)
    assert len(texts) > 5  # the decisions that weigh the held pairs did change as their bars came in
