"""Scrape-time gauges: metric families built from a `LiveSnapshot` (the service's state, copied on its loop)
and a `DbState` (what the database holds). Rendering runs in a worker thread, never on the kernel's loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from traderbot.monitoring.db_state import DbState
from traderbot.monitoring.snapshot import LiveSnapshot
from traderbot.pairs.lifecycle import PairState

TRAINING_STATUSES = ("waiting", "running", "failed")


@dataclass(frozen=True, slots=True)
class StateCollector:
    """The gauges of one scrape; `db_counts`: orders and fills from the journal (standalone API only, where no
    service counts them from the bus)."""

    db: DbState
    snap: LiveSnapshot | None
    db_counts: bool = False

    def collect(self) -> Iterator[Metric]:
        yield _gauge("traderbot_up", "1 while this process answers; database_reachable says whether it can read.",
                     [([], 1.0)])  # fmt: skip
        yield _gauge("traderbot_database_reachable", "1 when the database answered this scrape.",
                     [([], 1.0 if self.db.reachable else 0.0)])  # fmt: skip
        yield from self._database()
        if self.snap is not None:
            yield from self._service(self.snap)

    def _database(self) -> Iterator[Metric]:
        db = self.db
        states = GaugeMetricFamily("traderbot_pair_state", "1 for the state each registered pair is in, 0 for "
                                   "the others.", labels=["pair", "state"])  # fmt: skip
        enabled = GaugeMetricFamily("traderbot_pair_enabled", "1 when the pair is enabled.", labels=["pair"])
        for pair, state, on in db.pairs:
            for s in PairState:
                states.add_metric([pair, s.value], 1.0 if s.value == state else 0.0)
            enabled.add_metric([pair], 1.0 if on else 0.0)
        yield states
        yield enabled
        yield _gauge("traderbot_training_jobs", "Training jobs by status (waiting = queued or retry wait).",
                     [([s], float(db.training.get(s, 0))) for s in TRAINING_STATUSES], ["status"])  # fmt: skip
        failed = CounterMetricFamily(
            "traderbot_commands_failed", "API commands the service answered with failed."
        )
        failed.add_metric([], float(db.commands_failed))
        yield failed
        if self.snap is None:  # the running service reports its own, fresher
            yield _gauge("traderbot_kill_switch_engaged", "1 while the kill switch is engaged.",
                         [([], 1.0 if db.kill_switch else 0.0)])  # fmt: skip
        if self.db_counts:
            yield _counter("traderbot_orders_submitted", "Orders submitted to the venue (stored in the journal).",
                           db.orders)  # fmt: skip
            yield _counter("traderbot_fills", "Fills booked (stored in the journal).", db.fills)

    def _service(self, snap: LiveSnapshot) -> Iterator[Metric]:
        yield _gauge("traderbot_service_running", "1 while the trading service runs (started, not stopping).",
                     [([], 1.0 if snap.started and not snap.stopping else 0.0)])  # fmt: skip
        yield _gauge("traderbot_kill_switch_engaged", "1 while the kill switch is engaged.",
                     [([], 1.0 if snap.kill_switch else 0.0)])  # fmt: skip
        yield _gauge(
            "traderbot_equity",
            "Account equity (account currency).",
            [([], float(snap.equity))] if snap.equity is not None else [],
        )
        yield _gauge(
            "traderbot_balance", "Account cash balance (account currency).", [([], float(snap.balance))]
        )
        yield _gauge(
            "traderbot_pairs_running", "Pairs the service is trading now.", [([], float(len(snap.pairs)))]
        )
        live = snap.broker_connected is not None  # paper: no broker, the families stay empty
        yield _gauge("traderbot_broker_connected", "1 while the broker's transaction stream is up (live).",
                     [([], 1.0 if snap.broker_connected else 0.0)] if live else [])  # fmt: skip
        yield _gauge("traderbot_reconciled", "1 once reconciled with the broker (live).",
                     [([], 1.0 if snap.reconciled else 0.0)] if live else [])  # fmt: skip
        realized = [([m.pair], float(m.realized)) for m in snap.money]
        unrealized = [([m.pair], float(m.unrealized)) for m in snap.money if m.unrealized is not None]
        exposure = [([m.pair], float(m.exposure)) for m in snap.money if m.exposure is not None]
        yield _gauge("traderbot_pnl_realized", "Realized P&L of closed trades, net of costs (account currency).",
                     realized, ["pair"])  # fmt: skip
        yield _gauge("traderbot_pnl_unrealized", "Unrealized P&L of open positions (account currency).",
                     unrealized, ["pair"])  # fmt: skip
        yield _gauge("traderbot_exposure", "Signed notional of the net position (account currency).",
                     exposure, ["pair"])  # fmt: skip
        lag = [([p.pair], max(0.0, (snap.now_ns - p.last_close_ns) / 1e9)) for p in snap.pairs
               if p.last_close_ns is not None]  # fmt: skip
        yield _gauge("traderbot_feed_lag_seconds", "The feed's clock minus the close time of the pair's last bar.",
                     lag, ["pair"])  # fmt: skip
        yield _gauge("traderbot_feed_idle_seconds", "Wall seconds since the pair's last bar arrived.",
                     [([p.pair], p.arrival_age_s) for p in snap.pairs], ["pair"])  # fmt: skip
        yield _gauge("traderbot_cache_valid", "1 when the pair's market-data cache passed validation (live).",
                     [([p.pair], 1.0 if p.cache_valid else 0.0) for p in snap.pairs if p.cache_valid is not None],
                     ["pair"])  # fmt: skip
        yield _gauge("traderbot_cache_score", "The pair's market-data cache health score, 0-100 (live).",
                     [([p.pair], float(p.cache_score)) for p in snap.pairs if p.cache_score is not None],
                     ["pair"])  # fmt: skip


def _gauge(name: str, doc: str, samples: Iterable[tuple[list[str], float]],
           labels: list[str] | None = None) -> GaugeMetricFamily:  # fmt: skip
    g = GaugeMetricFamily(name, doc, labels=labels or [])
    for values, v in samples:
        g.add_metric(values, v)
    return g


def _counter(name: str, doc: str, counts: dict[tuple[str, str], int]) -> CounterMetricFamily:
    c = CounterMetricFamily(name, doc, labels=["pair", "side"])
    for (pair, side), n in sorted(counts.items()):
        c.add_metric([pair, side], float(n))
    return c


class _Both:
    """The persistent registry's metrics, then one scrape's gauges (what generate_latest iterates)."""

    def __init__(self, registry: CollectorRegistry, extra: Collector) -> None:
        self.registry, self.extra = registry, extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.extra.collect()


def render(registry: CollectorRegistry, state: StateCollector) -> bytes:
    """The Prometheus text exposition of `registry` plus `state`."""
    return generate_latest(_Both(registry, state))
