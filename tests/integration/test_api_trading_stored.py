"""The trading reads of `traderbot api` alone (no service): orders, positions, round trips, performance and risk
status from rows the real order journal, portfolio, positions table, account snapshots, event log, state and
risk stores wrote; bad filters are clear 4xx answers; the routes need a key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from tests.api_harness import Api, api_on, as_key

from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled
from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.engine import Denial
from traderbot.risk.locks import LockBook
from traderbot.risk.states import StateChange, TradingState
from traderbot.store.config_store import SqlConfigStore
from traderbot.store.event_log import EventLog
from traderbot.store.journal import SqlOrderJournal
from traderbot.store.risk_store import SqlRiskStore
from traderbot.store.snapshots import AccountSnapshots, PositionsTable
from traderbot.store.state_store import SqlStateStore

H = 3_600 * 10**9
T0 = 1_709_506_800 * 10**9  # 2024-03-03 23:00 UTC, the evening before the trading day
T1 = T0 + 11 * H  # 2024-03-04 10:00 UTC
RISK = "[risk.limits]\nmax_position_notional = 5000\nmax_portfolio_notional = 10000\nmax_open_positions = 3\n"


@dataclass
class Book:
    journal: SqlOrderJournal
    portfolio: Portfolio
    seq: int = 0

    def trade(self, pair: str, side: str, qty: str, px: str, ts: int, strategy: str = "s1") -> str:
        """An order filled at `px`, stored and booked as the service does (journal, then portfolio)."""
        self.seq += 1
        o = Order(f"O-TB-{strategy}-{self.seq:06d}", pair, strategy, OrderSide(side), OrderType.MARKET,
                  Decimal(qty), ts)  # fmt: skip
        self.journal.record(o)
        o.status, o.filled_qty, o.filled_cost = OrderStatus.FILLED, Decimal(qty), Decimal(qty) * Decimal(px)
        fill = OrderFilled(o.client_order_id, pair, strategy, ts, trade_id=f"T{self.seq}", side=side,
                           quantity=Decimal(qty), price=Decimal(px))  # fmt: skip
        self.journal.fill(o, fill)
        self.portfolio.on_fill(fill, 0)
        return o.client_order_id


@pytest.fixture
def api(any_db_url: str) -> Iterator[Api]:
    with api_on(any_db_url) as api:
        _trade_and_store(api)
        yield api


def _trade_and_store(api: Api) -> None:
    engine = api.engine
    cache, bus = Cache(), MessageBus()
    for pair in ("EURUSD", "GBPUSD", "EURGBP"):
        cache.instruments[pair] = get_instrument(pair)
    portfolio = Portfolio(cache, bus, "USD", Decimal(10_000))
    portfolio.track_marks = False  # as the service: no backtest equity marks
    events = EventLog(engine, "TB", bus)
    snaps = AccountSnapshots(engine, "TB")
    book = Book(SqlOrderJournal(engine, "TB"), portfolio)
    snaps.record(portfolio, T0)  # 10000
    book.trade("EURUSD", "buy", "1000", "1.08000", T1)
    book.trade("EURUSD", "sell", "1000", "1.08500", T1 + H)  # +5
    snaps.record(portfolio, T1 + H)  # 10005
    book.trade("GBPUSD", "buy", "1000", "1.26000", T1 + 2 * H)
    book.trade("GBPUSD", "sell", "1000", "1.25200", T1 + 3 * H)  # -8
    snaps.record(portfolio, T1 + 3 * H)  # 9997
    book.trade("GBPUSD", "sell", "2000", "1.25000", T1 + 4 * H)  # open short
    book.trade("EURUSD", "buy", "1000", "1.08400", T1 + 5 * H)  # open long
    book.trade(
        "EURUSD", "buy", "1000", "1.08600", T1 + 6 * H, strategy="s2"
    )  # EURUSD's latest fill: the mark
    working = Order("O-TB-s3-000001", "EURGBP", "s3", OrderSide.BUY, OrderType.LIMIT, Decimal(1000), T1 + 7 * H,
                    price=Decimal("0.85000"))  # fmt: skip
    working.status = OrderStatus.ACCEPTED
    book.journal.record(working)
    snaps.record(portfolio, T1 + 7 * H)  # 9997 (no bar prices here: unrealized is not counted)
    PositionsTable(engine, "TB").sync(portfolio, T1 + 7 * H)
    events.flush()
    states = SqlStateStore(engine, "TB")
    states.save_state(StateChange("kill_switch", TradingState.ACTIVE, TradingState.HALTED, "api:desk", "incident",
                                  T1 + 7 * H))  # fmt: skip
    states.save_state(StateChange("system", TradingState.ACTIVE, TradingState.HALTED, "api:desk",
                                  "kill switch: incident", T1 + 7 * H))  # fmt: skip
    risk = SqlRiskStore(engine, "TB")
    locks = LockBook(risk, now_ns=lambda: T1)
    locks.add("pair:GBPUSD", "protection:daily_loss", TradingState.HALTED, "lost 8 USD", until_ns=T1 + 8 * H)
    locks.add("pair:EURUSD", "breaker:gap", TradingState.REDUCING, "gap", until_ns=T1 + H)  # over by then
    for i, code in enumerate(("POSITION_LIMIT", "TRADING_HALTED", "POSITION_LIMIT")):
        risk.record_denial(
            Denial(T1 + i, f"O-TB-s1-9{i}", "s1", "EURUSD", "buy", "1000", code, f"{code}: ctx {i}")
        )
    SqlConfigStore(engine).add(ts=T1, author="test", outcome="applied", applied=True, diff=[], text=RISK,
                               sha256="0" * 64, path="traderbot.toml")  # fmt: skip


def _get(api: Api, path: str) -> dict:  # type: ignore[type-arg]
    r = api.client.get("/api/v1" + path, headers=as_key(api.viewer))
    assert r.status_code == 200, r.text
    body: dict = r.json()  # type: ignore[type-arg]
    assert body["source"] == "database"
    return body


def test_orders_come_newest_first_filtered_by_status_pair_and_limit(api: Api) -> None:
    every = _get(api, "/orders?limit=1000")["orders"]
    assert [o["client_order_id"] for o in every] == [
        "O-TB-s3-000001", "O-TB-s2-000007", "O-TB-s1-000006", "O-TB-s1-000005", "O-TB-s1-000004",
        "O-TB-s1-000003", "O-TB-s1-000002", "O-TB-s1-000001"]  # fmt: skip
    (working,) = _get(api, "/orders?status=open")["orders"]
    assert working["open"] is True and working["status"] == "accepted" and working["price"] == "0.85000"
    assert working["avg_fill_price"] is None and working["created"] == "2024-03-04T17:00:00+00:00"
    closed = _get(api, "/orders?status=closed")["orders"]
    assert len(closed) == 7 and all(o["status"] == "filled" and not o["open"] for o in closed)
    eur = _get(api, "/orders?pair=eur/usd&limit=2")
    assert eur["pair"] == "EURUSD" and [o["client_order_id"] for o in eur["orders"]] == [
        "O-TB-s2-000007", "O-TB-s1-000006"]  # fmt: skip
    assert eur["orders"][0]["avg_fill_price"] == "1.08600" and eur["orders"][0]["filled_qty"] == "1000"


def test_positions_are_valued_at_the_latest_fill_in_the_account_currency(api: Api) -> None:
    body = _get(api, "/positions")
    assert body["currency"] == "USD" and body["as_of"] == "2024-03-04T17:00:00+00:00"
    rows = {(p["pair"], p["strategy"]): p for p in body["positions"]}
    assert list(rows) == [("EURUSD", "s1"), ("EURUSD", "s2"), ("GBPUSD", "s1")]
    long1 = rows[("EURUSD", "s1")]
    assert long1["side"] == "long" and long1["mark_source"] == "last_fill" and long1["opened"] is None
    assert Decimal(long1["quantity"]) == 1000 and Decimal(long1["avg_price"]) == Decimal("1.084")
    assert Decimal(long1["mark"]) == Decimal("1.086") and long1["mark_time"] == "2024-03-04T16:00:00+00:00"
    assert Decimal(long1["unrealized_pnl"]) == 2 and Decimal(long1["realized_pnl"]) == 5  # (1.086-1.084)*1000
    assert Decimal(long1["exposure"]) == Decimal("1086")
    short = rows[("GBPUSD", "s1")]
    assert short["side"] == "short" and Decimal(short["quantity"]) == -2000
    assert Decimal(short["unrealized_pnl"]) == 0 and Decimal(short["realized_pnl"]) == -8
    assert Decimal(short["exposure"]) == 2500
    totals = body["totals"]
    assert totals["count"] == 3 and Decimal(totals["exposure"]) == 1086 + 1086 + 2500
    assert Decimal(totals["unrealized_pnl"]) == 2 and "E" not in totals["exposure"]
    assert [p["strategy"] for p in _get(api, "/positions?pair=GBPUSD")["positions"]] == ["s1"]


def test_trades_are_the_logged_round_trips_newest_first(api: Api) -> None:
    trades = _get(api, "/trades")["trades"]
    assert [(t["pair"], t["side"], t["pnl"]) for t in trades] == [("GBPUSD", "long", "-8.00000"),
                                                                  ("EURUSD", "long", "5.00000")]  # fmt: skip
    assert trades[1]["entry_time"] == "2024-03-04T10:00:00+00:00" and trades[1]["exit_price"] == "1.08500"
    assert [t["pair"] for t in _get(api, "/trades?pair=EURUSD&limit=1")["trades"]] == ["EURUSD"]


def _n(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def test_performance_reads_the_snapshots_and_the_round_trips(api: Api) -> None:
    p = _get(api, "/trading/performance")
    assert p["currency"] == "USD" and _n(p["equity"]) == 9997 and _n(p["cash"]) == 9997
    assert p["realized_pnl"] == "-3.00000" and p["trades"] == 2 and p["wins"] == 1
    assert p["day_start"] == "2024-03-04T00:00:00+00:00" and _n(p["daily_pnl"]) == -3  # from 10000 at 23:00
    dd = p["drawdown"]
    assert _n(dd["current"]) == 8 and _n(dd["peak_equity"]) == 10005  # 8 / 10005 = 0.07996 %
    assert dd["current_pct"] == dd["max_pct"] == "0.0800"
    curve = p["equity_curve"]
    assert curve["total_points"] == 4
    assert [_n(pt["equity"]) for pt in curve["points"]] == [10000, 10005, 9997, 9997]
    two = _get(api, "/trading/performance?points=2")["equity_curve"]["points"]
    assert [(pt["time"], _n(pt["equity"])) for pt in two] == [("2024-03-03T23:00:00+00:00", 10000),
                                                              ("2024-03-04T17:00:00+00:00", 9997)]  # fmt: skip
    pairs = {x["pair"]: x for x in p["pairs"]}
    assert pairs["EURUSD"] == {"pair": "EURUSD", "trades": 1, "wins": 1, "realized_pnl": "5.00000",
                               "unrealized_pnl": "2.00000", "total_pnl": "7.00000"}  # fmt: skip
    assert pairs["GBPUSD"]["realized_pnl"] == "-8.00000" and pairs["GBPUSD"]["trades"] == 1


def test_risk_status_shows_the_kill_switch_locks_denials_and_exposure_against_limits(api: Api) -> None:
    r = _get(api, "/risk/status?denials=2")
    assert r["system_state"] == "halted" and r["states"] == {"system": "halted"}
    assert r["kill_switch"] == {"engaged": True, "actor": "api:desk", "reason": "incident",
                                "changed": "2024-03-04T17:00:00+00:00", "changed_ns": T1 + 7 * H}  # fmt: skip
    assert [(lk["scope"], lk["source"], lk["action"]) for lk in r["locks"]] == [
        ("pair:GBPUSD", "protection:daily_loss", "halted")]  # fmt: skip
    d = r["denials"]
    assert d["window"] == 3 and d["by_reason"] == {"POSITION_LIMIT": 2, "TRADING_HALTED": 1}
    assert [x["client_order_id"] for x in d["recent"]] == ["O-TB-s1-92", "O-TB-s1-91"]
    ex = r["exposure"]
    assert ex["configured"] and ex["gross_limit"] == "10000" and ex["open_positions_limit"] == 3
    assert ex["gross"] == "4672.00000" and ex["gross_used_pct"] == "46.72"
    eur = ex["pairs"][0]
    assert (eur["pair"], eur["net_quantity"], eur["exposure"], eur["limit"], eur["used_pct"]) == (
        "EURUSD", "2000", "2172.00000", "5000", "43.44")  # fmt: skip


def test_an_empty_database_answers_every_read_without_error(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/empty.db") as api:
        for path in ("/orders", "/positions", "/trades", "/trading/performance", "/risk/status"):
            body = _get(api, path)
            assert body["source"] == "database"
        assert _get(api, "/trading/performance")["equity"] is None
        assert _get(api, "/risk/status")["kill_switch"]["engaged"] is False


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/orders?status=bogus", 422, "query.status: Input should be 'open', 'closed' or 'all'"),
        ("/orders?limit=0", 422, "query.limit: Input should be greater than or equal to 1"),
        ("/trades?limit=1001", 422, "query.limit: Input should be less than or equal to 1000"),
        ("/positions?pair=EUR%25USD", 422, "query.pair: String should match pattern"),
        ("/orders?pair=ZZZZZZ", 404, "unknown pair ZZZZZZ: it is not registered and never was"),
        ("/trades?pair=/", 422, "pair filter '/' names no pair: give one such as EURUSD"),
        ("/trading/performance?points=1", 422, "query.points: Input should be greater than or equal to 2"),
        ("/risk/status?denials=201", 422, "query.denials: Input should be less than or equal to 200"),
    ],
)
def test_bad_filters_are_a_clear_4xx(api: Api, path: str, status: int, message: str) -> None:
    r = api.client.get("/api/v1" + path, headers=as_key(api.viewer))
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


def test_a_registered_pair_without_rows_is_an_empty_answer(api: Api) -> None:
    r = api.client.post("/api/v1/pairs", headers=as_key(api.operator), json={"pair": "AUDUSD", "reason": "t"})
    assert r.status_code == 201, r.text
    assert _get(api, "/orders?pair=AUDUSD")["orders"] == []
    assert _get(api, "/positions?pair=AUDUSD")["positions"] == []
    assert _get(api, "/trades?pair=audusd")["trades"] == []


def test_the_reads_need_a_key_and_a_viewer_may_read(api: Api) -> None:
    for path in ("/orders", "/positions", "/trades", "/trading/performance", "/risk/status"):
        assert api.client.get("/api/v1" + path).status_code == 401
        assert api.client.get("/api/v1" + path, headers=as_key("tb_1_wrong")).status_code == 401
        for key in (api.viewer, api.operator, api.admin):
            assert api.client.get("/api/v1" + path, headers=as_key(key)).status_code == 200
