"""One error shape for every failure: `{"error": {"code": "...", "message": "..."}}`, the message one sentence
naming the problem and the fix. Bad input is a 4xx; only a bug is a 500, with a generic message (logged)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from traderbot.errors import UserError
from traderbot.pairs.lifecycle import TransitionRefused

log = logging.getLogger("traderbot.api")

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
         429: "rate_limited", 500: "internal_error", 502: "service_error", 503: "service_unavailable",
         504: "service_timeout"}  # fmt: skip


class ApiError(Exception):
    """An error the API answers with: HTTP status, machine-readable code, one clear sentence."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.headers = dict(headers or {})


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, e.g. unauthorized, not_found, rate_limited.")
    message: str = Field(description="One sentence naming the problem and the fix.")


class ErrorResponse(BaseModel):
    """The body of every error answer (declared in the OpenAPI of every route)."""

    error: ErrorDetail


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, message: str, *, code: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_body(code or CODES.get(status, "error"), message), status, dict(headers or {}))


def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, code=exc.code, headers=exc.headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no such route {where}: see /docs for the API"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = (
            f"method {request.method} is not allowed on {request.url.path}: use {allowed or 'another method'}"
        )
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, headers=exc.headers)


_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON is a 400; a missing, unknown or mistyped field a 422 naming the field."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        why = (bad_json.get("ctx") or {}).get("error", "decode error")
        return error_response(400, f"the request body is not valid JSON ({why}): send a JSON object",
                              code="malformed_json")  # fmt: skip
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in _NOT_AN_OBJECT for e in errors):
        return error_response(422, "the request body must be a JSON object (with Content-Type: application/json): "
                                   "see /docs for the expected shape")  # fmt: skip
    parts = [f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    message = f"invalid request: {'; '.join(parts)}{more}; see /docs for the expected shape"
    return error_response(422, message)


def _user_error(_: Request, exc: Exception) -> JSONResponse:
    """Errors of the stores the API calls (pair registry, keys): a refused move is a conflict, the rest 400."""
    return error_response(409 if isinstance(exc, TransitionRefused) else 400, str(exc))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error: the API failed unexpectedly and logged why; nothing more is known "
                               "here, check the server log")  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(Exception, _unexpected)
