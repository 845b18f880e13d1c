"""`traderbot pairs ...`: the pair registry (lifecycle, enable/disable, parameter versions, history)."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer
from rich.table import Table

from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.errors import UserError
from traderbot.pairs import PairEvent, PairRecord, PairRegistry, PairState, ParamsVersion, normalize_pair
from traderbot.store.db import open_engine

app = typer.Typer(
    name="pairs",
    help="The pairs traded: add/remove, enable/disable, start/stop, parameter versions and history.",
    invoke_without_command=True,
)

ACTOR_HELP = "Who makes the change (default: the user running the command)."
REASON_HELP = "Why (required; stored in the pair's history)."
TRADER_HELP = "Trader id the pairs belong to."
JSON_HELP = "JSON instead of a table."

CacheHealth = Callable[[str], str]
_cache_health: CacheHealth | None = None


def set_cache_health(provider: CacheHealth | None) -> None:
    """Plug in what fills the `cache` column (e.g. "ok", "stale 3h", "gaps"); None shows "-"."""
    global _cache_health
    _cache_health = provider


def _registry(ctx: typer.Context, db: str | None, trader: str | None) -> PairRegistry:
    """The registry on --db / --trader given here or on `traderbot pairs`; the CLI's trading guard reads the
    risk locks stored in the same database."""
    parent: dict[str, Any] = ctx.obj if isinstance(ctx.obj, dict) else {}
    engine = open_engine(database_url(db or parent.get("db"), must_exist=False))
    trader_id = trader or parent.get("trader") or "TB"
    registry = PairRegistry(engine, trader_id, risk_lock=_stored_lock_check(engine, trader_id))
    registry._cache_valid = _cache_check(registry)
    return registry


def _cache_check(registry: PairRegistry) -> Callable[[str], str | None]:
    """The trading guard's cache check: the pair's bars in the user store, validated against the clock now."""

    def check(pair: str) -> str | None:
        from traderbot.data.market_cache import MarketDataCache
        from traderbot.data.stores import default_store

        rec = registry.find(pair)
        timeframe = rec.timeframe if rec is not None else "1m"
        return MarketDataCache(default_store()).invalid_reason(pair, timeframe)

    return check


def _cache_column(pair_timeframes: dict[str, str]) -> CacheHealth:
    """The `cache` column: "ok 98" (valid, score) or "invalid 41" from the user store's quick status."""
    from traderbot.data.market_cache import MarketDataCache
    from traderbot.data.stores import default_store

    cache = MarketDataCache(default_store())

    def health(pair: str) -> str:
        try:
            (h,) = cache.status([pair], pair_timeframes.get(pair, "1m"))
        except UserError:
            return "no data"
        return f"{'ok' if h.valid else 'invalid'} {h.score:.0f}"

    return health


def _stored_lock_check(engine: Any, trader_id: str) -> Callable[[str], str | None]:
    from traderbot.store.risk_store import SqlRiskStore

    def check(pair: str) -> str | None:
        now = time.time_ns()
        locks = [lk for lk in SqlRiskStore(engine, trader_id).load_locks()
                 if lk.scope in ("system", f"pair:{pair}") and lk.active_at(now)]  # fmt: skip
        return "; ".join(lk.describe() for lk in locks) or None

    return check


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _reason(reason: str | None) -> str:
    """--reason is required for every change; checked here so a missing one is a one-line error, exit 2."""
    if reason is None or not reason.strip():
        raise UserError("a pair change needs why: add --reason TEXT (it is stored in the pair's history)")
    return reason


def _when(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "never"
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _quality(q: Any) -> str:
    return "-" if q is None else f"{q:.4g}" if isinstance(q, float) else str(q)


def _iso(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat()


# ---- listing ------------------------------------------------------------------------------------------------
def pair_rows(registry: PairRegistry, cache_health: CacheHealth | None = None) -> list[dict[str, Any]]:
    """One summary per pair: the record, last training time (newest saved version), the active version's
    out-of-sample quality (metrics["oos_quality"]), cache health from the provider, realised P&L from the stored
    fills (pairs/pnl.py)."""
    versions: dict[str, list[ParamsVersion]] = {}
    pnl = _realized(registry)
    for v in registry.all_params_versions():
        versions.setdefault(v.pair, []).append(v)
    rows = []
    for rec in registry.list():
        own = versions.get(rec.pair, [])
        active = next((v for v in own if v.version == rec.active_version), None)
        last = max((v.created_ns for v in own), default=None)
        rows.append({**_record_json(rec), "last_trained": _iso(last), "last_trained_ns": last,
                     "oos_quality": None if active is None else active.metrics.get("oos_quality"),
                     "cache_health": cache_health(rec.pair) if cache_health else "-",
                     "live_pnl": _money(pnl.get(rec.pair))})  # fmt: skip
    return rows


def _realized(registry: PairRegistry) -> dict[str, tuple[Decimal, str]]:
    """Realised P&L per pair from the fills stored in the same database (nothing traded: empty)."""
    from traderbot.pairs.pnl import realized_by_pair
    from traderbot.store.journal import SqlOrderJournal

    return realized_by_pair(SqlOrderJournal(registry.engine, registry.trader_id).load_fills())


def _money(value: tuple[Decimal, str] | None) -> str | None:
    return None if value is None else f"{value[0]:+.2f} {value[1]}"


@app.callback()
def pairs(
    ctx: typer.Context,
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help=TRADER_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the pairs (with no sub-command): state, enabled, parameters, last training, quality, cache."""
    ctx.obj = {"db": db, "trader": trader}
    if ctx.invoked_subcommand is not None:
        return
    registry = _registry(ctx, db, trader)
    provider = _cache_health or _cache_column({r.pair: r.timeframe for r in registry.list()})
    rows = pair_rows(registry, provider)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("pair", "state", "enabled", "timeframe", "strategy", "params", "last trained (UTC)",
                  "OOS quality", "cache", "live P&L", title=f"{len(rows)} pairs")  # fmt: skip
    for r in rows:
        table.add_row(r["pair"], r["state"], "yes" if r["enabled"] else "no", r["timeframe"], r["strategy"],
                      "-" if r["active_version"] is None else f"v{r['active_version']}",
                      _when(r["last_trained_ns"]), _quality(r["oos_quality"]),
                      r["cache_health"], "-" if r["live_pnl"] is None else str(r["live_pnl"]))  # fmt: skip
    _console().print(table)


# ---- changes ------------------------------------------------------------------------------------------------
@app.command("add")
def add(
    ctx: typer.Context,
    pair_ids: list[str] = typer.Argument(..., metavar="PAIR...", help="Instruments, e.g. EURUSD GBP/USD."),
    timeframe: str = typer.Option("1m", "--timeframe", help="Bar timeframe the strategy runs on."),
    strategy: str = typer.Option("qfh", "--strategy", help="Strategy name (qfh, sma_cross, ...)."),
    reason: str | None = typer.Option(None, "--reason", help=REASON_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
) -> None:
    """Register pairs (enabled, untrained). All are checked before any is added."""
    from traderbot.strategies.registry import get_strategy

    why = _reason(reason)
    get_strategy(strategy)
    keys = [PairRegistry.check_new(p, timeframe, strategy)[0] for p in pair_ids]
    reg = _registry(ctx, db, trader)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise UserError(f"pair {', '.join(repeated)} is given more than once: name each pair once")
    for k in keys:
        existing = reg.find(k)
        if existing is not None:
            raise UserError(
                f"pair {k} is already registered ({existing.state.value}): see traderbot pairs show {k}"
            )
    for k in keys:
        rec = reg.add(k, actor=_actor(actor), reason=why, timeframe=timeframe, strategy=strategy)
        print(f"added {rec.pair}: {rec.state.value}, enabled, {rec.timeframe}, {rec.strategy}")


@app.command("remove")
def remove(
    ctx: typer.Context,
    pair: str = typer.Argument(...),
    reason: str | None = typer.Option(None, "--reason", help=REASON_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
) -> None:
    """Remove a pair that is not training or trading; its history and parameter versions are kept."""
    why = _reason(reason)
    _registry(ctx, db, trader).remove(pair, actor=_actor(actor), reason=why)
    print(f"removed {normalize_pair(pair)} (history kept)")


def _change(ctx: typer.Context, db: str | None, trader: str | None, pair: str,
            apply: Callable[[PairRegistry, str], PairRecord]) -> None:  # fmt: skip
    """Apply one change and print the pair's state after it (or that nothing changed)."""
    reg = _registry(ctx, db, trader)
    before = reg.get(pair)
    after = apply(reg, before.pair)
    note = " (unchanged)" if after.row_version == before.row_version else ""
    print(f"{after.pair}: {after.state.value}, {'enabled' if after.enabled else 'disabled'}{note}")


def _simple(name: str, doc: str, apply: Callable[[PairRegistry, str, str, str], PairRecord]) -> None:
    """Register a `pairs <name> PAIR --reason ...` command."""

    def command(
        ctx: typer.Context,
        pair: str = typer.Argument(...),
        reason: str | None = typer.Option(None, "--reason", help=REASON_HELP),
        actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
    ) -> None:
        why = _reason(reason)
        _change(ctx, db, trader, pair, lambda reg, key: apply(reg, key, _actor(actor), why))

    command.__doc__ = doc
    app.command(name)(command)


_simple("enable", "Allow a pair to trade (it does not start by itself).",
        lambda reg, p, a, r: reg.enable(p, actor=a, reason=r))  # fmt: skip
_simple("disable", "Forbid a pair to trade; a trading pair is stopped (to ready).",
        lambda reg, p, a, r: reg.disable(p, actor=a, reason=r))  # fmt: skip
_simple("start", "Move a ready pair to trading; it must be enabled, have active parameters and no risk lock.",
        lambda reg, p, a, r: reg.transition(p, PairState.TRADING, actor=a, reason=r))  # fmt: skip
_simple("stop", "Move a trading pair back to ready.",
        lambda reg, p, a, r: reg.transition(p, PairState.READY, actor=a, reason=r))  # fmt: skip


@app.command("activate")
def activate(
    ctx: typer.Context,
    pair: str = typer.Argument(...),
    version: int = typer.Argument(..., min=1, help="A saved parameter version (see pairs show)."),
    reason: str | None = typer.Option(None, "--reason", help=REASON_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
) -> None:
    """Make a saved parameter version the active one (also to roll back); a running strategy switches to it."""
    why = _reason(reason)
    rec = _registry(ctx, db, trader).activate_params(pair, version, actor=_actor(actor), reason=why)
    print(f"{rec.pair}: parameter version {rec.active_version} active ({rec.strategy})")


# ---- inspection ---------------------------------------------------------------------------------------------
def _record_json(rec: PairRecord) -> dict[str, Any]:
    return {"pair": rec.pair, "state": rec.state.value, "enabled": rec.enabled, "timeframe": rec.timeframe,
            "strategy": rec.strategy, "active_version": rec.active_version, "updated": _iso(rec.updated_ns),
            "row_version": rec.row_version}  # fmt: skip


def _version_json(v: ParamsVersion, active: int | None) -> dict[str, Any]:
    return {"version": v.version, "active": v.version == active, "strategy": v.strategy, "params": v.params,
            "metrics": v.metrics, "source": v.source, "saved": _iso(v.created_ns)}  # fmt: skip


@app.command("show")
def show(
    ctx: typer.Context,
    pair: str = typer.Argument(...),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """One pair: its record, active parameters and every saved parameter version."""
    reg = _registry(ctx, db, trader)
    rec = reg.get(pair)
    versions = [_version_json(v, rec.active_version) for v in reg.params_versions(rec.pair)]
    active = next((v for v in versions if v["active"]), None)
    if as_json:
        print(json.dumps({**_record_json(rec), "active_params": active, "versions": versions}, indent=2))
        return
    con = _console()
    con.print(f"[bold]{rec.pair}[/bold]: {rec.state.value}, {'enabled' if rec.enabled else 'disabled'}, "
              f"{rec.timeframe}, strategy {rec.strategy}, updated {_when(rec.updated_ns)} UTC")  # fmt: skip
    params = (
        "none" if active is None else f"v{active['version']} {json.dumps(active['params'], sort_keys=True)}"
    )
    con.print(f"active parameters: {params}", markup=False)
    table = Table("version", "active", "strategy", "saved (UTC)", "source", "OOS quality", "params",
                  title=f"{len(versions)} parameter versions")  # fmt: skip
    for v in versions:
        table.add_row(str(v["version"]), "*" if v["active"] else "", v["strategy"], (v["saved"] or "")[:19],
                      v["source"], _quality(v["metrics"].get("oos_quality")),
                      json.dumps(v["params"], sort_keys=True))  # fmt: skip
    con.print(table)


def _event_json(e: PairEvent) -> dict[str, Any]:
    return {"id": e.id, "pair": e.pair, "time": _iso(e.ts_ns), "ts_ns": e.ts_ns, "event": e.kind.value,
            "from": None if e.previous is None else e.previous.value,
            "to": None if e.state is None else e.state.value, "actor": e.actor, "reason": e.reason,
            "details": e.details}  # fmt: skip


@app.command("history")
def history(
    ctx: typer.Context,
    pair: str = typer.Argument(...),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N entries."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(None, "--trader", help=TRADER_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Every change of a pair, oldest first: when, what, from, to, who, why (kept after removal)."""
    reg = _registry(ctx, db, trader)
    events = reg.history(pair, limit)
    if not events:
        reg.get(pair)  # an unknown pair with no past is a typo: say so
    if as_json:
        print(json.dumps([_event_json(e) for e in events], indent=2))
        return
    table = Table(
        "time (UTC)", "event", "from", "to", "who", "why", "details", title=f"{len(events)} changes"
    )
    for e in events:
        j = _event_json(e)
        table.add_row(_when(e.ts_ns), j["event"], j["from"] or "-", j["to"] or "-", e.actor, e.reason,
                      json.dumps(e.details, sort_keys=True) if e.details else "")  # fmt: skip
    _console().print(table)
