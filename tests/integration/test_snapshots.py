"""Account snapshots and the positions table on a SQLite file and on PostgreSQL: exact balances and equity
after real portfolio fills, and a positions table equal to the portfolio through opens, partial closes,
reversals and flat positions."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from traderbot.core.messages import OrderFilled
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import generic_instrument
from traderbot.store.db import open_engine
from traderbot.store.snapshots import AccountSnapshots, PositionsTable

CLOSES = {"AAA": [100.0, 101.5], "BBB": [20.0, 19.25]}


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    e = open_engine(any_db_url)
    yield e
    e.dispose()


def _kernel() -> Kernel:
    """A portfolio of 10,000 USD with two pairs whose last closes are AAA 101.5 and BBB 19.25."""
    k = Kernel(starting_cash=D(10_000))
    ts = pd.date_range("2024-01-02", periods=2, freq="1h", tz="UTC").as_unit("ns").asi8
    for iid, closes in CLOSES.items():
        px = np.array(closes)
        idx = k.add_data(generic_instrument(iid), BarSeries.from_arrays(iid, "1h", ts, px, px, px, px))
        k.cache.visible[idx] = 2
    return k


def _fill(k: Kernel, n: int, strategy: str, iid: str, side: str, qty: str, px: str, fee: str = "0") -> None:
    fill = OrderFilled(f"O-{n}", iid, strategy, n, trade_id=f"T-{n}", side=side, quantity=D(qty), price=D(px),
                       commission=D(fee), commission_currency="USD")  # fmt: skip
    k.portfolio.on_fill(fill, 1)


def _portfolio_rows(k: Kernel) -> dict[tuple[str, str], tuple[D, D, D]]:
    return {key: (p.quantity, p.avg_price, p.realized_pnl_quote)
            for key, p in k.portfolio.positions.items() if p.quantity}  # fmt: skip


def _table_rows(table: PositionsTable) -> dict[tuple[str, str], tuple[D, D, D]]:
    return {(p.strategy_id, p.instrument_id): (p.quantity, p.avg_price, p.realized_pnl) for p in table.load()}


def test_a_snapshot_holds_the_exact_balance_equity_and_margin_after_fills(engine: Engine) -> None:
    k = _kernel()
    snaps = AccountSnapshots(engine, "TB")
    assert snaps.latest() is None
    first = snaps.record(k.portfolio, 1)
    _fill(k, 1, "S1", "AAA", "buy", "10", "100", fee="1.5")
    _fill(k, 2, "S1", "AAA", "sell", "4", "103", fee="0.5")  # realises 4 x 3 = 12
    _fill(k, 3, "S2", "BBB", "sell", "30", "20", fee="0.25")
    snaps.record(k.portfolio, 2)

    last = AccountSnapshots(engine, "TB").latest()
    assert last is not None and last.ts == 2 and last.currency == "USD"
    assert last.balance == D("10009.75")  # 10000 - 1.5 - 0.5 + 12 - 0.25
    assert last.equity == D("10041.25")  # + 6 x (101.5 - 100) + 30 x (20 - 19.25)
    assert last.margin_used == D("1186.5")  # 6 x 101.5 + 30 x 19.25 at margin rate 1
    assert last.free_margin == D("8854.75") and last.open_positions == 2
    assert (last.balance, last.equity, last.margin_used) == (
        k.portfolio.balance,
        k.portfolio.equity(),
        k.portfolio.margin_used(),
    )
    assert str(last.equity) == str(k.portfolio.equity())  # the very digits, not a rounded copy
    assert (first.balance, first.equity, first.margin_used, first.open_positions) == (
        D(10_000),
        D(10_000),
        0,
        0,
    )


def test_the_series_is_ordered_and_bounded_and_per_trader(engine: Engine) -> None:
    k = _kernel()
    snaps = AccountSnapshots(engine, "TB")
    for ts in (30, 10, 20):
        snaps.record(k.portfolio, ts)
    AccountSnapshots(engine, "OTHER").record(k.portfolio, 25)
    assert [s.ts for s in snaps.series()] == [10, 20, 30]
    assert [s.ts for s in snaps.series(since=15, until=30)] == [20, 30]
    assert [s.ts for s in snaps.series(until=10)] == [10]
    assert snaps.latest() is not None and snaps.latest().ts == 30  # type: ignore[union-attr]


def test_the_positions_table_follows_opens_partial_closes_reversals_and_flats(engine: Engine) -> None:
    k = _kernel()
    table = PositionsTable(engine, "TB")
    steps = [
        ("S1", "AAA", "buy", "10", "100"),  # open long
        ("S1", "AAA", "sell", "4", "103"),  # partial close: realises 12
        ("S2", "BBB", "sell", "30", "20"),  # open short, another strategy and pair
        ("S1", "AAA", "sell", "10", "104"),  # reversal: closes 6 (realises 24), opens 4 short at 104
        ("S2", "BBB", "buy", "30", "19"),  # flat: the row goes
        ("S1", "BBB", "buy", "5", "19.5"),  # same pair, other strategy
    ]
    for n, (strategy, iid, side, qty, px) in enumerate(steps, start=1):
        _fill(k, n, strategy, iid, side, qty, px)
        table.sync(k.portfolio, ts=n)
        assert _table_rows(table) == _portfolio_rows(k), f"after step {n}"
    assert _table_rows(PositionsTable(engine, "TB")) == {
        ("S1", "AAA"): (D(-4), D(104), D(36)),
        ("S1", "BBB"): (D(5), D("19.5"), D(0)),
    }
    assert {(p.instrument_id, p.updated) for p in table.load()} == {("AAA", 4), ("BBB", 6)}


def test_an_unchanged_position_keeps_its_time_and_a_restarted_empty_portfolio_clears_the_table(
    engine: Engine,
) -> None:
    k = _kernel()
    table = PositionsTable(engine, "TB")
    _fill(k, 1, "S1", "AAA", "buy", "10", "100")
    _fill(k, 2, "S2", "BBB", "buy", "3", "20")
    assert table.sync(k.portfolio, ts=1) == 2
    _fill(k, 3, "S2", "BBB", "buy", "1", "21")
    assert table.sync(k.portfolio, ts=2) == 1
    assert {(p.instrument_id, p.quantity, p.updated) for p in table.load()} == {("AAA", 10, 1), ("BBB", 4, 2)}
    assert PositionsTable(engine, "OTHER").sync(_kernel().portfolio, ts=3) == 0  # other trader: untouched
    assert len(table.load()) == 2
    assert table.sync(_kernel().portfolio, ts=4) == 2 and table.load() == []
