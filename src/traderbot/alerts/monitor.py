"""The alert rules, evaluated against the running service: each check lists the conditions that hold now (one
alert per key); every one of them is fired (the dispatcher sends a key once per cooldown) and every key that no
longer holds is resolved (so if it comes back it is sent at once).

Rules and their conditions:
- kill_switch: the kernel's kill switch is engaged.
- trading_halted: the system is not ACTIVE, or a system lock holds it, other than by the kill switch or the
  drawdown protection.
- drawdown: account equity from its peak >= `drawdown_pct`, with drawdown % = (peak - equity) / peak * 100 and
  peak = the highest equity seen since the start (at least the starting cash); or the risk's own drawdown
  protection lock (`protection:drawdown`) holds the system.
- pair_paused: a pair is paused in the registry (locked by risk), or a risk lock holds `pair:<id>`.
- cache_invalid: a pair's market-data cache is invalid (the cache job's health), or the pair was stopped
  because of it (a registry move by `cache`) and has not traded since.
- broker_disconnected: the live broker's transaction stream is down.
- training_failed: a training job failed (finished after the monitor started); one alert per job.
- error_rate: ERROR log records in the last minute > `error_rate_per_min`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from traderbot.alerts.model import Alert, Rule, Severity
from traderbot.pairs.events import TOPIC as PAIRS_TOPIC
from traderbot.pairs.events import PairStateChanged
from traderbot.pairs.lifecycle import PairState
from traderbot.risk.states import SYSTEM, TradingState

if TYPE_CHECKING:
    from traderbot.alerts.dispatcher import AlertDispatcher
    from traderbot.alerts.error_rate import ErrorRate
    from traderbot.core.bus import MessageBus
    from traderbot.data.cache_validate import CacheHealth
    from traderbot.kernel.kernel import Kernel
    from traderbot.pairs.registry import PairRegistry
    from traderbot.store.training_store import TrainingStore

log = logging.getLogger("traderbot.alerts")
RISK_TOPIC = "risk"  # kill switch, state changes, locks: a message here triggers a check at once
DRAWDOWN_LOCK = "protection:drawdown"
S = Severity


@dataclass(frozen=True)
class Thresholds:
    rules: frozenset[str]
    drawdown_pct: Decimal
    error_rate_per_min: int


@dataclass
class Sources:
    """Where the rules look. Only the kernel is required; a missing source switches its rule off."""

    kernel: Kernel
    registry: PairRegistry | None = None
    cache_health: Callable[[], Mapping[str, CacheHealth]] | None = None
    broker_down: Callable[[], bool] | None = None
    training: TrainingStore | None = None
    errors: ErrorRate | None = None


class AlertMonitor:
    def __init__(self, dispatcher: AlertDispatcher, sources: Sources, thresholds: Thresholds,
                 *, now_ns: Callable[[], int] = time.time_ns) -> None:  # fmt: skip
        self.dispatcher, self.sources, self.thresholds = dispatcher, sources, thresholds
        self.now_ns = now_ns
        self.since_ns = now_ns()
        self.active: dict[str, Alert] = {}  # key -> the alert of a condition that holds now
        self.peak: Decimal = sources.kernel.portfolio.starting_cash
        self._cache_stopped: dict[str, str] = {}  # pair -> reason: stopped by an invalid cache (bus)
        self._failed_seen: set[int] = set()
        self._kill_reason: str | None = None
        self._wake = asyncio.Event()
        self.checks = 0

    # ---- the bus (kernel thread: cheap, no I/O) --------------------------------------------------------------
    def attach(self, bus: MessageBus) -> None:
        bus.subscribe(PAIRS_TOPIC, self._on_pair)
        bus.subscribe(RISK_TOPIC, self._on_risk)

    def detach(self, bus: MessageBus) -> None:
        bus.unsubscribe(PAIRS_TOPIC, self._on_pair)
        bus.unsubscribe(RISK_TOPIC, self._on_risk)

    def _on_pair(self, msg: Any) -> None:
        if not isinstance(msg, PairStateChanged):
            return
        if msg.actor == "cache" and msg.previous is PairState.TRADING:
            self._cache_stopped[msg.pair] = msg.reason
        elif msg.state is PairState.TRADING or msg.pair in self._cache_stopped:
            self._cache_stopped.pop(msg.pair, None)
        if PairState.PAUSED in (msg.state, msg.previous) or msg.actor == "cache":
            self._wake.set()

    def _on_risk(self, _msg: Any) -> None:
        self._wake.set()

    # ---- checking ------------------------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event, every_s: float) -> None:
        """Check every `every_s`, and at once after a pair pause or a risk message, until `stopping` is set."""
        while not stopping.is_set():
            self.check()
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stopping.wait())]
            _, pending = await asyncio.wait(waits, timeout=every_s, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()

    def check(self) -> list[Alert]:
        """Evaluate every enabled rule; fire what holds, resolve what no longer does. Returns what holds."""
        self.checks += 1
        now: dict[str, Alert] = {}
        for rule, fn in self._rules():
            if rule not in self.thresholds.rules:
                continue
            try:
                for alert in fn():
                    now[alert.key] = alert
            except Exception as exc:  # one broken source must not silence the other rules
                log.warning("alert rule %s could not be checked: %s: %s", rule, type(exc).__name__, exc)
        for key in [k for k in self.active if k not in now]:
            self.dispatcher.resolve(key)
        for alert in now.values():
            self.dispatcher.fire(alert)
        self.active = now
        return list(now.values())

    def _rules(self) -> list[tuple[str, Callable[[], list[Alert]]]]:
        return [(Rule.KILL_SWITCH, self._kill_switch), (Rule.TRADING_HALTED, self._trading_halted),
                (Rule.DRAWDOWN, self._drawdown), (Rule.PAIR_PAUSED, self._pair_paused),
                (Rule.CACHE_INVALID, self._cache_invalid), (Rule.BROKER_DISCONNECTED, self._broker),
                (Rule.TRAINING_FAILED, self._training), (Rule.ERROR_RATE, self._error_rate)]  # fmt: skip

    def _alert(self, rule: Rule, severity: Severity, title: str, message: str, subject: str = "") -> Alert:
        key = f"{rule.value}:{subject}" if subject else rule.value
        return Alert(rule.value, severity, key, title, message, self.now_ns())

    # ---- the rules -----------------------------------------------------------------------------------------
    def _kill_switch(self) -> list[Alert]:
        if not self.sources.kernel.kill_switch.engaged:
            self._kill_reason = None
            return []
        if self._kill_reason is None:
            self._kill_reason = self._last_kill_reason()
        return [self._alert(Rule.KILL_SWITCH, S.CRITICAL, "Kill switch engaged",
                            f"{self._kill_reason}. Trading is halted and open orders were canceled; re-arm "
                            "after review: traderbot risk rearm --reason ...")]  # fmt: skip

    def _last_kill_reason(self) -> str:
        history = getattr(self.sources.kernel.risk.states.store, "history", None)
        changes = history("kill_switch") if callable(history) else []
        if not changes:
            return "Engaged"
        last = changes[-1]
        return f"Engaged by {last.actor}: {last.reason}"

    def _trading_halted(self) -> list[Alert]:
        k = self.sources.kernel
        if k.kill_switch.engaged:
            return []
        state = k.risk.state
        locks = [lk for lk in k.risk.locks.active(k.cache.now_ns or None)
                 if lk.scope == SYSTEM and lk.source != DRAWDOWN_LOCK]  # fmt: skip
        if state is TradingState.ACTIVE and not locks:
            return []
        why = "; ".join(lk.describe() for lk in locks) or f"the system state is {state.value}"
        return [self._alert(Rule.TRADING_HALTED, S.CRITICAL if state is TradingState.HALTED else S.WARNING,
                            "Trading restricted", f"New orders are restricted: {why}.")]  # fmt: skip

    def _drawdown(self) -> list[Alert]:
        k = self.sources.kernel
        equity = k.portfolio.equity()
        self.peak = max(self.peak, equity)
        pct = (self.peak - equity) / self.peak * 100 if self.peak > 0 else Decimal(0)
        lock = k.risk.locks.get(SYSTEM, DRAWDOWN_LOCK)
        ccy, limit = k.portfolio.currency, self.thresholds.drawdown_pct
        if lock is not None:
            return [self._alert(Rule.DRAWDOWN, S.CRITICAL, "Drawdown limit hit",
                                f"The drawdown protection locked trading: {lock.reason}.")]  # fmt: skip
        if pct >= limit:
            return [self._alert(Rule.DRAWDOWN, S.CRITICAL, "Drawdown limit hit",
                                f"Drawdown {pct:.2f}% >= {limit}% (equity {equity:.2f} {ccy}, "
                                f"peak {self.peak:.2f} {ccy}).")]  # fmt: skip
        return []

    def _pair_paused(self) -> list[Alert]:
        k, registry = self.sources.kernel, self.sources.registry
        why: dict[str, list[str]] = {}
        if registry is not None:
            for rec in registry.in_state(PairState.PAUSED):
                prev = self.active.get(f"{Rule.PAIR_PAUSED.value}:{rec.pair}")
                if prev is not None:  # still paused: the reason read when it paused
                    why[rec.pair] = [prev.message]
                    continue
                last = registry.history(rec.pair, 1)
                why[rec.pair] = [f"{rec.pair} is paused: {last[-1].reason if last else 'locked by risk'}."]
        for lk in k.risk.locks.active(k.cache.now_ns or None):
            if lk.scope.startswith("pair:"):
                pair = lk.scope.removeprefix("pair:")
                line = f"Risk lock: {lk.describe()}."
                if line not in why.get(pair, []):
                    why.setdefault(pair, []).append(line)
        return [self._alert(Rule.PAIR_PAUSED, S.WARNING, f"Pair {pair} paused", " ".join(lines), pair)
                for pair, lines in sorted(why.items())]  # fmt: skip

    def _cache_invalid(self) -> list[Alert]:
        bad = dict(self._cache_stopped)
        health = self.sources.cache_health() if self.sources.cache_health is not None else {}
        for pair, h in health.items():
            if not h.valid:
                bad[pair] = "; ".join(h.reasons) or "invalid"
        return [self._alert(Rule.CACHE_INVALID, S.WARNING, f"Market-data cache invalid: {pair}",
                            f"{pair} stopped trading: {reason}.", pair)
                for pair, reason in sorted(bad.items())]  # fmt: skip

    def _broker(self) -> list[Alert]:
        if self.sources.broker_down is None or not self.sources.broker_down():
            return []
        return [self._alert(Rule.BROKER_DISCONNECTED, S.CRITICAL, "Broker disconnected",
                            "The broker's transaction stream is down; the service keeps reconnecting and "
                            "reconciles when it is back.")]  # fmt: skip

    def _training(self) -> list[Alert]:
        store = self.sources.training
        if store is None:
            return []
        out = []
        for job in store.failures(50):
            if job.id in self._failed_seen or (job.finished_ns or 0) < self.since_ns:
                continue
            self._failed_seen.add(job.id)
            out.append(self._alert(Rule.TRAINING_FAILED, S.WARNING, f"Training failed: {job.pair}",
                                   f"Job {job.id} ({job.kind}) for {job.pair} failed after {job.attempts} "
                                   f"attempt(s): {job.error or 'no error text'}.", str(job.id)))  # fmt: skip
        return out

    def _error_rate(self) -> list[Alert]:
        errors = self.sources.errors
        if errors is None:
            return []
        n, limit = errors.per_minute(), self.thresholds.error_rate_per_min
        if n <= limit:
            return []
        latest = " | ".join(errors.latest())
        return [self._alert(Rule.ERROR_RATE, S.WARNING, "Error rate spike",
                            f"{n} errors logged in the last minute (threshold {limit}). Latest: {latest}")]  # fmt: skip
