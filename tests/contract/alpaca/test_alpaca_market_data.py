"""Bars (paged by next_page_token), assets -> instruments, and FILL activity paging against the fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.contract.alpaca.harness import run
from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker
from traderbot.brokers.base import BrokerRejected
from traderbot.model.instrument import AssetClass

MINUTE = 60_000_000_000


def _bars(start: datetime, n: int) -> list[dict[str, Any]]:
    """Alpaca bars: prices as JSON numbers (which the adapter must parse exactly)."""
    rows = []
    for i in range(n):
        t = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            {
                "t": t,
                "o": 190 + i / 100,
                "h": 191.25,
                "l": 189.5,
                "c": 190.07,
                "v": 1000 + i,
                "n": 7,
                "vw": 190.1,
            }
        )
    return rows


def test_bars_follow_next_page_token_and_keep_only_complete_bars_in_range() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now - timedelta(minutes=24)  # 25 bars: the last one (opened this minute) is still forming
        fake.set_bars("AAPL", "1Min", _bars(start, 25))
        fake.bars_page_size = 10
        start_ns = int(start.timestamp()) * 1_000_000_000
        bars = await broker.candles("AAPL", "M1", start_ns, start_ns + 30 * MINUTE)
        assert len(bars) == 24 and [b.ts for b in bars] == [start_ns + i * MINUTE for i in range(24)]
        assert bars[0].ts_close == start_ns + MINUTE and bars[-1].ts_close <= time.time_ns()
        assert (bars[3].open, bars[3].close, bars[3].volume, bars[0].timeframe) == (
            190.03,
            190.07,
            1003.0,
            "1m",
        )
        queries = fake.requests_to("GET", "/v2/stocks/AAPL/bars")
        assert len(queries) == 3 and "page_token" not in queries[0]
        assert queries[1]["page_token"] and queries[1]["page_token"] != queries[2]["page_token"]
        assert {(q["timeframe"], q["feed"]) for q in queries} == {("1Min", "iex")}
        later = await broker.candles("AAPL", "1m", start_ns + 5 * MINUTE, start_ns + 8 * MINUTE)
        assert [b.ts for b in later] == [start_ns + i * MINUTE for i in (5, 6, 7)]  # [start, end)

    run(scenario)


def test_timeframes_alpaca_has_no_bars_for_are_refused() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        for bad in ("30s", "H25", "2d", "fortnight"):
            with pytest.raises(BrokerRejected) as err:
                await broker.candles("AAPL", bad, 0, MINUTE)
            assert err.value.code == "UNSUPPORTED"
        assert fake.requests_to("GET", "/v2/stocks/*") == []

    run(scenario)


def test_assets_become_instruments_with_their_own_rules() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.add_asset(
            "PENNY", Decimal("0.5"), min_order_size="10", min_trade_increment="5", price_increment="0.0001"
        )
        fake.add_asset("HALT", Decimal("10"), tradable=False)
        fake.add_asset("GONE", Decimal("10"), status="inactive")
        found = {i.id: i for i in await broker.instruments()}
        assert set(found) == {"AAPL", "MSFT", "PENNY"}
        aapl, penny = found["AAPL"], found["PENNY"]
        assert (aapl.asset_class, aapl.quote, aapl.tick_size, aapl.lot_size) == (
            AssetClass.EQUITY,
            "USD",
            Decimal("0.01"),
            Decimal(1),
        )
        assert (penny.tick_size, penny.lot_size, penny.min_quantity, penny.price_precision) == (
            Decimal("0.0001"),
            Decimal("5"),
            Decimal("10"),
            4,
        )

    run(scenario)


def test_fractional_mode_gives_fractionable_stocks_a_tiny_lot() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.add_asset("WHOLE", Decimal("10"), fractionable=False)
        found = {i.id: i for i in await broker.instruments()}
        assert found["AAPL"].lot_size == Decimal("0.000000001") and found["WHOLE"].lot_size == 1

    run(scenario, fractional=True)


def test_fills_page_through_account_activities_with_page_token() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        for i in range(103):  # set-up straight on the fake's book: 103 executions
            fake.book.submit(
                {
                    "symbol": "AAPL",
                    "side": "buy",
                    "type": "market",
                    "time_in_force": "day",
                    "qty": "1",
                    "client_order_id": f"C-{i}",
                }
            )
        fills = await broker.fills()
        assert len(fills) == 103 and [f.client_order_id for f in fills] == [f"C-{i}" for i in range(103)]
        assert all(f.price == Decimal("190.00") and f.quantity == 1 for f in fills)
        pages = fake.requests_to("GET", "/v2/account/activities/FILL")
        assert len(pages) == 2 and pages[1]["page_token"] == fake.book.activities[99]["id"]
        assert pages[0]["direction"] == "asc" and pages[0]["page_size"] == "100"
        since = await broker.fills(fills[50].ts)
        assert [f.trade_id for f in since] == [f.trade_id for f in fills if f.ts >= fills[50].ts]
        assert (
            since[0].trade_id == fills[50].trade_id
            and "after" in fake.requests_to("GET", "/v2/account/*")[-1]
        )

    run(scenario, requests_per_minute=60_000)
