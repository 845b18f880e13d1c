"""End to end: a real paper-trading service with the command runner wired as the service will wire it
(`service_handlers(service)` on its own loop), and the API engaging its kill switch through the channel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from traderbot.api.app import create_app
from traderbot.api.commands import CommandKind, CommandQueue, CommandRunner, CommandStatus
from traderbot.api.keys import KeyStore
from traderbot.api.service_commands import service_handlers
from traderbot.api.settings import ApiSettings
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine


def test_the_api_engages_a_running_services_kill_switch(tmp_path: Path) -> None:
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000")
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,), speed=600.0))

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        await asyncio.wait_for(service.started.wait(), 20)
        runner = CommandRunner(service.engine, "TB", service_handlers(service))
        serving = asyncio.create_task(runner.serve(service.stopping, every_s=0.02))
        engine = open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}")
        _, key = KeyStore(engine, "TB").create("operator", "desk")
        app = create_app(engine, "TB", settings=ApiSettings(command_timeout_s=4))
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api"
            ) as client:
                t0 = time.monotonic()
                r = await client.post("/api/v1/risk/kill-switch", headers={"X-API-Key": key},
                                      json={"reason": "incident", "flatten": False})  # fmt: skip
                took = time.monotonic() - t0
            assert r.status_code == 200, r.text
            assert r.json()["result"]["engaged"] is True and took < 2
            assert service.kernel.kill_switch.engaged
            queue = CommandQueue(engine, "TB")  # no configuration file: a reload is refused, clearly
            command_id = queue.submit(CommandKind.CONFIG_RELOAD, {}, "test")
            while (command := queue.get(command_id)) is not None and command.status not in (
                CommandStatus.DONE, CommandStatus.FAILED):  # fmt: skip
                await asyncio.sleep(0.02)
            assert command is not None and command.status is CommandStatus.FAILED
            assert (
                command.error == "the service runs without a configuration file: there is nothing to reload"
            )
        finally:
            service.stop()
            await task
            await serving
            engine.dispose()

    asyncio.run(scenario())
