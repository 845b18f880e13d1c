"""The service follows the pair registry: the configuration's pairs are registered at start (and on reload), and
every change in the registry, whoever made it (this process, the CLI, the trainer), starts, stops or re-tunes the
pair's strategy.

Rules: a pair trades while it is `trading` and enabled. Enabling a `ready` pair, or a pair becoming `ready`
(training promoted it) while enabled, moves it to `trading` (the registry's guard decides: an active version, a
valid cache, no risk lock). `pairs stop` (trading -> ready), a market-data cache gone bad (the same move) or
disabling stops it; it is not restarted until it is enabled or promoted again. A newly activated version
switches a running strategy's parameters in place.
Parameters pinned in the configuration (`params = {...}`) are saved as a version with the source "config" and the
pair goes straight to `ready` without training, which its history says.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from traderbot.errors import UserError
from traderbot.model.instrument import get_instrument
from traderbot.pairs.lifecycle import EventKind, PairState
from traderbot.pairs.registry import PairRegistry
from traderbot.service.pair_host import PairHost
from traderbot.service.settings import PairSpec, ServiceSettings

log = logging.getLogger("traderbot.service")
ACTOR = "service"
PINNED = "parameters pinned in the configuration (not trained)"


def sync_config_pairs(
    registry: PairRegistry, pairs: Sequence[PairSpec], *, remove_missing: bool = False
) -> None:
    """Make the registry hold the configuration's pairs (add, pin parameters, enable or disable); with
    `remove_missing`, pairs the configuration no longer lists are disabled and removed."""
    for spec in pairs:
        rec = registry.find(spec.id)
        if rec is None:
            rec = registry.add(spec.id, actor="config", reason="listed in the configuration",
                               timeframe=spec.timeframe, strategy=spec.strategy)  # fmt: skip
        if spec.params is not None:
            _pin(registry, spec)
        rec = registry.get(spec.id)
        if spec.enabled and not rec.enabled:
            registry.enable(spec.id, actor="config", reason="enabled in the configuration")
        elif not spec.enabled and rec.enabled:
            registry.disable(spec.id, actor="config", reason="disabled in the configuration")
        rec = registry.get(spec.id)
        if rec.enabled and rec.state is PairState.READY:
            _go(registry, spec.id, "enabled in the configuration")
    if remove_missing:
        listed = {p.id for p in pairs}
        for rec in registry.list():
            if rec.pair not in listed:
                if rec.enabled:
                    registry.disable(rec.pair, actor="config", reason="no longer in the configuration")
                if registry.get(rec.pair).state not in (PairState.TRAINING, PairState.TRADING):
                    registry.remove(rec.pair, actor="config", reason="no longer in the configuration")


def _pin(registry: PairRegistry, spec: PairSpec) -> None:
    active = registry.active_params(spec.id)
    if active is not None and active.params == spec.params and active.strategy == spec.strategy:
        return
    version = registry.save_params(spec.id, spec.strategy, dict(spec.params or {}), {}, source="config")
    registry.activate_params(spec.id, version, actor="config", reason=PINNED)
    state = registry.get(spec.id).state
    if state in (PairState.UNTRAINED, PairState.FAILED):
        registry.transition(spec.id, PairState.TRAINING, actor="config", reason=PINNED)
        registry.transition(spec.id, PairState.READY, actor="config", reason=PINNED)


def _go(registry: PairRegistry, pair: str, why: str) -> None:
    try:
        registry.transition(pair, PairState.TRADING, actor=ACTOR, reason=why)
    except UserError as exc:  # the guard refused: the history and the log say why
        log.warning("%s", exc)


class PairWatcher:
    def __init__(self, registry: PairRegistry, host: PairHost, settings: ServiceSettings) -> None:
        self.registry, self.host, self.settings = registry, host, settings
        self.sizing = {p.id: p.sizing for p in settings.pairs}
        events = registry.events_since(0, limit=10**9)
        self.last_id = events[-1].id if events else 0
        self.refused: dict[str, str] = {}  # pair -> why it could not start

    def step(self) -> None:
        """Act on registry changes since the last step, then make the running set what the registry says."""
        for e in self.registry.events_since(self.last_id):
            self.last_id = e.id
            rec = self.registry.find(e.pair)
            if rec is None:
                continue
            # a move to ready by someone else promotes the pair, except from trading: that one is a stop
            promoted = e.kind is EventKind.TRANSITION and e.state is PairState.READY and e.actor != ACTOR
            promoted = promoted and e.previous is not PairState.TRADING
            if rec.enabled and rec.state is PairState.READY and (e.kind is EventKind.ENABLED or promoted):
                _go(self.registry, rec.pair, "enabled and ready: the service starts it")
            elif e.kind is EventKind.PARAMS_ACTIVATED and rec.pair in self.host.running:
                self._retune(rec.pair)
        desired = {r.pair: r for r in self.registry.list() if r.state is PairState.TRADING and r.enabled}
        for pair in list(self.host.running):
            if pair not in desired:
                self.host.stop(pair, cancel=True, flatten=self.settings.flatten_on_remove)
        for pair, rec in sorted(desired.items(), key=lambda item: not self._gives_rates(item[0])):
            if pair not in self.host.running:
                self._start(pair, rec.timeframe, rec.strategy)

    def _gives_rates(self, pair: str) -> bool:
        """A pair of the account currency (USDCAD for a USD account) starts first: others may need its rate."""
        try:
            inst = get_instrument(pair)
        except UserError:  # an unknown instrument: its start says so
            return False
        return self.host.kernel.portfolio.currency in (inst.base, inst.quote)

    def _start(self, pair: str, timeframe: str, strategy: str) -> None:
        active = self.registry.active_params(pair)
        params = dict(active.params) if active is not None else {}
        try:
            self.host.start(pair, timeframe, active.strategy if active else strategy, params,
                            self.sizing.get(pair, "fraction:0.1"))  # fmt: skip
        except UserError as exc:
            self.refused[pair] = str(exc)
            self.registry.mark_locked(pair, f"could not start: {exc}", actor=ACTOR)

    def _retune(self, pair: str) -> None:
        active = self.registry.active_params(pair)
        run = self.host.running.get(pair)
        if active is None or run is None or run.strategy.params == {**run.strategy.params, **active.params}:
            return
        try:
            run.strategy.switch_params(dict(active.params))
        except UserError as exc:
            log.warning("%s kept its parameters: version %s refused: %s", pair, active.version, exc)
