"""System circuit breakers: the broker's health (error rate, order rejections, latency, lost connection) locks
the whole system.

Every breaker is off until its limit is set. A tripped breaker sets a lock on scope "system" from source
`breaker:broker_errors`, `breaker:rejections`, `breaker:latency` or `breaker:disconnect` for `pause_minutes`,
and the risk engine denies new orders with CIRCUIT_BREAKER. Its action decides the lock:

- pause: HALTED (nothing new; a filled entry's protective exits and the kill switch's flattening still pass);
- reduce: REDUCING (only orders that reduce a position pass);
- flatten: HALTED, and `flatten(source, reason)` is called; in a TradingSession that engages the kill switch
  with flatten=True (actor "breaker:<name>"), which cancels everything, closes every position and stays
  engaged until a person re-arms it.

How each number is computed:

- broker errors: failed / all requests the venue made in the last `window_s` seconds; trips when that share is
  above `max_error_rate` and at least `min_requests` requests were made. A failed request is one without a
  usable answer (timeout, unavailable, auth, malformed, an adapter's exception). A refusal (BrokerRejected) is
  an answer; a rate limit is paced by the venue and not counted at all.
- order rejections: OrderRejected events in the last `window_s` seconds; trips when there are more than
  `max_rejections`. The engine's own rejections (JOURNAL_WRITE_FAILED, NO_ACK) are not the venue's and do not
  count (the failed requests behind a NO_ACK already count as broker errors).
- latency: p90 of the last `latency_samples` answered requests, by nearest rank (the ceil(0.9 n)-th smallest);
  trips when it is above `max_latency_ms`, once `latency_samples` latencies have been collected. With the
  default 20 samples it trips when 3 or more of the last 20 requests took longer than the limit.
- disconnect: the broker's transaction stream has been down for at least `disconnect_after_s` seconds, checked
  by `poll`. While it stays down a pause/reduce lock is renewed; on reconnect that lock is lifted at once.
  After a flatten the kill switch holds the system until a person re-arms it, whatever the connection does.

A tripped breaker starts counting afresh and does not trip again while its own lock holds.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import model_validator

from traderbot.core.messages import OrderRejected
from traderbot.risk.locks import LockBook
from traderbot.risk.section import Section
from traderbot.risk.states import SYSTEM, TradingState

if TYPE_CHECKING:
    from traderbot.core.bus import MessageBus
    from traderbot.kernel.kernel import Kernel

_log = logging.getLogger("traderbot.risk.breakers")

Action = Literal["pause", "reduce", "flatten"]
Flatten = Callable[[str, str], object]  # (source "breaker:<name>", reason)

ERRORS, REJECTIONS, LATENCY, DISCONNECT = (
    "breaker:broker_errors",
    "breaker:rejections",
    "breaker:latency",
    "breaker:disconnect",
)
_SOURCES = (ERRORS, REJECTIONS, LATENCY, DISCONNECT)
_ENGINE_REJECTIONS = ("JOURNAL_WRITE_FAILED", "NO_ACK")  # rejections the engine makes, not the venue
_NS = 1_000_000_000


class SystemBreakersConfig(Section):
    """Limits on the broker's health; each breaker is off while its limit is None."""

    max_error_rate: Decimal | None = None  # share of failed requests in window_s, in (0, 1]
    min_requests: int = 10  # requests in window_s before the error rate can trip
    max_rejections: int | None = None  # venue rejections in window_s
    max_latency_ms: int | None = None  # p90 of the last latency_samples request latencies
    latency_samples: int = 20
    disconnect_after_s: int | None = None  # stream down at least this long
    window_s: int = 60
    on_errors: Action = "pause"
    on_rejections: Action = "pause"
    on_latency: Action = "reduce"
    on_disconnect: Action = "pause"  # flattening on a lost connection is an option, never the default
    pause_minutes: int = 15

    @model_validator(mode="after")
    def _check(self) -> SystemBreakersConfig:
        for name in ("max_rejections", "max_latency_ms", "disconnect_after_s"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(
                    f"{name} must be at least 1, got {value}; remove it to switch the breaker off"
                )
        for name in ("min_requests", "latency_samples", "window_s", "pause_minutes"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        rate = self.max_error_rate
        if rate is not None and not (rate.is_finite() and 0 < rate <= 1):
            raise ValueError(
                f"max_error_rate is a share of requests in (0, 1], got {rate}; write 0.5 for 50%"
            )
        return self


class SystemBreakers:
    """Counts the broker's failures and trips locks on the system (see the module docstring for the numbers).

    Fed by BrokerVenue (`venue.health = breakers`: requests, latencies, stream drops) and the bus (`attach`);
    `poll` is called by the session's timer loop. TradingSession binds it to its lock book and kill switch.
    """

    def __init__(
        self,
        config: SystemBreakersConfig,
        locks: LockBook | None = None,
        now_ns: Callable[[], int] = time.time_ns,
        flatten: Flatten | None = None,
    ) -> None:
        self.config = config
        self.now_ns = now_ns
        self.locks = locks if locks is not None else LockBook(now_ns=now_ns)
        self.flatten = flatten
        self._requests: deque[tuple[int, bool]] = deque()  # (ts, ok) in the window
        self._rejections: deque[int] = deque()  # ts in the window
        self._latencies: deque[float] = deque(maxlen=config.latency_samples)  # seconds
        self._last_error = ""
        self._last_rejection = ""
        self._down_since: int | None = None
        self._flattened_outage = False

    def bind(self, locks: LockBook, flatten: Flatten | None) -> None:
        """Use this lock book and flatten hook (a session's: its risk engine's locks, its kill switch)."""
        self.locks = locks
        self.flatten = flatten

    def attach(self, bus: MessageBus) -> None:
        """Count the venue's order rejections from bus topic "orders"."""
        bus.subscribe("orders", self._on_order_event)

    def detach(self, bus: MessageBus) -> None:
        bus.unsubscribe("orders", self._on_order_event)

    # ---- inputs --------------------------------------------------------------------------------------------
    def record_request(self, ok: bool) -> None:
        """One broker request answered (ok) or failed."""
        cfg = self.config
        if cfg.max_error_rate is None:
            return
        now = self.now_ns()
        self._requests.append((now, ok))
        failed, total = self._error_counts(now)
        if total < cfg.min_requests or Decimal(failed) / total <= cfg.max_error_rate:
            return
        reason = (
            f"broker errors {failed}/{total} = {_percent(Decimal(failed) / total)} > "
            f"{_percent(cfg.max_error_rate)} in {cfg.window_s} s"
        )
        if self._last_error:
            reason += f" (last: {self._last_error})"
        if self._trip(ERRORS, cfg.on_errors, reason, now):
            self._requests.clear()

    def record_error(self, error: BaseException) -> None:
        """One broker request failed with this error (its code is named in the breaker's reason)."""
        self._last_error = str(getattr(error, "code", "") or type(error).__name__)
        self.record_request(False)

    def record_rejection(self, reason: str) -> None:
        """One order rejected by the venue, with the venue's reason ("CODE: text")."""
        cfg = self.config
        if cfg.max_rejections is None:
            return
        now = self.now_ns()
        self._rejections.append(now)
        self._last_rejection = reason.partition(":")[0].strip() or "no reason given"
        _prune(self._rejections, now - cfg.window_s * _NS)
        count = len(self._rejections)
        if count <= cfg.max_rejections:
            return
        text = f"order rejections {count} > {cfg.max_rejections} in {cfg.window_s} s (last: {self._last_rejection})"
        if self._trip(REJECTIONS, cfg.on_rejections, text, now):
            self._rejections.clear()

    def record_latency(self, seconds: float) -> None:
        """The time one answered broker request took."""
        cfg = self.config
        if cfg.max_latency_ms is None:
            return
        self._latencies.append(seconds)
        if len(self._latencies) < cfg.latency_samples:
            return
        p90_ms = _p90(self._latencies) * 1000
        if p90_ms <= cfg.max_latency_ms:
            return
        reason = (
            f"broker latency p90 {p90_ms:.0f} ms > {cfg.max_latency_ms} ms "
            f"over the last {len(self._latencies)} requests"
        )
        if self._trip(LATENCY, cfg.on_latency, reason, self.now_ns()):
            self._latencies.clear()

    def on_disconnect(self, now_ns: int) -> None:
        """The broker's stream dropped (a later drop of the same outage keeps the first time)."""
        if self._down_since is None:
            self._down_since = now_ns
            self._flattened_outage = False

    def on_reconnect(self, now_ns: int) -> None:
        """The stream is back: a disconnect lock set by pause or reduce is lifted now."""
        since, self._down_since = self._down_since, None
        if self.config.on_disconnect == "flatten" or self.locks.get(SYSTEM, DISCONNECT) is None:
            return
        why = (
            "connection restored"
            if since is None
            else f"connection restored after {(now_ns - since) / 1e9:.0f} s"
        )
        try:
            self.locks.clear(SYSTEM, DISCONNECT, actor=DISCONNECT, reason=why)
        except Exception:  # a store that refuses the write: the lock then ends at its own time
            _log.exception("circuit breaker %s: could not lift its lock", DISCONNECT)

    def poll(self, now_ns: int) -> None:
        """Time-based conditions: a disconnect that has lasted `disconnect_after_s`."""
        cfg = self.config
        if cfg.disconnect_after_s is None or self._down_since is None:
            return
        down_s = (now_ns - self._down_since) / 1e9
        if down_s < cfg.disconnect_after_s or self._flattened_outage:
            return
        reason = f"broker stream disconnected for {down_s:.0f} s >= {cfg.disconnect_after_s} s"
        if self._trip(DISCONNECT, cfg.on_disconnect, reason, now_ns) and cfg.on_disconnect == "flatten":
            self._flattened_outage = True  # flatten once per outage; the kill switch holds the rest

    # ---- report --------------------------------------------------------------------------------------------
    def status(self) -> list[str]:
        """One line per enabled breaker with its current measure, then the breakers' active locks."""
        cfg, now = self.config, self.now_ns()
        lines: list[str] = []
        if cfg.max_error_rate is not None:
            failed, total = self._error_counts(now)
            lines.append(
                f"broker errors: {failed}/{total} requests failed in the last {cfg.window_s} s (trips above "
                f"{_percent(cfg.max_error_rate)} from {cfg.min_requests} requests; then {cfg.on_errors})"
            )
        if cfg.max_rejections is not None:
            _prune(self._rejections, now - cfg.window_s * _NS)
            lines.append(
                f"order rejections: {len(self._rejections)} in the last {cfg.window_s} s "
                f"(trips above {cfg.max_rejections}; then {cfg.on_rejections})"
            )
        if cfg.max_latency_ms is not None:
            n = len(self._latencies)
            measure = (
                f"p90 {_p90(self._latencies) * 1000:.0f} ms over the last {n} requests" if n else "no samples"
            )
            lines.append(
                f"broker latency: {measure} (trips above {cfg.max_latency_ms} ms once {cfg.latency_samples} "
                f"samples are in; then {cfg.on_latency})"
            )
        if cfg.disconnect_after_s is not None:
            down = (
                "connected"
                if self._down_since is None
                else f"down for {(now - self._down_since) / 1e9:.0f} s"
            )
            lines.append(
                f"broker stream: {down} (trips at {cfg.disconnect_after_s} s; then {cfg.on_disconnect})"
            )
        lines += [lk.describe() for lk in self.locks.active(now) if lk.source in _SOURCES]
        return lines or ["system circuit breakers: all off"]

    # ---- internals -----------------------------------------------------------------------------------------
    def _on_order_event(self, event: object) -> None:
        if isinstance(event, OrderRejected) and not event.reason.startswith(_ENGINE_REJECTIONS):
            self.record_rejection(event.reason)

    def _error_counts(self, now: int) -> tuple[int, int]:
        _prune(self._requests, now - self.config.window_s * _NS, key=lambda r: r[0])
        return sum(1 for _, ok in self._requests if not ok), len(self._requests)

    def _trip(self, source: str, action: Action, reason: str, now: int) -> bool:
        """Lock the system (and flatten) unless this breaker's lock already holds; True when it tripped."""
        held = self.locks.get(SYSTEM, source)
        if held is not None and held.active_at(now):
            return False
        _log.warning("circuit breaker %s tripped (%s): %s", source, action, reason)
        state = TradingState.REDUCING if action == "reduce" else TradingState.HALTED
        until = now + self.config.pause_minutes * 60 * _NS
        try:
            self.locks.add(SYSTEM, source, state, reason, until_ns=until, now_ns=now)
        except Exception:  # callers are the venue and the bus: a failing store must not break them
            _log.exception("circuit breaker %s: could not set its lock", source)
        if action == "flatten":
            self._flatten(source, reason)
        return True

    def _flatten(self, source: str, reason: str) -> None:
        if self.flatten is None:
            _log.error("circuit breaker %s: no flatten hook is bound, positions stay open", source)
            return
        try:
            self.flatten(source, reason)
        except Exception:
            _log.exception("circuit breaker %s: flattening failed", source)


def kill_switch_flatten(kernel: Kernel) -> Flatten:
    """The flatten action through the kernel's kill switch: engaged by the breaker (actor "breaker:<name>")
    with flatten=True, so every order is canceled and every position closed until a person re-arms it."""

    def flatten(source: str, reason: str) -> object:
        return kernel.kill_switch.engage(actor=source, reason=reason, flatten=True)

    return flatten


def _prune(
    items: deque[int] | deque[tuple[int, bool]], cutoff: int, key: Callable[..., int] = lambda x: x
) -> None:
    """Drop entries at or before `cutoff` (ns) from the left of a time-ordered deque."""
    while items and key(items[0]) <= cutoff:
        items.popleft()


def _p90(samples: deque[float]) -> float:
    """The 90th percentile by nearest rank: the ceil(0.9 n)-th smallest sample."""
    ordered = sorted(samples)
    return ordered[(9 * len(ordered) + 9) // 10 - 1]


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.1')).normalize():f}%"
