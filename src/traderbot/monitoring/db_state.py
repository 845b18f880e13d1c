"""What the database knows, for scrapes and the health score: pair states, the training queue, failed
commands, the kill switch and (for a standalone API) the stored orders and fills. Called in a worker thread."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, func, select, text

from traderbot.api.commands import CommandStatus
from traderbot.pairs.lifecycle import PairState
from traderbot.risk.kill_switch import SCOPE as KILL_SCOPE
from traderbot.store.api_models import ServiceCommandRecord
from traderbot.store.models import FillRecord, OrderRecord, TradingStateRecord
from traderbot.store.pair_models import PairEventRow, PairRow
from traderbot.store.training_models import TrainingJobRecord

RECENT_FAILURES_S = 24 * 3600  # training failures this recent lower the health score
_WAITING = ("queued", "retry_wait")


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: int
    pair: str
    error: str


@dataclass(frozen=True, slots=True)
class DbState:
    reachable: bool
    error: str = ""  # why the database could not be read
    pairs: tuple[tuple[str, str, bool], ...] = ()  # (pair, state, enabled)
    paused: dict[str, str] = field(default_factory=dict)  # locked pair -> why (its last history entry)
    training: dict[str, int] = field(default_factory=dict)  # waiting, running, failed -> jobs
    failed_recent: tuple[FailedJob, ...] = ()
    commands_failed: int = 0
    kill_switch: bool = False
    kill_reason: str = ""
    orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (pair, side) -> stored orders
    fills: dict[tuple[str, str], int] = field(default_factory=dict)


def ping(engine: Engine) -> str | None:
    """None when the database answers `SELECT 1`, else why not (one line)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def read(engine: Engine, trader_id: str, *, journal: bool = False) -> DbState:
    """The state as stored; `journal`: also count stored orders and fills by pair and side (standalone API)."""
    try:
        return _read(engine, trader_id, journal)
    except Exception as exc:
        return DbState(False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _read(engine: Engine, trader_id: str, journal: bool) -> DbState:
    with engine.connect() as conn:
        pairs = tuple(
            (p, s, bool(e))
            for p, s, e in conn.execute(
                select(PairRow.pair, PairRow.state, PairRow.enabled)
                .where(PairRow.trader_id == trader_id)
                .order_by(PairRow.pair)
            ).all()
        )
        paused = {p: _last_reason(conn, trader_id, p) for p, s, _ in pairs if s == PairState.PAUSED.value}
        J = TrainingJobRecord
        by_status = dict(conn.execute(select(J.status, func.count()).group_by(J.status)).all())
        training = {"waiting": sum(by_status.get(s, 0) for s in _WAITING),
                    "running": by_status.get("running", 0), "failed": by_status.get("failed", 0)}  # fmt: skip
        since = time.time_ns() - RECENT_FAILURES_S * 10**9
        failed = tuple(
            FailedJob(i, p, (e or "").splitlines()[0] if e else "")
            for i, p, e in conn.execute(
                select(J.id, J.pair, J.error).where(J.status == "failed", J.finished >= since).order_by(J.id)
            ).all()
        )
        C = ServiceCommandRecord
        commands_failed = conn.execute(
            select(func.count()).where(C.trader_id == trader_id, C.status == CommandStatus.FAILED.value)
        ).scalar_one()
        T = TradingStateRecord
        kill = conn.execute(
            select(T.state, T.reason).where(T.trader_id == trader_id, T.scope == KILL_SCOPE)
        ).first()
        orders = _counts(conn, OrderRecord, trader_id) if journal else {}
        fills = _counts(conn, FillRecord, trader_id) if journal else {}
    return DbState(True, "", pairs, paused, training, failed, commands_failed,
                   kill is not None and kill[0] == "halted", kill[1] if kill is not None else "",
                   orders, fills)  # fmt: skip


def _last_reason(conn: Connection, trader_id: str, pair: str) -> str:
    E = PairEventRow
    row = conn.execute(
        select(E.reason).where(E.trader_id == trader_id, E.pair == pair).order_by(E.id.desc()).limit(1)
    ).first()
    return str(row[0]) if row is not None else ""


def _counts(
    conn: Connection, table: type[OrderRecord] | type[FillRecord], trader_id: str
) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        select(table.instrument_id, table.side, func.count())
        .where(table.trader_id == trader_id)
        .group_by(table.instrument_id, table.side)
    ).all()
    return {(p, s): n for p, s, n in rows}
