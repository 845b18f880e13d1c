"""Turns changes of NinjaTrader's outgoing order-state files into our order events, exactly once.

`scan()` polls the state file of every order traderbot sent that is not finished yet. A file is processed only
after its content (and modification time) stayed the same for `settle_time`, so a file caught half rewritten is
never trusted. Each processed state is compared with the last one recorded in the journal:

- first working state -> OrderAccepted; CANCELLED -> OrderCanceled; REJECTED -> OrderRejected;
- FILLED AMOUNT grew -> OrderFilled for the increment `inc = new_filled - old_filled` at
  `(new_avg * new_filled - old_avg * old_filled) / inc` (exact Decimal arithmetic, then snapped to the tick
  when within 1/1000 of a tick, because NinjaTrader prints its average as a double), with trade id
  `<ORDER ID>:<new_filled>`. Two executions NinjaTrader reports between two polls become one fill at their
  average price;
- back to a working state after a CHANGE traderbot requested -> OrderUpdated.

The state is journaled before its events are published, so after a restart the same file yields nothing new.
Fill timestamps are the time traderbot saw the file: ATI reports no execution times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from traderbot.brokers.base import BrokerEvent, BrokerFill, MalformedMessage, StreamReconnected
from traderbot.brokers.ninjatrader.config import NinjaTraderConfig
from traderbot.brokers.ninjatrader.journal import AtiJournal, Intent, Seen
from traderbot.brokers.ninjatrader.outgoing import (
    OrderStateLine,
    decode,
    parse_order_state,
    read_bytes,
    signature,
)
from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected, OrderUpdated
from traderbot.model.enums import OrderStatus

_log = logging.getLogger("traderbot.brokers.ninjatrader")
S = OrderStatus
FINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED})
_ACCEPTED_LIKE = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.PENDING_UPDATE, S.PENDING_CANCEL})
_WORKING = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED})
REJECT_REASON = (
    "REJECTED: NinjaTrader rejected the order; ATI does not say why (see the Log tab of its Control Center)"
)


def fill_price(
    old_filled: Decimal, old_avg: Decimal, new_filled: Decimal, new_avg: Decimal, tick: Decimal | None
) -> Decimal:
    """Average price of the increment, exact; snapped to the tick grid when within double-printing noise.

    NinjaTrader prints averages as doubles (about 15 significant digits), so a one-price increment comes out a
    hair off its tick; an increment spanning several executions may legitimately lie between ticks.
    """
    inc = new_filled - old_filled
    with localcontext() as ctx:
        ctx.prec = 60
        price = (new_avg * new_filled - old_avg * old_filled) / inc
    if tick is not None:
        on_grid = (price / tick).quantize(Decimal(1), ROUND_HALF_EVEN) * tick
        if abs(on_grid - price) <= tick / 1000:
            return on_grid
    return price.quantize(Decimal("1e-10")).normalize()


@dataclass(slots=True)
class _Observation:
    key: tuple[bytes, int]  # content and modification time
    since: float
    done: bool = False


class OrderTracker:
    """Watches the outgoing order files of traderbot's live orders; fans events out to subscribers."""

    def __init__(self, cfg: NinjaTraderConfig, journal: AtiJournal) -> None:
        self._cfg = cfg
        self._journal = journal
        self._obs: dict[str, _Observation] = {}
        self._vanished: set[str] = set()
        self._subscribers: list[deque[BrokerEvent]] = []

    def subscribe(self) -> deque[BrokerEvent]:
        queue: deque[BrokerEvent] = deque()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: deque[BrokerEvent]) -> None:
        if any(q is queue for q in self._subscribers):
            self._subscribers = [q for q in self._subscribers if q is not queue]

    def live(self) -> list[Intent]:
        """Orders sent and not finished (as far as the journal knows)."""
        seen = self._journal.seen
        return [
            i
            for cid, i in self._journal.intents.items()
            if not i.void and (cid not in seen or seen[cid].status not in FINAL)
        ]

    def scan(self) -> bool:
        """Process every settled change; True while some file is still settling."""
        pending, vanished = False, []
        now = time.monotonic()
        for intent in self.live():
            cid = intent.client_order_id
            path = self._cfg.outgoing_dir / f"{intent.nt_id}.txt"
            raw, sig = read_bytes(path), signature(path)
            if raw is None or sig is None:
                if cid in self._journal.seen and cid not in self._vanished:
                    self._vanished.add(cid)
                    vanished.append(cid)
                self._obs.pop(cid, None)
                continue
            self._vanished.discard(cid)
            key = (raw, sig[0])
            obs = self._obs.get(cid)
            if obs is None or obs.key != key:
                self._obs[cid] = _Observation(key, now)
                pending = True
            elif not obs.done:
                if now - obs.since < self._cfg.settle_time:
                    pending = True
                    continue
                obs.done = True
                try:
                    line = parse_order_state(decode(raw))
                except MalformedMessage as exc:
                    _log.warning("skipping unreadable order state file %s: %s", path.name, exc)
                    continue
                try:
                    self._process(intent, line, sig[0])
                except OSError as exc:  # the journal could not be written: retry on the next scan
                    _log.error("order %s: could not record state %s: %s", cid, line.state, exc)
                    del self._obs[cid]
                    pending = True
        if vanished:
            reason = f"NinjaTrader's outgoing folder lost the files of {len(vanished)} orders (restarted?)"
            _log.warning("%s: %s", reason, ", ".join(vanished))
            self._publish([StreamReconnected("ninjatrader", time.time_ns(), reason)])
        return pending

    def _process(self, intent: Intent, line: OrderStateLine, mtime_ns: int) -> None:
        cid, nt_id, inst = intent.client_order_id, intent.nt_id, intent.instrument_id
        prev = self._journal.seen.get(cid)
        old_filled = prev.filled if prev else Decimal(0)
        old_avg = prev.avg_price if prev else Decimal(0)
        most = max(intent.quantity, (intent.change or {}).get("qty") or Decimal(0))
        if line.filled < old_filled or line.filled > most:
            msg = "order %s: filled amount %s is impossible after %s of %s; ignored"
            _log.warning(msg, cid, line.filled, old_filled, most)
            return
        applied = intent.change is not None and line.status in _WORKING and mtime_ns >= intent.change_ts
        now = (line.state, line.filled, line.avg_price)
        if prev is not None and (prev.state, prev.filled, prev.avg_price) == now and not applied:
            return
        ts = time.time_ns()
        events: list[BrokerEvent] = []
        if (prev is None or prev.status is S.SUBMITTED) and line.status in _ACCEPTED_LIKE:
            events.append(OrderAccepted(cid, inst, "", ts, venue_order_id=nt_id))
        fill = None
        if line.filled > old_filled:
            price = fill_price(old_filled, old_avg, line.filled, line.avg_price, self._cfg.tick_size(inst))
            qty = line.filled - old_filled
            trade_id = f"{nt_id}:{line.filled}"
            fill = BrokerFill(trade_id, cid, nt_id, inst, intent.side, qty, price, ts)
            side = intent.side.value
            events.append(
                OrderFilled(cid, inst, "", ts, "", trade_id, side, qty, price, venue_order_id=nt_id)
            )
        if applied and intent.change is not None:
            c = intent.change
            events.append(OrderUpdated(cid, inst, "", ts, "", c["qty"], c["price"], c["trigger"]))
        if line.status is S.CANCELED and (prev is None or prev.status is not S.CANCELED):
            events.append(OrderCanceled(cid, inst, "", ts))
        if line.status is S.REJECTED and (prev is None or prev.status is not S.REJECTED):
            events.append(OrderRejected(cid, inst, "", ts, REJECT_REASON))
        seen = Seen(line.state, line.status, line.filled, line.avg_price, ts)
        self._journal.record_seen(cid, seen, fill, applied)  # first recorded, then reported
        self._publish(events)

    def _publish(self, events: list[BrokerEvent]) -> None:
        for queue in self._subscribers:
            queue.extend(events)


class TransactionStream:
    """Polls the outgoing folder; yields the events published after it was created. Never ends by itself."""

    def __init__(self, tracker: OrderTracker, poll_interval: float) -> None:
        self._tracker = tracker
        self._poll = poll_interval
        self._queue = tracker.subscribe()
        self._closed = False

    def __aiter__(self) -> TransactionStream:
        return self

    async def __anext__(self) -> BrokerEvent:
        while not self._closed:
            if self._queue:
                return self._queue.popleft()
            try:
                self._tracker.scan()
            except (OSError, MalformedMessage) as exc:  # never let one bad file end the stream
                _log.error("scanning NinjaTrader's outgoing folder failed: %s", exc)
            if not self._queue:
                await asyncio.sleep(self._poll)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._closed = True
        self._tracker.unsubscribe(self._queue)
