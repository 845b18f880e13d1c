"""/api/v1/pairs: the pair registry. Reads come from the database; changes go through `PairRegistry` exactly as
`traderbot pairs` makes them (start with the CLI's trading guard), and the running service follows the registry (it
never hears from the API)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Query, Request, Response

from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.schemas import NO_NUL, AddPair, ReasonBody
from traderbot.api.views import event_json, iso, pair_json, version_json
from traderbot.errors import UserError
from traderbot.pairs import PairRecord, PairRegistry, normalize_pair
from traderbot.pairs.lifecycle import PairState, TransitionRefused

PairId = Path(min_length=1, max_length=32, pattern=NO_NUL, description="A pair id, e.g. EURUSD.")
Ctx = Depends(api_context)


def _actor(who: Principal) -> str:
    return f"api:{who.name}"[:64]


def _known(registry: PairRegistry, pair: str) -> PairRecord:
    rec = registry.find(pair)
    if rec is None:
        key = normalize_pair(pair)
        raise ApiError(
            404, f"unknown pair {key}: add it with POST /api/v1/pairs (or `traderbot pairs add {key}`)"
        )
    return rec


async def list_pairs(ctx: ApiContext = Ctx) -> Response:
    """Every registered pair: state, enabled, timeframe, strategy, active parameter version, last training."""
    return Response(ctx.pairs_listing.current(), media_type="application/json")


def pair_status(pair: str = PairId, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """One pair: its record, active parameters, stored positions and its latest change."""
    from traderbot.store.snapshots import PositionsTable  # imports the portfolio (pandas): only when asked

    rec = _known(ctx.registry, pair)
    active = ctx.registry.active_params(rec.pair)
    positions = [{"strategy": p.strategy_id, "quantity": str(p.quantity), "avg_price": str(p.avg_price),
                  "realized_pnl": str(p.realized_pnl), "updated": iso(p.updated)}
                 for p in PositionsTable(ctx.engine, ctx.trader_id).load() if p.instrument_id == rec.pair]  # fmt: skip
    latest = ctx.registry.history(rec.pair, 1)
    return {**pair_json(rec), "active_params": None if active is None else version_json(active),
            "positions": positions, "last_change": event_json(latest[0]) if latest else None}  # fmt: skip


def pair_history(pair: str = PairId, limit: int = Query(50, ge=1, le=1000),
                 ctx: ApiContext = Ctx) -> dict[str, Any]:  # fmt: skip
    """Every change of a pair, oldest first (kept after the pair is removed)."""
    key = normalize_pair(pair)
    events = ctx.registry.history(key, limit)
    if not events:
        _known(ctx.registry, key)
    return {"pair": key, "events": [event_json(e) for e in events]}


def add_pair(
    body: AddPair, request: Request, ctx: ApiContext = Ctx, who: Principal = Caller
) -> dict[str, Any]:
    """Register a pair (enabled, untrained); only built-in strategies (a strategy file is added with the CLI)."""
    from traderbot.strategies.registry import BUILTIN

    if body.strategy not in BUILTIN:
        names = ", ".join(sorted(BUILTIN))
        raise ApiError(422, f"strategy {body.strategy!r} is not a built-in ({names}): a user's strategy file "
                            "is added with `traderbot pairs add --strategy file.py`")  # fmt: skip
    try:
        key, timeframe, strategy = ctx.registry.check_new(body.pair, body.timeframe, body.strategy)
    except UserError as exc:
        raise ApiError(422, str(exc)) from None
    existing = ctx.registry.find(key)
    if existing is not None:
        raise ApiError(409, f"pair {key} is already registered ({existing.state.value}): "
                            f"see GET /api/v1/pairs/{key}/status")  # fmt: skip
    rec = ctx.registry.add(key, actor=_actor(who), reason=body.reason, timeframe=timeframe, strategy=strategy)
    request.state.outcome = f"added {rec.pair} ({rec.timeframe}, {rec.strategy})"
    return pair_json(rec)


def remove_pair(request: Request, pair: str = PairId, reason: str = Query(min_length=1, max_length=500, pattern=NO_NUL),
                ctx: ApiContext = Ctx, who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Remove a pair that is not training or trading; its history and parameter versions are kept."""
    rec = _known(ctx.registry, pair)
    ctx.registry.remove(rec.pair, actor=_actor(who), reason=reason)
    request.state.outcome = f"removed {rec.pair}"
    return {"pair": rec.pair, "removed": True}


def _set_enabled(enable: bool, pair: str, body: ReasonBody, request: Request, ctx: ApiContext,
                 who: Principal) -> dict[str, Any]:  # fmt: skip
    before = _known(ctx.registry, pair)
    change = ctx.registry.enable if enable else ctx.registry.disable
    after = change(before.pair, actor=_actor(who), reason=body.reason)
    unchanged = after.row_version == before.row_version
    request.state.outcome = f"{after.pair} {'enabled' if enable else 'disabled'}" + (
        " (unchanged)" * unchanged
    )
    return {**pair_json(after), "changed": not unchanged}


def enable_pair(body: ReasonBody, request: Request, pair: str = PairId, ctx: ApiContext = Ctx,
                who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Allow a pair to trade (it does not start by itself)."""
    return _set_enabled(True, pair, body, request, ctx, who)


def disable_pair(body: ReasonBody, request: Request, pair: str = PairId, ctx: ApiContext = Ctx,
                 who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Forbid a pair to trade; a trading pair is stopped (to ready) by the service."""
    return _set_enabled(False, pair, body, request, ctx, who)


def _start_fix(pair: str, state: PairState) -> str:
    """Why a pair in `state` cannot start, and what to do first."""
    return {
        PairState.TRADING: f"it is already trading (stop it with PUT /api/v1/pairs/{pair}/stop)",
        PairState.TRAINING: "wait for its training job to finish, or cancel it "
        "(POST /api/v1/training/jobs/{job_id}/cancel)",
        PairState.PAUSED: f"a risk lock holds it: clear the lock first (`traderbot risk unlock pair:{pair}`)",
    }.get(state, f"train it first (POST /api/v1/pairs/{pair}/train)")


def _guarded(ctx: ApiContext) -> PairRegistry:
    """The registry with the trading guard `traderbot pairs start` uses: the risk locks stored in the database
    and the pair's market-data cache in the user bar store, validated against the clock now."""
    from traderbot.cli.pairs import _cache_check, _stored_lock_check  # the CLI's guard, not a copy

    registry = PairRegistry(
        ctx.engine, ctx.trader_id, risk_lock=_stored_lock_check(ctx.engine, ctx.trader_id)
    )
    registry._cache_valid = _cache_check(registry)
    return registry


def start_pair(body: ReasonBody, request: Request, pair: str = PairId, ctx: ApiContext = Ctx,
               who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Move a ready pair to trading (enabled, with active parameters, no risk lock, a valid cache); the
    running service starts its strategy."""
    rec = _known(ctx.registry, pair)
    if rec.state is not PairState.READY:
        raise ApiError(409, f"{rec.pair} is {rec.state.value}, not ready, so it cannot start: "
                            f"{_start_fix(rec.pair, rec.state)}")  # fmt: skip
    try:
        after = _guarded(ctx).transition(rec.pair, PairState.TRADING, actor=_actor(who), reason=body.reason)
    except TransitionRefused as exc:  # disabled, no parameters, locked, cache invalid (or moved meanwhile)
        raise ApiError(409, str(exc)) from None
    request.state.outcome = f"{after.pair} started (trading)"
    return pair_json(after)


def stop_pair(body: ReasonBody, request: Request, pair: str = PairId, ctx: ApiContext = Ctx,
              who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Move a trading pair back to ready; the running service stops its strategy and cancels its orders."""
    rec = _known(ctx.registry, pair)
    if rec.state is not PairState.TRADING:
        raise ApiError(409, f"{rec.pair} is {rec.state.value}, not trading, so there is nothing to stop: a ready "
                            f"pair is started with PUT /api/v1/pairs/{rec.pair}/start")  # fmt: skip
    try:
        after = ctx.registry.transition(rec.pair, PairState.READY, actor=_actor(who), reason=body.reason)
    except TransitionRefused as exc:  # it moved meanwhile (e.g. a risk lock paused it)
        raise ApiError(409, str(exc)) from None
    request.state.outcome = f"{after.pair} stopped (ready)"
    return pair_json(after)
