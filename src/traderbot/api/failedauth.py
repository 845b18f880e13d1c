"""How the API answers guesses (authlimit.py counts them): a wrong key or forged token from a locked client
address gets a 429 instead of a 401, a login from a locked address or against a locked username a 429 before
the password is checked. The moment a subject locks is written to the audit log (reads included)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from fastapi import Request

from traderbot.api.audit import AuditEntry, AuditLog
from traderbot.api.context import ApiContext
from traderbot.api.errors import ApiError

log = logging.getLogger("traderbot.api")


def address_subject(request: Request) -> str:
    return f"address:{request.client.host if request.client else 'unknown'}"


def username_subject(username: str) -> str:
    return f"username:{username}"


def _describe(subject: str) -> str:
    kind, _, value = subject.partition(":")
    return f"client address {value}" if kind == "address" else f"user {value!r}"


def locked_error(ctx: ApiContext, subjects: Sequence[str]) -> ApiError | None:
    """The 429 to answer when one of `subjects` is locked, else None."""
    for subject in subjects:
        wait = ctx.auth_failures.locked_for(subject)
        if wait > 0:
            s, retry = ctx.settings, max(1, math.ceil(wait))
            message = (f"too many failed authentications for {_describe(subject)} ({s.failed_auth_limit} within "
                       f"{s.failed_auth_window_s:g} s): check the credentials and retry in {retry} s")  # fmt: skip
            return ApiError(429, message, code="too_many_failed_auth", headers={"Retry-After": str(retry)})
    return None


def record_failure(ctx: ApiContext, request: Request, subjects: Sequence[str]) -> None:
    """Count a guess against each subject; audit each subject this failure locks."""
    for subject in subjects:
        if ctx.auth_failures.fail(subject):
            s = ctx.settings
            outcome = (f"locked {_describe(subject)} after {s.failed_auth_limit} failed authentications "
                       f"within {s.failed_auth_window_s:g} s")  # fmt: skip
            log.warning("API: %s", outcome)
            entry = AuditEntry(time.time_ns(), None, "unauthenticated", "-", request.method, request.url.path,
                               "auth.lockout", 429, outcome)  # fmt: skip
            try:
                AuditLog(ctx.engine, ctx.trader_id).record(entry)
            except Exception:  # the lock holds either way; a lost row is logged loudly
                log.exception("could not write the audit row of %s", outcome)
