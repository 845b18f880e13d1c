"""What each command kind does in a running service: the handlers a `CommandRunner` calls on the kernel's
thread. Wiring into the service is one line in its run loop:

    tasks.append(loop.create_task(CommandRunner(engine, trader_id, service_handlers(service)).serve(stopping)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traderbot.api.commands import CommandKind, Handler
from traderbot.errors import UserError
from traderbot.risk.locks import Lock
from traderbot.risk.states import check_scope, parse_state

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel
    from traderbot.service.service import TradingService


def _who_why(payload: dict[str, Any]) -> tuple[str, str]:
    return str(payload.get("actor") or "api"), str(payload.get("reason") or "")


MINUTE_NS = 60 * 10**9


def _lock_json(lk: Lock) -> dict[str, Any]:
    return {"scope": lk.scope, "source": lk.source, "state": lk.action.value, "reason": lk.reason,
            "since_ns": lk.since_ns, "until_ns": lk.until_ns}  # fmt: skip


def _until_ns(payload: dict[str, Any], now_ns: int) -> int:
    """The end of a lock or override: `minutes` after the kernel's clock (the replay's time in paper mode), or
    an absolute `until_ns`."""
    if payload.get("minutes") is not None:
        return now_ns + int(payload["minutes"]) * MINUTE_NS
    if payload.get("until_ns") is not None:
        return int(payload["until_ns"])
    raise UserError("give how long it lasts: minutes or until")


def risk_handlers(kernel: Kernel) -> dict[str, Handler]:
    """The operator's risk commands of `traderbot risk state|lock|unlock|override`, on the running kernel: the
    same validation and the same calls as the CLI, so the change is in force at once and stored before it is."""

    def risk_state(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        scope, state = check_scope(str(payload.get("scope"))), parse_state(str(payload.get("state")))
        change = kernel.risk.states.set(scope, state, actor=actor, reason=reason)
        return {"scope": scope, "state": state.value, "changed": change is not None}

    def risk_lock(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        scope = check_scope(str(payload.get("scope")))
        state = parse_state(str(payload.get("state") or "halted"))
        book = kernel.risk.locks
        lk = book.add(
            scope, "manual", state, f"{reason} (by {actor})", until_ns=_until_ns(payload, book.now_ns())
        )
        return {"lock": _lock_json(lk), "description": lk.describe()}

    def risk_unlock(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        scope, source = check_scope(str(payload.get("scope"))), payload.get("source") or None
        gone = kernel.risk.locks.clear(
            scope, None if source is None else str(source), actor=actor, reason=reason
        )
        return {"cleared": [_lock_json(lk) for lk in gone]}

    def risk_override(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        ov = kernel.risk.overrides
        o = ov.add(str(payload.get("scope")), str(payload.get("guard")), until_ns=_until_ns(payload, ov.now_ns()),
                   actor=actor, reason=reason)  # fmt: skip
        return {"scope": o.scope, "guard": o.guard, "since_ns": o.since_ns, "until_ns": o.until_ns,
                "actor": o.actor, "reason": o.reason}  # fmt: skip

    return {CommandKind.RISK_STATE.value: risk_state, CommandKind.RISK_LOCK.value: risk_lock,
            CommandKind.RISK_UNLOCK.value: risk_unlock, CommandKind.RISK_OVERRIDE.value: risk_override}  # fmt: skip


def kernel_handlers(kernel: Kernel) -> dict[str, Handler]:
    """The handlers that need only the kernel: the kill switch and its re-arm, the risk commands."""

    def kill_switch(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        report = kernel.kill_switch.engage(actor=actor, reason=reason, flatten=bool(payload.get("flatten")))
        return {"engaged": True, "canceled": report.canceled, "flatten_orders": report.flatten_orders,
                "denied": report.denied}  # fmt: skip

    def rearm(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        kernel.kill_switch.rearm(actor=actor, reason=reason)
        return {"engaged": False, "state": kernel.risk.state.value}

    return {
        CommandKind.KILL_SWITCH.value: kill_switch,
        CommandKind.REARM.value: rearm,
        **risk_handlers(kernel),
    }


def service_handlers(service: TradingService) -> dict[str, Handler]:
    """Every command kind mapped to a call on the running `service` (its kernel, config manager, cache job)."""

    def config_reload(payload: dict[str, Any]) -> dict[str, Any]:
        if service.config is None:
            raise UserError("the service runs without a configuration file: there is nothing to reload")
        result = service.config.reload(author=str(payload.get("actor") or "api"))
        return {"outcome": result.outcome, "applied": result.applied, "sections": list(result.sections),
                "version": result.version, "diff": result.diff}  # fmt: skip

    def cache_refresh(payload: dict[str, Any]) -> dict[str, Any]:
        job = service.cache_job
        if job is None:
            raise UserError(
                "no market-data cache job runs (paper mode replays fixed data): nothing to refresh"
            )
        job.due_ns.clear()  # every running pair is due now: the job refreshes them at its next tick
        return {"scheduled": sorted(job.refreshers)}

    return {**kernel_handlers(service.kernel), CommandKind.CONFIG_RELOAD.value: config_reload,
            CommandKind.CACHE_REFRESH.value: cache_refresh}  # fmt: skip
