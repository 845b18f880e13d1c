"""Bad input gets the right 4xx with one clear message in one shape, changes nothing and never reaches a 5xx;
only a bug is a 500, with a generic message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.api_harness import Api, api_on, as_key, table_counts

from traderbot.api.audit import AuditLog

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(any_db_url: str) -> Iterator[Api]:
    with api_on(any_db_url) as api:
        r = api.client.post(
            "/api/v1/pairs", headers=as_key(api.operator), json={"pair": "EURUSD", "reason": "t"}
        )
        assert r.status_code == 201
        yield api


def _error(r: object, status: int, code: str) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message and "Traceback" not in message
    return message


def test_bad_input_is_a_clear_4xx_and_changes_nothing(api: Api) -> None:
    op, c = as_key(api.operator), api.client
    before = table_counts(api.engine)
    cases = [
        ("POST", "/api/v1/pairs", {"content": b'{"pair": "GBPUSD",', "headers": {**op, **JSON}}, 400, "malformed_json",
         "the request body is not valid JSON"),
        ("POST", "/api/v1/pairs", {"content": b"pair=GBPUSD"}, 422, "invalid_request",
         "the request body must be a JSON object"),
        ("POST", "/api/v1/pairs", {"json": ["GBPUSD"]}, 422, "invalid_request", "the request body must be a JSON"),
        ("POST", "/api/v1/pairs", {"json": {"pair": 5, "reason": "x"}}, 422, "invalid_request",
         "invalid request: body.pair: Input should be a valid string"),
        ("POST", "/api/v1/pairs", {"json": {"pair": "GBPUSD"}}, 422, "invalid_request",
         "invalid request: body.reason: Field required"),
        ("POST", "/api/v1/pairs", {"json": {"pair": "GBPUSD", "reason": "x", "lots": 3}}, 422, "invalid_request",
         "invalid request: body.lots: Extra inputs are not permitted"),
        ("POST", "/api/v1/pairs", {"json": {"pair": "NOSUCH", "reason": "x"}}, 422, "invalid_request",
         "cannot add pair NOSUCH: "),
        ("POST", "/api/v1/pairs", {"json": {"pair": "GBPUSD", "reason": "x", "strategy": "/tmp/evil.py"}}, 422,
         "invalid_request", "strategy '/tmp/evil.py' is not a built-in"),
        ("POST", "/api/v1/pairs", {"json": {"pair": "EURUSD", "reason": "x"}}, 409, "conflict",
         "pair EURUSD is already registered"),
        ("POST", "/api/v1/risk/kill-switch", {"json": {"reason": "x", "flatten": "yes"}}, 422, "invalid_request",
         "invalid request: body.flatten: Input should be a valid boolean"),
        ("POST", "/api/v1/risk/kill-switch", {"json": {"reason": ""}}, 422, "invalid_request",
         "invalid request: body.reason: String should have at least 1 character"),
        ("PUT", "/api/v1/pairs/GBPUSD/disable", {"json": {"reason": "x"}}, 404, "not_found",
         "unknown pair GBPUSD: add it with POST /api/v1/pairs"),
        ("PUT", "/api/v1/pairs/gbp-usd/enable", {"json": {"reason": "x"}}, 404, "not_found", "unknown pair GBPUSD"),
        ("DELETE", "/api/v1/pairs/GBPUSD?reason=x", {}, 404, "not_found", "unknown pair GBPUSD"),
        ("GET", "/api/v1/pairs/GBPUSD/status", {}, 404, "not_found", "unknown pair GBPUSD"),
        ("GET", "/api/v1/pairs/GBPUSD/history", {}, 404, "not_found", "unknown pair GBPUSD"),
        ("GET", "/api/v1/pairs/EURUSD/history?limit=0", {}, 422, "invalid_request", "invalid request: query.limit"),
        ("GET", "/api/v1/pairs/EURUSD/history?limit=ten", {}, 422, "invalid_request", "invalid request: query.limit"),
        ("GET", "/api/v1/nothing/here", {}, 404, "not_found", "no such route GET /api/v1/nothing/here"),
        ("PATCH", "/api/v1/pairs", {"json": {}}, 405, "method_not_allowed", "method PATCH is not allowed"),
        ("DELETE", "/api/v1/keys/abc", {"headers": as_key(api.admin)}, 422, "invalid_request",
         "invalid request: path.key_id"),
        ("POST", "/api/v1/pairs", {"json": {"pair": "GBPUSD", "reason": "a\u0000b"}}, 422, "invalid_request",
         "invalid request: body.reason: Value error, NUL characters are not accepted"),
        ("GET", "/api/v1/pairs/EUR%00USD/status", {}, 422, "invalid_request", "invalid request: path.pair"),
        ("DELETE", "/api/v1/pairs/EUR%00USD?reason=x", {}, 422, "invalid_request", "invalid request: path.pair"),
        ("DELETE", "/api/v1/pairs/EURUSD?reason=a%00", {}, 422, "invalid_request", "invalid request: query.reason"),
        ("DELETE", "/api/v1/keys/99999999999999999999", {"headers": as_key(api.admin)}, 422, "invalid_request",
         "invalid request: path.key_id"),
        ("GET", "/api/v1/pairs", {"headers": as_key("tb_99999999999999999999_abc")}, 401, "unauthorized",
         "the API key is malformed"),
        ("GET", "/api/v1/pairs", {"headers": {"X-API-Key": "tb_\u00b2_abc".encode("latin-1")}}, 401,
         "unauthorized", "the API key is malformed"),
        ("GET", "/api/v1/pairs", {"headers": {"Authorization": "Bearer tbt.99999999999999.admin.9.abc"}}, 401,
         "unauthorized", "the token is not valid"),
    ]  # fmt: skip
    for method, url, kw, status, code, start in cases:
        message = _error(c.request(method, url, headers=kw.pop("headers", op), **kw), status, code)
        assert message.startswith(start), (method, url, message)
    assert table_counts(api.engine) == before
    audited = AuditLog(api.engine, "TB").read(1000)[1:]  # after the fixture's add: one row per mutating call
    assert [(a.method, a.status_code) for a in audited] == [
        (m, s) for m, _, _, s, _, _ in cases if m in ("POST", "PUT", "PATCH", "DELETE")
    ]
    assert "EUR\\x00USD" in next(a.path for a in audited if "EUR" in a.path and a.method == "DELETE")


def test_oversized_bodies_get_413_declared_or_streamed(api: Api) -> None:
    before = table_counts(api.engine)
    big = b'{"pair": "GBPUSD", "reason": "' + b"x" * 70_000 + b'"}'
    declared = api.client.post("/api/v1/pairs", headers={**as_key(api.operator), **JSON}, content=big)
    assert _error(declared, 413, "payload_too_large").startswith("the request body is larger than the 64 KiB")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    streamed = api.client.post("/api/v1/pairs", headers={**as_key(api.operator), **JSON}, content=chunks())
    _error(streamed, 413, "payload_too_large")
    fits = api.client.post("/api/v1/pairs", headers=as_key(api.operator),
                           json={"pair": "GBPUSD", "reason": "y" * 400})  # fmt: skip
    assert fits.status_code == 201
    assert table_counts(api.engine)["pairs"] == before["pairs"] + 1


def test_a_bug_is_a_500_with_a_generic_message_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    api.app.add_api_route("/api/v1/broken-for-test", broken)
    r = api.client.get("/api/v1/broken-for-test")
    message = _error(r, 500, "internal_error")
    assert "secret internals" not in message and message.startswith("internal error:")
    assert any("secret internals" in str(rec.exc_info) for rec in caplog.records)
