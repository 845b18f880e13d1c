"""/api/v1/config: the active configuration (secrets redacted), its versions, TOML checked without applying, a
reload and an edit (validated, written atomically, then reloaded) through the command channel."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from traderbot.api import config_ops as ops
from traderbot.api.commands import CommandKind
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError, error_body
from traderbot.api.redact import redact, redact_diff_line, redact_text
from traderbot.api.roles import Caller
from traderbot.api.routes_risk import run_command
from traderbot.api.schemas import ReasonBody
from traderbot.api.schemas_ops import ConfigEdit, ConfigText
from traderbot.api.views import iso
from traderbot.config.diff import config_data
from traderbot.config.schema import RESTART_ONLY
from traderbot.store.config_store import ConfigVersion, SqlConfigStore

Ctx = Depends(api_context)
NO_FILE = ("no configuration file is known: the service runs without one (start it with `traderbot run --config "
           "traderbot.toml`) or has not stored a version yet")  # fmt: skip


def _invalid(errors: list[str]) -> JSONResponse:
    more = f" ({len(errors) - 1} more in `errors`)" if len(errors) > 1 else ""
    body = error_body("invalid_config", f"{errors[0]}{more}")
    body["error"]["errors"] = errors
    return JSONResponse(body, 422)


def _version_json(v: ConfigVersion) -> dict[str, Any]:
    return {"version": v.version, "time": iso(v.ts), "ts_ns": v.ts, "author": v.author,
            "outcome": redact_text(v.outcome), "applied": v.applied,
            "diff": [redact_diff_line(line) for line in v.diff], "sha256": v.sha256}  # fmt: skip


def _reload_json(answer: dict[str, Any]) -> dict[str, Any]:
    """The command's answer with the reload's outcome and diff redacted."""
    result = dict(answer.get("result") or {})
    if "outcome" in result:
        result["outcome"] = redact_text(str(result["outcome"]))
    if "diff" in result:
        result["diff"] = [redact_diff_line(str(line)) for line in result["diff"]]
    return {**answer, "result": result}


def get_config(ctx: ApiContext = Ctx) -> dict[str, Any]:
    """The active configuration with every secret redacted: the running service's, else its newest stored
    version."""
    active = ops.active_config(ctx)
    data = None if active.config is None else redact(config_data(active.config, masked=True))
    return {"source": active.source, "path": None if active.path is None else str(active.path),
            "version": active.version, "config": data, "restart_only": list(RESTART_ONLY)}  # fmt: skip


def config_history(limit: int = Query(20, ge=1, le=500), ctx: ApiContext = Ctx) -> dict[str, Any]:
    """Stored configuration versions, newest first: author, time, outcome, what changed (secrets redacted)."""
    return {"versions": [_version_json(v) for v in SqlConfigStore(ctx.engine).history(limit)]}


def validate_config(body: ConfigText, request: Request, ctx: ApiContext = Ctx) -> Any:
    """Check a TOML text against the schema without applying it: what would change, or every field error (422)."""
    active = ops.active_config(ctx)
    checked = ops.check_toml(body.toml, active.env)
    if checked.config is None:
        request.state.outcome = f"invalid: {checked.errors[0]}"
        return _invalid(checked.errors)
    restart = [] if active.config is None else ops.restart_fields(active.config, checked.config)
    request.state.outcome = "valid"
    return {"valid": True, "changes": [redact_diff_line(x) for x in ops.changes(active.config, checked.config)],
            "restart_needed": restart}  # fmt: skip


async def reload_config(body: ReasonBody, request: Request, ctx: ApiContext = Ctx,
                        who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Have the running service read its configuration file again and apply what changed (all or nothing)."""
    answer = await run_command(ctx, request, who, CommandKind.CONFIG_RELOAD, {"reason": body.reason})
    return _reload_json(answer)


def _edit_lock(request: Request) -> asyncio.Lock:
    lock: asyncio.Lock | None = getattr(request.app.state, "config_edit_lock", None)
    if lock is None:
        lock = request.app.state.config_edit_lock = asyncio.Lock()
    return lock


async def put_config(body: ConfigEdit, request: Request, ctx: ApiContext = Ctx,
                     who: Principal = Caller) -> Any:  # fmt: skip
    """Replace the configuration file with a validated TOML text (atomically) and reload it in the service; the
    file is put back when the service does not apply it."""
    async with _edit_lock(request):
        active = await asyncio.to_thread(ops.active_config, ctx)
        if active.path is None:
            raise ApiError(409, NO_FILE)
        if ops.holds_masked_secret(body.toml):
            raise ApiError(422, "the TOML text holds a redacted secret (***): secrets cannot be edited through the "
                                "API; send the real value or keep it in a TRADERBOT__SECTION__KEY environment "
                                "variable")  # fmt: skip
        checked = ops.check_toml(body.toml, active.env)
        if checked.config is None:
            request.state.outcome = f"invalid: {checked.errors[0]}"
            return _invalid(checked.errors)
        restart = [] if active.config is None else ops.restart_fields(active.config, checked.config)
        if restart:
            raise ApiError(409, f"{', '.join(restart)} changed, which needs a restart: nothing was written; edit "
                                f"{active.path} by hand and restart the service")  # fmt: skip
        return await _write_and_reload(body, request, ctx, who, active)


async def _write_and_reload(body: ConfigEdit, request: Request, ctx: ApiContext, who: Principal,
                            active: ops.ActiveConfig) -> dict[str, Any]:  # fmt: skip
    path = active.path
    assert path is not None
    written_ns = time.time_ns()
    try:
        old = await asyncio.to_thread(ops.replace_file, path, body.toml)
    except OSError as exc:
        raise ApiError(409, f"cannot write {path} ({exc.strerror or exc}): check the folder's permissions; "
                            "nothing was changed") from None  # fmt: skip
    try:
        answer = _reload_json(await run_command(ctx, request, who, CommandKind.CONFIG_RELOAD,
                                                {"reason": body.reason}))  # fmt: skip
    except ApiError as exc:
        await asyncio.to_thread(ops.restore_file, path, old)
        raise ApiError(exc.status, f"{exc.message.rstrip('.')} (the file was put back as it was)") from None
    sha = hashlib.sha256(body.toml.encode("utf-8")).hexdigest()
    result = answer["result"]
    outcome, version, applied = result.get("outcome", ""), result.get("version"), bool(result.get("applied"))
    if outcome == "unchanged":  # the service's file watcher may have reloaded the new file first
        mine = next(
            (v for v in SqlConfigStore(ctx.engine).history(20) if v.sha256 == sha and v.ts >= written_ns),
            None,
        )
        if mine is not None:
            outcome, version, applied = redact_text(mine.outcome), mine.version, mine.applied
        else:
            applied = True  # the same configuration (comments or layout changed): nothing to apply
    if not applied:
        await asyncio.to_thread(ops.restore_file, path, old)
        raise ApiError(409, f"the service did not apply the new configuration ({outcome}): the file was put "
                            "back as it was")  # fmt: skip
    request.state.outcome = f"config written and reloaded: {outcome}"
    return {"path": str(path), "sha256": sha, "applied": True, "outcome": outcome, "version": version,
            "reload": answer}  # fmt: skip
