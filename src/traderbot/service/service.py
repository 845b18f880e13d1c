"""`traderbot run`: the long-running trading service, paper (the simulated venue fed by a replay) or live (a
broker adapter: its bars, prices and order venue, reconciled before any order).

One asyncio loop hosts the kernel (strategies per pair, risk, order management, portfolio) and its tasks:
the feed (replay, or the broker's bars; live adds the broker's transaction and price streams, the timers, a
periodic reconciliation and the scheduled refresh of the data folder's market-data cache, `cache_job.py`), the
pair watcher (the registry, including changes other processes make), periodic persistence (order journal,
event log, account snapshots, positions, the replay position), and the signal
handlers (SIGINT/SIGTERM stop cleanly, SIGHUP reloads the configuration). Its state lives in its data folder:
two services in two folders never share anything, and a second service in the same folder is refused.
A restart resumes: orders and positions from the database, pairs from the registry, the replay where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from traderbot.brokers.base import Broker
from traderbot.config.manager import ConfigManager
from traderbot.data.cache_repair import BrokerCandleSource
from traderbot.data.cache_schedule import RefreshSchedule
from traderbot.data.cache_validate import CacheConfig
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel, gc_tuned
from traderbot.monitoring.metrics import ServiceMetrics
from traderbot.pairs.registry import PairRegistry
from traderbot.risk.locks import LockBook
from traderbot.risk.overrides import Overrides
from traderbot.risk.states import TradingStates
from traderbot.service.cache_job import CacheJob
from traderbot.service.datasets import Dataset
from traderbot.service.live_feed import LiveFeed
from traderbot.service.pair_host import BarSource, PairHost
from traderbot.service.pairs_sync import PairWatcher, sync_config_pairs
from traderbot.service.replay import ReplayFeed
from traderbot.service.settings import ServiceSettings
from traderbot.store.event_log import EventLog
from traderbot.store.journal import SqlOrderJournal
from traderbot.store.risk_store import SqlRiskStore
from traderbot.store.snapshots import AccountSnapshots, PositionsTable
from traderbot.store.state_dir import StateDir
from traderbot.store.state_store import SqlStateStore

if TYPE_CHECKING:
    from traderbot.alerts.runner import AlertService
    from traderbot.service.api_server import ApiServer

log = logging.getLogger("traderbot.service")
REPLAY_FILE = "replay.json"
SNAPSHOT_EVERY_NS = 3_600 * 10**9
FAST_SLICE, PACED_SLICE = 5_000, 8  # bars released per step of the feed loop (as fast as possible, paced)


class TradingService:
    def __init__(self, settings: ServiceSettings, *, on_reload: Callable[[], Any] | None = None,
                 broker: Broker | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:  # fmt: skip
        """`broker`: live mode's adapter (default: `create_broker(settings.broker)`, credentials from the
        environment; a missing one raises MissingCredential naming the variable). `now_ns`: the clock the
        market-data cache is refreshed and judged by (the wall clock; a test may pin it)."""
        if settings.mode not in ("paper", "live"):
            raise UserError(f"mode {settings.mode!r} is unknown: use --mode paper or --mode live")
        self.live = settings.mode == "live"
        if self.live and broker is None:
            if not settings.broker:
                raise UserError("live mode needs a broker: set name under [broker] in traderbot.toml or pass "
                                "--broker (oanda, alpaca, ccxt:<exchange id>, ninjatrader)")  # fmt: skip
            from traderbot.brokers.factory import create_broker

            broker = create_broker(settings.broker)
        self.broker = broker
        self.settings = settings
        self.now_ns = now_ns
        self.api: ApiServer | None = None  # serve_api: the control-plane API on this loop
        self.cache_job: CacheJob | None = None  # live: the market-data cache kept fresh for the running pairs
        self.alerts: AlertService | None = None  # with a configuration file: its [alerts] rules and notifiers
        self.state = StateDir(settings.data_dir)
        self.on_reload = on_reload
        self.config: ConfigManager | None = None
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_ts = 0  # the replay clock when the persisted state was last written
        self._last_snap = -SNAPSHOT_EVERY_NS
        self._positions_at = -1  # the portfolio version the positions table was last synced at

    # ---- wiring ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.settings
        self.engine = self.state.open_database(s.database_url)
        self.journal = SqlOrderJournal(self.engine, s.trader_id, write_behind=True)
        states = TradingStates(SqlStateStore(self.engine, s.trader_id))
        self.kernel = k = Kernel(account_currency=s.currency, starting_cash=s.starting_cash,
                                 trader_id=s.trader_id, journal=self.journal, trading_states=states)  # fmt: skip
        k.portfolio.track_marks = False  # the equity curve of a backtest; the service keeps snapshots instead
        risk_store = SqlRiskStore(self.engine, s.trader_id)
        k.risk.locks = LockBook(risk_store, now_ns=lambda: k.cache.now_ns)
        k.risk.overrides = Overrides(risk_store, now_ns=lambda: k.cache.now_ns)
        k.risk.sink = risk_store
        self.feed: ReplayFeed | LiveFeed
        self.dataset: BarSource
        if self.live:
            self._build_live()
        else:
            if s.speed is not None:  # paced: revalue risk sums as bars arrive, off the order path (as live)
                k.risk.follow_bars(k.bus)  # as fast as possible: the first order after a bar revalues
            self._restore()
            self.dataset = Dataset(s.dataset, base=s.config_path.parent if s.config_path else None)
            self.feed = ReplayFeed(k, self._start_ns(), s.speed)
        self.registry = PairRegistry(self.engine, s.trader_id, bus=k.bus, cache_valid=self._cache_problem,
                                     risk_lock=self._lock_problem)  # fmt: skip
        self.host = PairHost(k, self.feed, self.dataset, self._pair_failed)
        self.watcher = PairWatcher(self.registry, self.host, self.settings)
        self.events = EventLog(self.engine, s.trader_id)
        self.events.attach(k.bus)
        self.metrics = ServiceMetrics()  # Prometheus counters fed by the bus (monitoring/metrics.py)
        self.metrics.attach(k, self.host.last_bar)
        self.snapshots = AccountSnapshots(self.engine, s.trader_id)
        self.positions = PositionsTable(self.engine, s.trader_id)  # the API's read model when served alone

    def _build_live(self) -> None:
        """The kernel linked to the broker (venue, reconciliation, wall clock), fed by its bars and prices."""
        from traderbot.live.link import BrokerLink, SessionConfig
        from traderbot.service.live_prices import PricePump

        s, k, broker = self.settings, self.kernel, self.broker
        assert broker is not None
        config = SessionConfig(trader_id=s.trader_id, account_currency=s.currency,
                               reconcile_interval_s=s.reconcile_interval_s)  # fmt: skip
        self.link = BrokerLink(k, broker, self.journal, config)
        self.link.restore()  # orders and positions as stored; the reconciliation settles them with the broker
        self.feed = LiveFeed(k, broker, warm_bars=s.warm_bars, grace_s=s.bar_grace_s, retry_s=s.bar_retry_s,
                             market_cache=self._market_cache(), on_failure=self._series_failed)  # fmt: skip
        self.dataset = self.feed
        self.prices = PricePump(k, broker, lambda: self.host.running.keys(), retry_s=s.bar_retry_s)
        self.cache_job = CacheJob(self._market_cache(writable=True), BrokerCandleSource(broker), self._timeframes,
                                  s.cache_refresh, tick_s=s.poll_s)  # fmt: skip

    def _market_cache(self, *, writable: bool = False) -> MarketDataCache:
        """The market-data cache of the data folder (`store/`, created if missing). Read-only, for the feed:
        valid series warm pairs. Writable, for the cache job: refreshed, and a pair whose cache turns invalid
        is stopped."""
        root = self.state.path / "store"
        root.mkdir(exist_ok=True)
        if not writable:
            return MarketDataCache(ParquetBarStore(root, read_only=True), self.settings.cache, self.now_ns)
        return MarketDataCache(ParquetBarStore(root), self.settings.cache, self.now_ns,
                               on_invalid=self._cache_invalid)  # fmt: skip

    def _timeframes(self) -> dict[str, str]:
        """The running pairs and the timeframe each trades on (the series its cache is kept at)."""
        series = self.kernel.cache.series
        return {pair: series[run.sid].timeframe.name for pair, run in self.host.running.items()}

    def configure_cache(self, config: CacheConfig, schedule: RefreshSchedule) -> None:
        """New `[cache]` thresholds and refresh schedule, applied while running (hot reload)."""
        self.settings = replace(self.settings, cache=config, cache_refresh=schedule)
        if self.cache_job is not None:
            self.cache_job.configure(config, schedule)
        if isinstance(self.feed, LiveFeed) and self.feed.market_cache is not None:
            self.feed.market_cache.config = config

    def _restore(self) -> None:
        """Positions from every stored fill; orders a previous run left open are closed (the simulated venue
        keeps no orders across a restart)."""
        cache, portfolio = self.kernel.cache, self.kernel.portfolio
        for order in self.journal.load():
            cache.orders[order.client_order_id] = order
            self.kernel.risk._seen_ids.add(order.client_order_id)
        for fill in self.journal.load_fills():
            from traderbot.model.instrument import get_instrument

            cache.instruments.setdefault(fill.instrument_id, get_instrument(fill.instrument_id))
            portfolio.on_fill(fill, 0)

    def _start_ns(self) -> int:
        s = self.settings
        if s.start:
            return int(pd.Timestamp(s.start, tz="UTC").value)
        saved = self.state.path / REPLAY_FILE
        if saved.is_file():
            return int(json.loads(saved.read_text())["now_ns"])
        dataset = self.dataset
        assert isinstance(dataset, Dataset)  # paper mode
        firsts = [
            int(dataset.load(p.id, p.timeframe).ts[0]) for p in s.pairs if dataset.has(p.id, p.timeframe)
        ]
        return min(firsts) if firsts else 0

    # ---- guards ----------------------------------------------------------------------------------------------
    def _cache_problem(self, pair: str) -> str | None:
        if self.live:
            return None  # the broker's history is fetched when the pair starts; a refusal locks it then
        rec = self.registry.find(pair)
        tf = rec.timeframe if rec is not None else "15m"
        if not self.dataset.has(pair, tf):
            return f"no {tf} bars for {pair} in the replay dataset ({self.dataset.describe()})"
        return None

    def _lock_problem(self, pair: str) -> str | None:
        lock = self.kernel.risk.locks.effective("", pair, self.kernel.cache.now_ns)
        return None if lock is None else lock.describe()

    def _cache_invalid(self, pair: str, reason: str) -> None:
        """The pair's cache turned invalid: it stops trading (to ready, the reasons in its history)."""
        log.warning("%s: market-data cache invalid (%s): the pair stops trading", pair, reason)
        self.registry.mark_cache_invalid(pair, "market-data cache invalid: " + reason)
        self.watcher.step()  # stop it now, not at the watcher's next poll

    def _series_failed(self, pair: str, reason: str) -> None:
        self.host.fail(pair, reason)

    def _pair_failed(self, pair: str, reason: str) -> None:
        self.registry.mark_locked(pair, reason, actor="service")

    # ---- running ---------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until stopped (a signal, `stop()`, or the end of the replay with exit_at_end)."""
        with self.state:  # the folder's lock: a second service here is refused
            self._build()
            self.state.write_pid()
            loop = asyncio.get_running_loop()
            for sig, handler in (
                (signal.SIGINT, self.stop),
                (signal.SIGTERM, self.stop),
                (signal.SIGHUP, self._hup),
            ):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, handler)
            bridge = None
            try:
                self._config_manager()
                self._start_alerts()
                await self._start_api()
                if self.settings.redis_url:  # optional: mirror the bus to Redis for other processes
                    from traderbot.service.redis_bridge import RedisBridge

                    bridge = RedisBridge(
                        self.settings.redis_url, self.kernel.bus, trader_id=self.settings.trader_id
                    )
                    await bridge.start()
                if self.live:  # connect and reconcile before any pair starts (NotReconciled: not trading)
                    await self.link.start()
                with gc_tuned():
                    sync_config_pairs(self.registry, self.settings.pairs)
                    self.watcher.step()
                    self.started.set()
                    jobs = (self._feed_loop(), self._watch_loop(), self._persist_loop(), self._commands())
                    self._tasks = [loop.create_task(job) for job in jobs]
                    if self.live:
                        self._tasks.append(loop.create_task(self.prices.run()))
                        assert self.cache_job is not None
                        self._tasks.append(loop.create_task(self.cache_job.run(self.stopping)))
                    if self.config is not None:
                        from traderbot.config.watch import watch

                        self._tasks.append(loop.create_task(watch(self.config, stop_event=self.stopping)))
                    await self.stopping.wait()
            finally:
                await self._shutdown()
                if bridge is not None:
                    await bridge.stop()

    def stop(self) -> None:
        self.stopping.set()

    def _config_manager(self) -> None:
        """With a configuration file: its versions in the database, its changes applied while running."""
        path = self.settings.config_path
        if path is None:
            return
        from traderbot.config import ConfigManager
        from traderbot.service.from_config import attach

        self.config = ConfigManager(self.engine, path)
        self.config.start()
        attach(self, self.config)

    def _start_alerts(self) -> None:
        """With a configuration file: its `[alerts]` rules checked and notifiers fed on this loop."""
        if self.config is None:
            return
        from traderbot.alerts.runner import AlertService

        self.alerts = AlertService.for_service(self, self.config.current.alerts)
        self.alerts.start()

    def _hup(self) -> None:
        """SIGHUP (`traderbot config reload`): read the file again and apply what changed."""
        if self.config is not None:
            result = self.config.reload(author="SIGHUP")
            log.info("configuration reload: %s", result.outcome)
        if self.on_reload is not None:
            self.on_reload()

    async def _feed_loop(self) -> None:
        feed = self.feed
        # paced (a replay at a speed, or live): a few bars at a time, then the loop serves the API and the other
        # tasks (a minute's bars of 50 pairs close together: one release of all of them held the loop ~15 ms)
        limit = FAST_SLICE if self.settings.speed is None and not self.live else PACED_SLICE
        while not self.stopping.is_set():
            n = feed.release(limit)
            if n:
                await asyncio.sleep(0)
                continue
            if feed.exhausted:
                if self.settings.exit_at_end:
                    log.info("replay finished: stopping (--exit-at-end)")
                    self.stop()
                    return
                await asyncio.sleep(0.2)  # idle, still answering
            else:
                await asyncio.sleep(min(feed.wait_s(), 0.05))

    async def _watch_loop(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.settings.poll_s)
            self.watcher.step()

    async def _persist_loop(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.05)
            for step in self._persist_steps():  # the loop serves the API between the steps
                step()
                await asyncio.sleep(0)

    def _persist(self, *, final: bool = False) -> None:
        for step in self._persist_steps(final=final):
            step()

    def _persist_steps(self, *, final: bool = False) -> list[Callable[[], object]]:
        """Order journal, event log, account snapshot, positions table, replay position: in this order, with the
        replay position taken before the journal is flushed (a resume never skips what the journal missed)."""
        now, released = self.kernel.cache.now_ns, self.feed.released

        def snapshot() -> None:
            # hourly, market time; none before a bar
            if now and (final or now - self._last_snap >= SNAPSHOT_EVERY_NS):
                snap = self.snapshots.record(self.kernel.portfolio, now)
                self.kernel.bus.publish("account", snap)
                self._last_snap = now

        def positions() -> None:
            if self.kernel.portfolio.version != self._positions_at:  # fills (or charges) since the last sync
                version = self.kernel.portfolio.version
                self.positions.sync(self.kernel.portfolio, self.kernel.cache.now_ns)
                self._positions_at = version

        def replay_position() -> None:
            if now and not self.live and (final or now != self._last_ts):  # where a replay resumes
                tmp = self.state.path / (REPLAY_FILE + ".tmp")
                tmp.write_text(json.dumps({"now_ns": now, "released": released}))
                tmp.replace(self.state.path / REPLAY_FILE)
                self._last_ts = now

        return [self.journal.flush, self.events.flush, snapshot, positions, replay_position]

    async def _start_api(self) -> None:
        """With `serve_api`: the control-plane API on this loop (bound first: a busy port stops the start)."""
        s = self.settings
        if not s.serve_api:
            return
        from traderbot.service.api_server import ApiServer

        self.api = ApiServer(self.engine, s.trader_id, s.api_host, s.api_port, service=self, settings=s.api)
        key = self.api.first_start_key()
        if key is not None:
            print(
                f"first start: created an admin API key; store it now, it is not shown again:\n{key}",
                flush=True,
            )
        await self.api.start()
        print(f"API and dashboard on {self.api.url} (OpenAPI at {self.api.url}/docs)", flush=True)

    async def _commands(self) -> None:
        """Commands the API (in this process or `traderbot api` beside it) sends: kill switch, re-arm, reload."""
        from traderbot.api.commands import CommandRunner
        from traderbot.api.service_commands import service_handlers

        runner = CommandRunner(self.engine, self.settings.trader_id, service_handlers(self))
        await runner.serve(self.stopping)

    async def _shutdown(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self.api is not None:
            await self.api.stop()
        if self.alerts is not None:  # queued alerts get a moment to go out
            await self.alerts.stop()
        if hasattr(self, "host"):
            s = self.settings
            for pair in list(self.host.running):
                self.host.stop(pair, cancel=s.cancel_on_stop, flatten=s.flatten_on_stop)
            if self.live:  # the cancels and closing orders reach the broker before it is closed
                assert isinstance(self.feed, LiveFeed)
                await self.feed.aclose()
                await self.link.stop()
            self._persist(final=True)
            self.events.close()
            self.metrics.close()
            self.engine.dispose()
        self.state.remove_pid()

    # ---- for the CLI and tests ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        k = self.kernel
        return {"replay_now": pd.Timestamp(k.cache.now_ns, tz="UTC").isoformat() if k.cache.now_ns else None,
                "bars": self.feed.released, "running": sorted(self.host.running),
                "orders": len(k.cache.orders), "equity": str(k.portfolio.equity()),
                "data_dir": str(Path(self.state.path).resolve()),
                "cache": self._cache_status()}  # fmt: skip

    def _cache_status(self) -> dict[str, Any]:
        """Live: each running pair's cache after its last refresh (valid, score, last bar, reasons)."""
        health = self.cache_job.health if self.cache_job is not None else {}
        return {p: {k: v for k, v in h.to_dict().items() if k in ("valid", "score", "last_bar", "reasons")}
                for p, h in health.items()}  # fmt: skip
