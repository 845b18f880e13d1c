"""/api/v1 trading reads: orders, positions, round trips, performance.

Served by `traderbot run` (ctx.service set), they read the kernel's memory on the service's loop: these handlers
are `async def`, so they run on the kernel's own thread between its events and never write. Served by
`traderbot api` alone, they read what the service stored, in a worker thread. Both answer with the same shape,
`source` saying which (`service` or `database`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from traderbot.api import trading_live as live
from traderbot.api import trading_stored as stored
from traderbot.api.context import ApiContext, api_context
from traderbot.api.errors import ApiError
from traderbot.api.performance import performance_json
from traderbot.api.trading_views import PositionFacts, position_json, position_totals, unrealized
from traderbot.api.views import iso
from traderbot.errors import UserError
from traderbot.pairs import normalize_pair

Ctx = Depends(api_context)
PAIR = r"^[A-Za-z0-9/_.:\- ]+$"
PairFilter = Query(None, min_length=1, max_length=32, pattern=PAIR,
                   description="Only this pair (EURUSD, eur/usd); unknown: 404, known but no rows: empty.")  # fmt: skip
Limit = Query(100, ge=1, le=1000, description="At most this many, newest first.")


def pair_key(pair: str | None) -> str | None:
    if pair is None:
        return None
    try:
        return normalize_pair(pair)
    except UserError:
        raise ApiError(422, f"pair filter {pair!r} names no pair: give one such as EURUSD") from None


async def require_known(ctx: ApiContext, key: str) -> None:
    """404 unless the pair is known: to the kernel, registered now, or ever registered (its history remains)."""
    if ctx.service is not None and key in ctx.service.kernel.cache.instruments:
        return

    def known() -> bool:
        return ctx.registry.find(key) is not None or bool(ctx.registry.history(key, 1))

    if not await run_in_threadpool(known):
        raise ApiError(404, f"unknown pair {key}: it is not registered and never was; see GET /api/v1/pairs")


async def _filtered(ctx: ApiContext, key: str | None, rows: list[Any]) -> None:
    if key is not None and not rows:
        await require_known(ctx, key)


def answer(body: dict[str, Any]) -> JSONResponse:
    """The body is JSON already (strings, numbers, lists): sent as is, without FastAPI's generic encoder (which
    costs ~2 ms for 50 positions, more than building them)."""
    return JSONResponse(body)


def _source(ctx: ApiContext) -> str:
    return "database" if ctx.service is None else "service"


Status = Query("all", description="open (still working), closed (filled, canceled, denied...) or all.")


async def list_orders(status: Literal["open", "closed", "all"] = Status, pair: str | None = PairFilter,
                      limit: int = Limit, ctx: ApiContext = Ctx) -> JSONResponse:  # fmt: skip
    """Orders, newest first: their status, fills, average fill price and reason."""
    key = pair_key(pair)
    if ctx.service is not None:
        rows = live.orders(ctx.service.kernel, status, key, limit)
    else:
        rows = await run_in_threadpool(stored.orders, ctx.engine, ctx.trader_id, status, key, limit)
    await _filtered(ctx, key, rows)
    return answer({"source": _source(ctx), "status": status, "pair": key, "count": len(rows), "orders": rows})


async def position_facts(
    ctx: ApiContext, key: str | None
) -> tuple[list[PositionFacts], str | None, int | None]:
    """The open positions, the account currency and the time they are valued at."""
    service = ctx.service
    if service is not None:
        k = service.kernel
        return live.position_facts(k, key), k.portfolio.currency, k.cache.now_ns or None

    def read() -> tuple[list[PositionFacts], str | None, int | None]:
        facts, currency = stored.position_facts(ctx.engine, ctx.trader_id, key)
        return facts, currency, stored.clock_ns(ctx.engine, ctx.trader_id)

    return await run_in_threadpool(read)


async def list_positions(pair: str | None = PairFilter, ctx: ApiContext = Ctx) -> JSONResponse:
    """Every open position per pair and strategy: quantity, average price, mark, P&L, exposure."""
    key = pair_key(pair)
    facts, currency, now = await position_facts(ctx, key)
    mark_source = stored.MARK_SOURCE if ctx.service is None else live.MARK_SOURCE
    rows = [position_json(f, mark_source) for f in facts]
    rows.sort(key=lambda r: (r["pair"], r["strategy"]))
    await _filtered(ctx, key, rows)
    return answer({"source": _source(ctx), "currency": currency, "as_of": iso(now), "pair": key,
                   "positions": rows, "totals": position_totals(rows)})  # fmt: skip


async def list_trades(
    pair: str | None = PairFilter, limit: int = Limit, ctx: ApiContext = Ctx
) -> JSONResponse:
    """Closed round trips, newest first: entry and exit, prices, net P&L (account currency)."""
    key = pair_key(pair)
    if ctx.service is not None:
        rows = live.trades(ctx.service.kernel, key, limit)
    else:
        rows = await run_in_threadpool(stored.trades, ctx.engine, ctx.trader_id, key, limit)
    await _filtered(ctx, key, rows)
    return answer({"source": _source(ctx), "pair": key, "count": len(rows), "trades": rows})


async def performance(points: int = Query(500, ge=2, le=5000, description="Most equity-curve points returned."),
                      ctx: ApiContext = Ctx) -> JSONResponse:  # fmt: skip
    """Equity, cash, daily P&L, realized and unrealized P&L, drawdown, the equity curve and P&L per pair."""
    curve = await run_in_threadpool(stored.snapshots, ctx.engine, ctx.trader_id)
    service = ctx.service
    if service is not None:  # after the read: the kernel as it is now, on its own thread
        k = service.kernel
        account: dict[str, Any] | None = live.account(k)
        by_pair = live.pnl_by_pair(k)
        facts = live.position_facts(k)
        assert account is not None
        if account["now_ns"] and (not curve or curve[-1][0] < account["now_ns"]):
            curve.append((account["now_ns"], account["equity"], account["cash"]))
    else:

        def read() -> tuple[dict[str, Any] | None, dict[str, tuple[int, int, Decimal]], list[PositionFacts]]:
            e, t = ctx.engine, ctx.trader_id
            return stored.latest_account(e, t), stored.pnl_by_pair(e, t), stored.position_facts(e, t)[0]

        account, by_pair, facts = await run_in_threadpool(read)
    by_pair_unrealized: dict[str, Decimal | None] = {}
    for f in facts:
        value, before = unrealized(f), by_pair_unrealized.get(f.pair, Decimal(0))
        by_pair_unrealized[f.pair] = None if value is None or before is None else before + value
    return answer(performance_json(_source(ctx), account, curve, by_pair, by_pair_unrealized, points))
