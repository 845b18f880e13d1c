"""What each command kind does in a running service: the handlers a `CommandRunner` calls on the kernel's
thread. Wiring into the service is one line in its run loop:

    tasks.append(loop.create_task(CommandRunner(engine, trader_id, service_handlers(service)).serve(stopping)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traderbot.api.commands import CommandKind, Handler
from traderbot.errors import UserError

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel
    from traderbot.service.service import TradingService


def _who_why(payload: dict[str, Any]) -> tuple[str, str]:
    return str(payload.get("actor") or "api"), str(payload.get("reason") or "")


def kernel_handlers(kernel: Kernel) -> dict[str, Handler]:
    """The handlers that need only the kernel: the kill switch and its re-arm."""

    def kill_switch(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        report = kernel.kill_switch.engage(actor=actor, reason=reason, flatten=bool(payload.get("flatten")))
        return {"engaged": True, "canceled": report.canceled, "flatten_orders": report.flatten_orders,
                "denied": report.denied}  # fmt: skip

    def rearm(payload: dict[str, Any]) -> dict[str, Any]:
        actor, reason = _who_why(payload)
        kernel.kill_switch.rearm(actor=actor, reason=reason)
        return {"engaged": False, "state": kernel.risk.state.value}

    return {CommandKind.KILL_SWITCH.value: kill_switch, CommandKind.REARM.value: rearm}


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
