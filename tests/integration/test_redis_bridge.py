"""The Redis mirror of the bus, against the real Redis on 127.0.0.1:6379 (and a throwaway redis-server).

Each test uses its own key prefix (tbtest-<uuid>) and deletes its keys at the end. Without Redis the tests fail
under CI and skip loudly elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled
from traderbot.errors import UserError
from traderbot.model.data import Bar
from traderbot.pairs.events import PairStateChanged
from traderbot.pairs.lifecycle import PairState
from traderbot.service.redis_bridge import RedisBridge, RedisFollower

URL = os.environ.get("TRADERBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique key prefix on the real Redis; its keys are deleted afterwards."""
    client = redis.Redis.from_url(URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        msg = f"Redis at {URL} is not reachable ({type(exc).__name__}); start it (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(f"SKIPPED - {msg}")
    name = f"tbtest-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def _run(coro: Awaitable[None], timeout: float = 120.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro, timeout)

    asyncio.run(bounded())


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def _follow(follower: RedisFollower, out: list[tuple[str, dict[str, Any]]]) -> asyncio.Task[None]:
    async def collect() -> None:
        async for item in follower.events():
            out.append(item)

    task = asyncio.create_task(collect())
    await asyncio.wait_for(follower.subscribed.wait(), 10)
    return task


def _bar(pair: str, ts: int, close: float) -> Bar:
    return Bar(pair, "1m", ts, ts + 60_000_000_000, close, close + 0.001, close - 0.001, close, 100.0)


def test_follower_sees_events_in_order_and_latest_state_per_trader(prefix: str) -> None:
    fill = OrderFilled(
        "O-1", "EURUSD", "sma", 3_000, trade_id="T-1", side="BUY", quantity=Decimal("1000"),
        price=Decimal("1.10005"), commission=Decimal("0.022001"), commission_currency="USD",
    )  # fmt: skip
    changed = PairStateChanged("EURUSD", PairState.READY, PairState.TRADING, "ops", "go", 4_000)
    snapshot = {"balance": Decimal("10000.25"), "equity": Decimal("10012.50"), "currency": "USD"}

    async def scenario() -> None:
        bus_a, bus_b = MessageBus(), MessageBus()
        a = RedisBridge(URL, bus_a, trader_id="A", prefix=prefix)
        b = RedisBridge(URL, bus_b, trader_id="B", prefix=prefix)
        fa = RedisFollower(URL, "A", prefix=prefix)
        fb = RedisFollower(URL, "B", prefix=prefix)
        await a.start()
        await b.start()
        got_a: list[tuple[str, dict[str, Any]]] = []
        got_b: list[tuple[str, dict[str, Any]]] = []
        tasks = [await _follow(fa, got_a), await _follow(fb, got_b)]
        try:
            bus_a.publish("bars", _bar("EURUSD", 1_000, 1.1))
            bus_a.publish("bars", _bar("GBPUSD", 1_000, 1.25))
            bus_a.publish("bars", _bar("EURUSD", 2_000, 1.1001))
            bus_a.publish("fills", fill)
            bus_a.publish("pairs", changed)
            bus_a.publish("account", snapshot)
            bus_b.publish("bars", _bar("USDJPY", 9_000, 150.5))
            await a.flush()
            await b.flush()

            async def all_arrived() -> bool:
                return len(got_a) >= 6 and len(got_b) >= 1

            await _until(all_arrived, what="6 events for A and 1 for B")
            await asyncio.sleep(0.1)  # anything extra (a leak from the other trader) would show up now
            assert [t for t, _ in got_a] == ["bars", "bars", "bars", "fills", "pairs", "account"]
            assert [(m["instrument_id"], m["ts"]) for _, m in got_a[:3]] == [
                ("EURUSD", 1_000),
                ("GBPUSD", 1_000),
                ("EURUSD", 2_000),
            ]
            f = got_a[3][1]
            assert f["type"] == "OrderFilled"
            assert (f["price"], f["quantity"], f["commission"]) == ("1.10005", "1000", "0.022001")
            assert got_a[4][1] == {
                "type": "PairStateChanged", "pair": "EURUSD", "previous": "ready", "state": "trading",
                "actor": "ops", "reason": "go", "ts_ns": 4_000,
            }  # fmt: skip
            assert got_a[5][1]["balance"] == "10000.25"
            assert [(t, m["instrument_id"]) for t, m in got_b] == [("bars", "USDJPY")]

            prices = await fa.latest_prices()
            assert set(prices) == {"EURUSD", "GBPUSD"}
            assert (prices["EURUSD"]["ts"], prices["EURUSD"]["close"]) == (2_000, 1.1001)
            assert await fa.pair_states() == {"EURUSD": "trading"}
            assert await fa.account() == {"balance": "10000.25", "equity": "10012.50", "currency": "USD"}
            assert (await fa.last_fills())["EURUSD"]["price"] == "1.10005"

            assert set(await fb.latest_prices()) == {"USDJPY"}
            assert await fb.pair_states() == {}
            assert await fb.account() is None
            assert (a.dropped, a.errors, a.sent) == (0, 0, 6)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await a.stop()
            await b.stop()
            await fa.aclose()
            await fb.aclose()

    _run(scenario())


def test_fifty_thousand_bars_are_all_delivered_without_blocking_the_bus(prefix: str) -> None:
    pairs = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF"]
    total = 50_000

    async def scenario() -> None:
        bus = MessageBus()
        bridge = RedisBridge(URL, bus, prefix=prefix)
        follower = RedisFollower(URL, prefix=prefix)
        await bridge.start()
        count = 0
        last_ts: dict[str, int] = {}

        async def counter() -> None:
            nonlocal count
            async for topic, message in follower.events():
                if topic == "bars":
                    count += 1
                    last_ts[message["instrument_id"]] = message["ts"]

        task = asyncio.create_task(counter())
        await asyncio.wait_for(follower.subscribed.wait(), 10)
        handler_s = 0.0
        try:
            for i in range(total):
                bar = _bar(pairs[i % len(pairs)], i, 1.0 + i * 1e-6)
                t0 = time.perf_counter()
                bus.publish("bars", bar)
                handler_s += time.perf_counter() - t0
                if i % 1000 == 999:
                    await asyncio.sleep(0)  # the kernel yields between market-data batches
            await bridge.flush()

            async def all_counted() -> bool:
                return count >= total

            await _until(all_counted, timeout=90, what=f"{total} bar messages on the channel")
            assert count == total
            expected = {p: max(i for i in range(total - 5, total) if pairs[i % 5] == p) for p in pairs}
            assert last_ts == expected
            latest = await follower.latest_prices()
            assert {p: m["ts"] for p, m in latest.items()} == expected
            assert (bridge.dropped, bridge.errors, bridge.sent) == (0, 0, total)
            assert handler_s < 5.0, f"bus handler took {handler_s:.2f}s for {total} messages"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await bridge.stop()
            await follower.aclose()

    _run(scenario())


def test_unreachable_or_bad_url_is_one_clear_user_error() -> None:
    async def scenario() -> None:
        bus = MessageBus()
        with pytest.raises(UserError) as err:
            await RedisBridge("redis://127.0.0.1:1/0", bus).start()
        msg = str(err.value)
        assert "redis://127.0.0.1:1/0" in msg
        assert "is Redis running? start it or clear service.redis_url" in msg
        assert not bus.has_subscribers("bars")
        with pytest.raises(UserError, match="not a valid Redis URL"):
            await RedisBridge("http://127.0.0.1:6379", bus).start()
        with pytest.raises(UserError, match="trader id"):
            RedisBridge(URL, bus, trader_id="A:*")

    _run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    args = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    client = redis.Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            client.close()
            return proc
        except (redis.RedisError, OSError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"throwaway redis-server on port {port} did not start") from None
            time.sleep(0.05)


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason="SKIPPED - redis-server is not installed")
def test_redis_going_away_drops_and_counts_then_reconnects(tmp_path: Path) -> None:
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    servers = [_start_server(port, tmp_path)]

    async def scenario() -> None:
        bus = MessageBus()
        bridge = RedisBridge(url, bus, max_queue=100, batch_size=50, max_backoff_s=0.3)
        await bridge.start()
        follower = RedisFollower(url)
        try:
            for i in range(10):
                bus.publish("bars", _bar("EURUSD", i, 1.1))
            await bridge.flush()
            assert (await follower.latest_prices())["EURUSD"]["ts"] == 9

            _stop_server(servers[0])
            t0 = time.perf_counter()
            for i in range(10, 510):
                bus.publish("bars", _bar("EURUSD", i, 1.2))  # the bus keeps working
            assert time.perf_counter() - t0 < 5.0

            async def noticed() -> bool:
                return not bridge.connected

            await _until(noticed, what="the bridge to notice Redis is gone")
            assert bridge.errors >= 1
            assert bridge.dropped >= 400  # 500 into a queue of 100: the oldest go, counted
            assert bridge.sent == 10

            servers.append(_start_server(port, tmp_path))

            async def reconnected() -> bool:
                return bridge.connected

            await _until(reconnected, what="the bridge to reconnect")
            bus.publish("bars", _bar("EURUSD", 10_000, 1.3))
            await bridge.flush()

            async def delivered() -> bool:
                try:
                    prices = await follower.latest_prices()
                except (redis.RedisError, OSError):
                    return False  # the follower's own connection to the old server is stale once
                return prices.get("EURUSD", {}).get("ts") == 10_000

            await _until(delivered, what="the new bar after the restart")
            assert bridge.sent + bridge.dropped == 511  # every message is accounted for
        finally:
            await bridge.stop()
            await follower.aclose()

    try:
        _run(scenario())
    finally:
        for proc in servers:
            _stop_server(proc)
