"""Candles: paging by 5000, incomplete candles dropped, exact decimal strings -> Bar floats."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.contract.oanda.support import run
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import BrokerRejected
from traderbot.brokers.oanda import OandaBroker
from traderbot.model.data import Bar

MINUTE = 60_000_000_000
T0 = 1_700_000_040 * 1_000_000_000  # a minute boundary


def _rows(n: int, step: int = MINUTE) -> list[tuple[int, str, str, str, str, int]]:
    """n mid candles with distinct prices (1.1 + i pipettes) so every bar can be checked exactly."""
    out = []
    for i in range(n):
        o = Decimal("1.10000") + Decimal(i) * Decimal("0.00001")
        out.append((T0 + i * step, str(o), str(o + Decimal("0.0002")), str(o - Decimal("0.0001")),
                    str(o + Decimal("0.00005")), 10 + i))  # fmt: skip
    return out


def _candle_queries(fake: OandaFake) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(seen.path).query) for seen in fake.seen("candles")]


def test_12000_m1_candles_take_three_requests_and_drop_the_forming_one(fake: OandaFake) -> None:
    fake.set_candles("EUR_USD", "M1", _rows(12_000))  # the fake serves the last one as complete: false

    bars = run(fake, lambda b: b.candles("EURUSD", "M1", T0, T0 + 20_000 * MINUTE))

    assert len(bars) == 11_999 and len(_candle_queries(fake)) == 3
    assert [b.ts for b in bars] == [T0 + i * MINUTE for i in range(11_999)]  # no gaps, no duplicates
    first, queries = bars[0], _candle_queries(fake)
    assert first == Bar("EURUSD", "1m", T0, T0 + MINUTE, 1.1, 1.1002, 1.0999, 1.10005, 10.0)
    assert bars[4_321].open == float("1.14321") and bars[-1].close == float("1.22003")  # i = 11998
    assert all(q["count"] == ["5000"] and q["price"] == ["M"] and q["granularity"] == ["M1"] for q in queries)
    assert "includeFirst" not in queries[0] and queries[1]["includeFirst"] == ["false"]
    assert all("to" not in q for q in queries)  # OANDA refuses count with both from and to


def test_range_end_is_exclusive_and_stops_paging_early(fake: OandaFake) -> None:
    fake.set_candles("EUR_USD", "M1", _rows(12_000))

    bars = run(fake, lambda b: b.candles("EURUSD", "M1", T0 + 10 * MINUTE, T0 + 20 * MINUTE))

    assert [b.ts for b in bars] == [T0 + i * MINUTE for i in range(10, 20)]
    assert len(_candle_queries(fake)) == 1


def test_bid_component_by_config_and_d1_maps_to_oanda_d(fake: OandaFake) -> None:
    day = 86_400_000_000_000
    fake.set_candles("EUR_USD", "D", _rows(3, day))

    bars = run(fake, lambda b: b.candles("EURUSD", "D1", T0, T0 + 10 * day), price_component="B")

    assert [b.ts_close - b.ts for b in bars] == [day, day]
    assert bars[0].open == float("1.09995")  # mid 1.10000 minus half a pip: the bid candle
    (query, *_) = _candle_queries(fake)
    assert query["granularity"] == ["D"] and query["price"] == ["B"]


def test_an_unsupported_timeframe_is_refused_before_any_request(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerRejected, match="has no OANDA granularity") as err:
            await broker.candles("EURUSD", "7m", T0, T0 + MINUTE)
        assert err.value.code == "INVALID_TIMEFRAME"

    run(fake, body)
    assert _candle_queries(fake) == []
