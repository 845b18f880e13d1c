"""Candles (paged by since + limit, forming candle dropped), instruments and polled prices."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from tests.contract.ccxt.harness import run
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.base import BrokerRejected, BrokerUnavailable
from traderbot.brokers.ccxt import CcxtBroker

MINUTE_NS = 60_000_000_000


def test_candles_page_across_the_per_call_limit_and_drop_the_forming_candle() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        now = time.time_ns()
        start = (now // MINUTE_NS - 2500) * MINUTE_NS
        bars = await broker.candles("BTCUSDT", "M1", start, now + 5 * MINUTE_NS)
        after = time.time_ns()
        klines = fake.requests.count(("GET", "/api/v3/klines"))
        assert klines == 3, klines  # 1000 + 1000 + 500 (+ the forming one, dropped): Binance's max is 1000
        assert bars[0].ts == start and bars[0].timeframe == "1m"
        assert all(b.ts_close - b.ts == MINUTE_NS for b in bars)
        assert [b.ts for b in bars] == list(
            range(start, bars[-1].ts + 1, MINUTE_NS)
        )  # contiguous, no repeats
        assert bars[-1].ts_close <= after  # only complete candles
        assert bars[-1].ts_close > now - MINUTE_NS  # ... up to the present
        assert len(bars) in (2500, 2501)  # 2501 only if a minute closed while paging
        k = bars[0].ts // MINUTE_NS  # the fake's deterministic series, exact to the cent
        assert bars[0].open == 50000 + k % 97 and bars[0].close == bars[0].open + (k % 11 - 5) / 4

    run(scenario)


def test_candles_in_a_closed_window_need_one_request_and_respect_the_end() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        start = (time.time_ns() // MINUTE_NS - 100) * MINUTE_NS
        bars = await broker.candles("BTCUSDT", "1m", start, start + 30 * MINUTE_NS)
        assert len(bars) == 30 and bars[-1].ts == start + 29 * MINUTE_NS
        assert fake.requests.count(("GET", "/api/v3/klines")) == 1
        with pytest.raises(BrokerRejected) as err:
            await broker.candles("BTCUSDT", "7m", start, start + MINUTE_NS)
        assert err.value.code == "BAD_TIMEFRAME"

    run(scenario)


def test_instruments_carry_the_exchange_filters_as_exact_decimals() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        by_id = {i.id: i for i in await broker.instruments()}
        btc = by_id["BTCUSDT"]
        assert (btc.base, btc.quote, btc.tick_size, btc.lot_size) == (
            "BTC",
            "USDT",
            Decimal("0.01"),
            Decimal("1E-5"),
        )
        assert btc.min_quantity == Decimal("0.00001") and btc.price_precision == 2
        assert by_id["ETHUSDT"].lot_size == Decimal("0.0001")

    run(scenario)


def test_prices_poll_book_ticker_and_report_changes() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        stream = broker.prices(["BTCUSDT", "ETHUSDT"])
        first = [await anext(stream), await anext(stream)]
        assert {(t.instrument_id, t.bid, t.ask) for t in first} == {
            ("BTCUSDT", Decimal("50000.00"), Decimal("50000.10")),
            ("ETHUSDT", Decimal("3000.00"), Decimal("3000.05")),
        }
        fake.set_quote("BTCUSDT", Decimal("50100.00"), Decimal("50100.50"))
        tick = await asyncio.wait_for(anext(stream), 2)
        assert (tick.instrument_id, tick.bid, tick.ask) == (
            "BTCUSDT",
            Decimal("50100.00"),
            Decimal("50100.50"),
        )
        await stream.aclose()  # type: ignore[attr-defined]

    run(scenario)


def test_prices_that_stop_coming_raise_broker_unavailable() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        stream = broker.prices(["BTCUSDT"])
        await anext(stream)
        fake.fail_next("GET /api/v3/ticker/bookTicker", 503, times=1000)
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="stalled") as err:
            while True:
                await asyncio.wait_for(anext(stream), 3)
        assert 0.3 <= time.monotonic() - started < 2.5
        assert "BTC/USDT" in str(err.value)

    run(scenario, stall_timeout=0.4)
