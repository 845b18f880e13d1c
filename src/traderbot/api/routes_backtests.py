"""/api/v1/backtests: a backtest checked, then run in the background (202 with its id and links); its status and
metrics, and its HTML report once it succeeded. Jobs are stored, so a restart still shows them."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from traderbot.api.app_local import app_local
from traderbot.api.backtest_jobs import BacktestJob, BacktestRunner
from traderbot.api.backtest_work import check
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.schemas_ops import BacktestRequest
from traderbot.api.views import iso
from traderbot.errors import UserError

Ctx = Depends(api_context)
JobId = Path(ge=1, le=2**62, description="A backtest job id.")
BASE = "/api/v1/backtests"


def runner(request: Request) -> BacktestRunner:
    ctx = api_context(request)
    s = ctx.settings
    return app_local(request, "backtests", lambda: BacktestRunner(
        ctx.engine, ctx.trader_id, workers=s.backtest_workers, timeout_s=s.backtest_timeout_s))  # fmt: skip


def links(job_id: int) -> dict[str, str]:
    return {"self": f"{BASE}/{job_id}", "report": f"{BASE}/{job_id}/report"}


def job_json(job: BacktestJob) -> dict[str, Any]:
    return {"id": job.id, "status": job.status, "created": iso(job.created_ns), "started": iso(job.started_ns),
            "finished": iso(job.finished_ns), "actor": job.actor, "request": job.request, "summary": job.summary,
            "error": job.error or None, "report_ready": job.has_report, "links": links(job.id)}  # fmt: skip


def _dataset(ctx: ApiContext) -> dict[str, Any]:
    """Where `data: "service"` reads: the running paper service's replay dataset."""
    service = ctx.service
    if service is None:
        raise ApiError(409, 'data "service" needs the API served by `traderbot run` (it names the replay '
                            'dataset): use data "store"')  # fmt: skip
    if service.live:
        raise ApiError(409, 'a live service has no replay dataset: use data "store"')
    s = service.settings
    return {"dataset": s.dataset, "dataset_base": str(s.config_path.parent) if s.config_path else None}


def submit_backtest(body: BacktestRequest, request: Request, response: Response, ctx: ApiContext = Ctx,
                    who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Check a backtest and run it in the background (in a worker process): 202 with its id and links."""
    req = body.model_dump()
    if body.data == "service":
        req.update(_dataset(ctx))
    try:
        req = check(req)
    except (UserError, ValueError, TypeError) as exc:
        raise ApiError(422, f"cannot run this backtest: {exc}") from None
    job_id = runner(request).submit(req, f"api:{who.name}")
    response.headers["Location"] = links(job_id)["self"]
    request.state.outcome = f"backtest {job_id} queued: {req['strategy']} on {req['pair']} {req['timeframe']}"
    return {"id": job_id, "status": "queued", "links": links(job_id)}


def list_backtests(
    request: Request, limit: int = Query(20, ge=1, le=200), ctx: ApiContext = Ctx
) -> dict[str, Any]:
    """Recent backtests, newest first (without their reports)."""
    run = runner(request)
    run.store.recover()
    return {"backtests": [job_json(j) for j in run.store.recent(limit)]}


def _job(request: Request, job_id: int) -> BacktestJob:
    store = runner(request).store
    store.recover()
    job = store.get(job_id)
    if job is None:
        raise ApiError(404, f"no backtest {job_id}: GET {BASE} lists them")
    return job


def get_backtest(request: Request, job_id: int = JobId, ctx: ApiContext = Ctx) -> dict[str, Any]:
    """One backtest: status (queued, running, succeeded, failed), its request, its metrics or its error."""
    return job_json(_job(request, job_id))


def backtest_report(request: Request, job_id: int = JobId, ctx: ApiContext = Ctx) -> HTMLResponse:
    """The HTML report of a backtest that succeeded (one self-contained page)."""
    job = _job(request, job_id)
    html = runner(request).store.report(job_id) if job.has_report else None
    if html is None:
        why = f"failed ({job.error})" if job.status == "failed" else f"is {job.status}"
        raise ApiError(409, f"backtest {job_id} {why}: a report exists once its status is succeeded")
    return HTMLResponse(html)
