"""What the running service knows now, copied in one short step on the kernel's own loop.

Scrapes, readiness and the health score read the kernel only through `take` (in-memory reads, no I/O: well
under a millisecond for 50 pairs), run on the loop that drives the kernel, so nothing reads its state while it
changes. Everything slower (the database, calendars, text rendering) works on the copy in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from traderbot.errors import UserError

if TYPE_CHECKING:
    from traderbot.monitoring.metrics import ServiceMetrics
    from traderbot.service.service import TradingService


@dataclass(frozen=True, slots=True)
class PairMoney:
    """A pair's P&L and exposure in the account currency (None when no rate converts it)."""

    pair: str
    realized: Decimal  # closed trades since the account started, net of costs
    unrealized: Decimal | None
    exposure: Decimal | None  # signed notional of the net position


@dataclass(frozen=True, slots=True)
class PairLive:
    """One running pair: its bars and its market-data cache."""

    pair: str
    timeframe_s: float
    calendar: str
    last_close_ns: int | None  # close time of its newest bar in the kernel
    arrival_age_s: float  # wall seconds since its last bar arrived (or since it started, before any)
    cache_valid: bool | None  # None: not judged (paper: the replay dataset holds the bars)
    cache_score: float | None
    cache_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    mode: str  # paper or live
    started: bool
    stopping: bool
    now_ns: int  # the feed's clock: wall time live, the replay clock in paper
    replay_speed: float | None  # paper: replay seconds per wall second (None: as fast as possible)
    replay_finished: bool
    kill_switch: bool
    equity: Decimal | None  # None: a position without a rate to the account currency
    balance: Decimal
    currency: str
    broker_connected: bool | None  # None: paper (no broker)
    reconciled: bool | None
    reconcile_detail: str
    errors_recent: int
    pairs: tuple[PairLive, ...] = field(default_factory=tuple)
    money: tuple[PairMoney, ...] = field(
        default_factory=tuple
    )  # running pairs, and any with P&L or a position


async def on_kernel_loop(metrics: ServiceMetrics | None, service: TradingService) -> LiveSnapshot:
    """`take(service)` on the loop that runs the kernel, whichever loop the caller is on."""
    loop = metrics.loop if metrics is not None else None
    if loop is None or loop is asyncio.get_running_loop() or loop.is_closed():
        return take(service)

    async def _take() -> LiveSnapshot:
        return take(service)

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_take(), loop))


def take(service: TradingService) -> LiveSnapshot:
    k = service.kernel
    metrics: ServiceMetrics | None = getattr(service, "metrics", None)
    feed = service.feed
    live = service.live
    speed = None if live else service.settings.speed
    if live:
        now_ns = time.time_ns()
    elif speed is None:
        now_ns = feed.now_ns
    else:
        now_ns = feed.clock()  # type: ignore[union-attr]
    health = service.cache_job.health if service.cache_job is not None else {}
    mono = time.monotonic()
    pairs = []
    for pair, run in list(service.host.running.items()):
        series = k.cache.series[run.sid]
        n = k.cache.visible[run.sid]
        last_close = int(series.ts_close[n - 1]) if n > 0 else None
        seen = metrics.last_bar.get(pair) if metrics is not None else None
        since = seen[1] if seen is not None else (metrics.started_at if metrics is not None else mono)
        h = health.get(pair)
        pairs.append(PairLive(pair, series.timeframe.ns / 1e9, k.cache.instruments[pair].calendar, last_close,
                              mono - since, h.valid if h is not None else None, h.score if h is not None else None,
                              tuple(h.reasons) if h is not None else ()))  # fmt: skip
    realized = metrics.realized if metrics is not None else {}
    held = [iid for iid, q in k.portfolio._net.items() if q]
    money = tuple(PairMoney(pair, realized.get(pair, Decimal(0)), *_valuation(service, pair))
                  for pair in sorted({*service.host.running, *realized, *held}))  # fmt: skip
    connected, reconciled, detail = _broker_state(service)
    try:
        equity: Decimal | None = k.portfolio.equity()
    except UserError:
        equity = None
    return LiveSnapshot(
        mode="live" if live else "paper", started=service.started.is_set(),
        stopping=service.stopping.is_set(), now_ns=now_ns, replay_speed=speed,
        replay_finished=bool(not live and feed.exhausted), kill_switch=k.kill_switch.engaged,
        equity=equity, balance=k.portfolio.balance, currency=k.portfolio.currency,
        broker_connected=connected, reconciled=reconciled, reconcile_detail=detail,
        errors_recent=metrics.errors.count_since() if metrics is not None else 0, pairs=tuple(pairs),
        money=money,
    )  # fmt: skip


def _valuation(service: TradingService, pair: str) -> tuple[Decimal | None, Decimal | None]:
    """Unrealized P&L and signed exposure of `pair`'s positions in the account currency (None: no rate)."""
    p, cache = service.kernel.portfolio, service.kernel.cache
    px = cache.last_price(pair)
    net = p.net_quantity(pair)
    inst = cache.instruments.get(pair)
    if px is None or inst is None:
        return (Decimal(0), Decimal(0)) if not net else (None, None)
    quote = sum((pos.unrealized_quote(px) for (_, iid), pos in p._open.items() if iid == pair), Decimal(0))
    try:
        return p.to_account(quote, inst.quote), p.to_account(net * px * inst.multiplier, inst.quote)
    except UserError:
        return None, None


def _broker_state(service: TradingService) -> tuple[bool | None, bool | None, str]:
    """Live: (broker stream connected, reconciled, why not reconciled); paper: (None, None, "")."""
    if not service.live or not hasattr(service, "link"):
        return None, None, ""
    link = service.link
    connected = bool(link._tasks) and not any(t.done() for t in link._tasks) and not link.venue._stream_down
    last = link.reconciler.last
    waiting = service.kernel.risk.reconciling
    reconciled = last is not None and last.ok and waiting is None
    detail = waiting or ("" if last is not None else "the session has not reconciled with the broker yet")
    return connected, reconciled, detail
