"""One app's monitoring: its metrics registry, and the scrape, readiness and health answers.

With a service in this process (`traderbot run`), its state is copied on the kernel's loop (`snapshot.py`) and
everything else (database reads, calendars, text) runs in a worker thread. A standalone API (`traderbot api`)
has only the database: pair states, the training queue, stored orders and fills, the kill switch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from traderbot.monitoring import db_state
from traderbot.monitoring.collector import StateCollector, render
from traderbot.monitoring.health import HealthReport, score
from traderbot.monitoring.metrics import new_registry
from traderbot.monitoring.readiness import Check, checks
from traderbot.monitoring.snapshot import LiveSnapshot, on_kernel_loop

if TYPE_CHECKING:
    from traderbot.monitoring.metrics import ServiceMetrics
    from traderbot.service.service import TradingService


class Monitor:
    def __init__(self, engine: Engine, trader_id: str, service: TradingService | None = None) -> None:
        self.engine, self.trader_id, self.service = engine, trader_id, service
        self.metrics: ServiceMetrics | None = getattr(service, "metrics", None)
        self.registry = self.metrics.registry if self.metrics is not None else new_registry()

    async def live(self) -> LiveSnapshot | None:
        """The service's state now (None for a standalone API, or before the service has built its kernel)."""
        service = self.service
        if service is None or not hasattr(service, "host"):
            return None
        return await on_kernel_loop(self.metrics, service)

    async def scrape(self) -> bytes:
        snap = await self.live()
        return await asyncio.to_thread(self._render, snap)

    def _render(self, snap: LiveSnapshot | None) -> bytes:
        standalone = self.service is None
        state = db_state.read(self.engine, self.trader_id, journal=standalone)
        return render(self.registry, StateCollector(state, snap, db_counts=standalone))

    async def readiness(self) -> list[Check]:
        snap = await self.live()
        return await asyncio.to_thread(self._checks, snap)

    def _checks(self, snap: LiveSnapshot | None) -> list[Check]:
        db_error = db_state.ping(self.engine)
        if self.service is not None and snap is None:  # served by a service that has not built its kernel
            return [Check("database", db_error is None, db_error or "reachable"),
                    Check("service", False, "the trading service has not started yet")]  # fmt: skip
        return checks(db_error, snap)

    async def health(self) -> HealthReport:
        snap = await self.live()
        return await asyncio.to_thread(self._health, snap)

    def _health(self, snap: LiveSnapshot | None) -> HealthReport:
        state = db_state.read(self.engine, self.trader_id)
        return score(state, snap, self._checks(snap))
