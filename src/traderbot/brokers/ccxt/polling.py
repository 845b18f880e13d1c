"""The two streams of a REST-only adapter, built by polling.

`poll_transactions`: every `poll_interval` seconds, per watched market, `fetch_open_orders` and
`fetch_my_trades` from `replay_ms` before the newest trade seen (a trade published late with an earlier time
is still found). New open orders -> OrderAccepted (OrderUpdated for a replacement), each new trade -> one
OrderFilled (trade_id = the exchange's trade id; ids already reported are never reported again, so partial
fills appear once each), an order that left the open set without filling -> OrderCanceled / OrderExpired /
OrderRejected (not for a member superseded by our own replacement). The first poll also reports what happened
in the `replay_ms` before the subscription, so clock skew cannot lose a fill; consumers drop repeats by trade
id. A poll either completes or changes nothing: after a failure (network, 5xx, 429, a malformed answer) it
backs off (doubling up to `max_backoff`, at least Retry-After), then yields StreamReconnected before the
events it finds, so the caller reconciles. ccxt.pro's `watch_orders` is not used: polling works for every
exchange and is what is tested.

`poll_prices`: `fetch_bids_asks` (else `fetch_tickers` / `fetch_ticker`) every `price_interval` seconds; a
PriceTick whenever bid or ask changes. No fresh quote for `stall_timeout` seconds (errors, or exchange
timestamps that stop advancing) raises BrokerUnavailable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerError,
    BrokerEvent,
    BrokerRateLimited,
    BrokerUnavailable,
    MalformedMessage,
    PriceTick,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.brokers.ccxt.mapping import dec, split_client_id, to_broker_fill, to_order_filled
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderRejected,
    OrderUpdated,
)

if TYPE_CHECKING:
    from traderbot.brokers.ccxt.broker import CcxtBroker

log = logging.getLogger("traderbot.brokers.ccxt")
_TERMINAL: dict[str, type[OrderCanceled] | type[OrderExpired] | type[OrderRejected]] = {
    "canceled": OrderCanceled,
    "cancelled": OrderCanceled,
    "expired": OrderExpired,
    "rejected": OrderRejected,
}


@dataclass
class _State:
    open: dict[str, dict[str, str]] = field(default_factory=dict)  # symbol -> venue id -> venue client id
    seen: dict[str, dict[str, int]] = field(default_factory=dict)  # symbol -> trade id -> its ms
    since: dict[str, int] = field(default_factory=dict)  # symbol -> ms of the newest trade seen
    first: bool = True

    def copy(self) -> _State:
        return _State(
            {k: dict(v) for k, v in self.open.items()},
            {k: dict(v) for k, v in self.seen.items()},
            dict(self.since),
            self.first,
        )


async def poll_transactions(b: CcxtBroker) -> AsyncIterator[BrokerEvent]:
    cfg = b.config
    start_ms = time.time_ns() // 1_000_000 - cfg.replay_ms
    state, failure, backoff = _State(), "", cfg.poll_interval
    while True:
        try:
            trial = state.copy()
            events, settled = await _poll(b, trial, start_ms)
        except BrokerAuthError:
            raise
        except Exception as exc:  # a failed poll changes nothing; the stream lives on
            err = exc if isinstance(exc, BrokerError) else MalformedMessage(f"{b.name}: {exc!r}")
            if not failure:  # the first failed poll of an outage
                yield StreamInterrupted(b.name, time.time_ns(), str(err))
            failure = str(err)
            wait = max(backoff, err.retry_after if isinstance(err, BrokerRateLimited) else 0.0)
            log.warning("%s: transaction poll failed (%s); next try in %.2fs", b.name, err, wait)
            await asyncio.sleep(min(wait, cfg.max_backoff))
            backoff = min(backoff * 2, cfg.max_backoff)
            continue
        state, backoff = trial, cfg.poll_interval
        for vid in settled:
            b.tracker.pending.pop(vid, None)
        if failure:
            yield StreamReconnected(b.name, time.time_ns(), failure)
            failure = ""
        for event in events:
            yield event
        await asyncio.sleep(cfg.poll_interval)


async def _poll(b: CcxtBroker, st: _State, start_ms: int) -> tuple[list[BrokerEvent], list[str]]:
    """One pass over the watched markets: the events, and the placed orders now accounted for."""
    ex = b.exchange
    events: list[BrokerEvent] = []
    settled: list[str] = []
    for symbol in b.watched():
        iid = b.instrument_id(symbol)
        rows = await b.call(ex.fetch_open_orders(symbol), f"polling open {symbol} orders")
        now_open = {str(o["id"]): o for o in rows}
        before = st.open.get(symbol, {})
        for vid, o in now_open.items():
            settled.append(vid)
            if vid not in before and not (st.first and int(o.get("timestamp") or 0) < start_ms):
                events.append(_appeared(o, iid))
        fills, seen = [], st.seen.setdefault(symbol, {})
        # re-read `replay_ms` before the newest trade seen: a trade published late with an earlier time is
        # still found, and the ids kept for that overlap stop it from being reported twice
        horizon = max(start_ms, st.since.get(symbol, start_ms) - b.config.replay_ms)
        for t in await b.tracker.trades(symbol, horizon):
            tid, ms = str(t["id"]), int(t.get("timestamp") or 0)
            if tid in seen:
                continue
            seen[tid] = ms
            if ms >= start_ms:
                cid = await b.tracker.client_id_for(str(t.get("order") or ""), symbol)
                fills.append(to_order_filled(to_broker_fill(t, iid, cid)))
            st.since[symbol] = max(st.since.get(symbol, start_ms), ms)
        events += fills
        gone = [v for v in before if v not in now_open]
        gone += [
            v for v, s in b.tracker.pending.items() if s == symbol and v not in now_open and v not in before
        ]
        for vid in gone:
            events += await _settled(b, vid, symbol, iid)
            settled.append(vid)
        st.open[symbol] = {vid: str(o.get("clientOrderId") or "") for vid, o in now_open.items()}
        horizon = max(start_ms, st.since.get(symbol, start_ms) - b.config.replay_ms)
        st.seen[symbol] = {k: v for k, v in seen.items() if v >= horizon}
    st.first = False
    return events, settled


def _appeared(o: dict[str, Any], iid: str) -> OrderEvent:
    base, n = split_client_id(str(o.get("clientOrderId") or ""))
    ts = int(o.get("timestamp") or 0) * 1_000_000
    if n:
        trigger = dec(o.get("triggerPrice") or o.get("stopPrice"))
        price = dec(o.get("price")) if o.get("type") == "limit" else None
        return OrderUpdated(base, iid, "", ts, quantity=None, price=price, trigger_price=trigger)
    return OrderAccepted(base, iid, "", ts, venue_order_id=str(o["id"]))


async def _settled(b: CcxtBroker, vid: str, symbol: str, iid: str) -> list[BrokerEvent]:
    """The event for an order that left the open set: none when it filled (its trades tell) or was replaced."""
    o = await b.call_or_none(b.exchange.fetch_order(vid, symbol), f"reading order {vid}")
    if o is None:
        return []
    kind = _TERMINAL.get(str(o.get("status")))
    base, n = split_client_id(str(o.get("clientOrderId") or ""))
    if kind is None or b.tracker.replacements.get(base, 0) > n:
        return []
    ts = int(o.get("lastUpdateTimestamp") or o.get("timestamp") or 0) * 1_000_000
    event: OrderEvent = kind(base, iid, "", ts, reason=str(o.get("status")))
    return [event]


async def poll_prices(b: CcxtBroker, symbols: Sequence[str]) -> AsyncIterator[PriceTick]:
    cfg = b.config
    last: dict[str, tuple[Any, Any]] = {}
    last_fresh, problem = time.monotonic(), "no quote yet"
    while True:
        fresh = False
        try:
            quotes = await b.quotes(symbols)
        except BrokerAuthError:
            raise
        except Exception as exc:  # logged; only a stall ends the stream
            quotes, problem = {}, str(exc)
            if not isinstance(exc, BrokerError):  # BrokerErrors were logged where they were raised
                log.warning("%s: price poll failed (%r)", b.name, exc)
        now_ns = time.time_ns()
        for symbol, (bid, ask, ts) in quotes.items():
            if ts and now_ns - ts > cfg.stall_timeout * 1e9:
                problem = f"the exchange's {symbol} quote is older than {cfg.stall_timeout:g}s"
                continue
            fresh = True
            if last.get(symbol) != (bid, ask):
                last[symbol] = (bid, ask)
                yield PriceTick(b.instrument_id(symbol), ts or now_ns, bid, ask)
        if fresh:
            last_fresh = time.monotonic()
        elif time.monotonic() - last_fresh > cfg.stall_timeout:
            raise BrokerUnavailable(
                f"{b.name} price polling stalled: no fresh quote for {', '.join(symbols)} in "
                f"{cfg.stall_timeout:g}s ({problem})."
            )
        await asyncio.sleep(cfg.price_interval)
