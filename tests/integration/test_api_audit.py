"""Every mutating call is in the audit log (who, what, when, status, outcome), refused ones included; reads
are not; and a key that calls too often gets a 429 with Retry-After while other keys carry on."""

from __future__ import annotations

import time

from tests.api_harness import api_on, as_key, audit_count

from traderbot.api.audit import AuditLog
from traderbot.api.ratelimit import RateLimiter


def test_mutating_calls_are_audited_with_who_what_status_and_outcome(any_db_url: str) -> None:
    with api_on(any_db_url, max_body_bytes=1024) as api:
        c, t0 = api.client, time.time_ns()
        c.post("/api/v1/pairs", headers=as_key(api.operator), json={"pair": "EURUSD", "reason": "new"})
        c.put("/api/v1/pairs/EURUSD/disable", headers=as_key(api.operator), json={"reason": "calm"})
        c.put("/api/v1/pairs/EURUSD/disable", headers=as_key(api.viewer), json={"reason": "me too"})
        c.post("/api/v1/pairs", json={"pair": "GBPUSD", "reason": "no key"})
        c.post("/api/v1/pairs", headers=as_key("tb_77_forged"), json={"pair": "GBPUSD", "reason": "x"})
        c.post(
            "/api/v1/pairs",
            headers={**as_key(api.operator), "Content-Type": "application/json"},
            content=b"{",
        )
        c.post("/api/v1/pairs", headers=as_key(api.operator), content=b"x" * 2000)
        c.delete("/api/v1/pairs/EURUSD?reason=done", headers=as_key(api.operator))
        n = audit_count(api.engine)
        c.get("/api/v1/pairs", headers=as_key(api.viewer))  # reads are not audited
        c.get("/api/v1/pairs")
        assert audit_count(api.engine) == n == 8
        rows = AuditLog(api.engine, "TB").read()
        got = [(r.key_id, r.key_name, r.role, r.method, r.path, r.action, r.status_code) for r in rows]
        assert got == [
            (2, "operator-test", "operator", "POST", "/api/v1/pairs", "pairs.add", 201),
            (2, "operator-test", "operator", "PUT", "/api/v1/pairs/EURUSD/disable", "pairs.disable", 200),
            (3, "viewer-test", "viewer", "PUT", "/api/v1/pairs/EURUSD/disable", "pairs.disable", 403),
            (None, "unauthenticated", "-", "POST", "/api/v1/pairs", "pairs.add", 401),
            (77, "unverified", "-", "POST", "/api/v1/pairs", "pairs.add", 401),
            (
                2,
                "unverified",
                "-",
                "POST",
                "/api/v1/pairs",
                "pairs.add",
                400,
            ),  # refused before authentication
            (2, "unverified", "-", "POST", "/api/v1/pairs", "unrouted", 413),
            (2, "operator-test", "operator", "DELETE", "/api/v1/pairs/EURUSD", "pairs.remove", 200),
        ]
        outcomes = [r.outcome for r in rows]
        assert outcomes[:2] == ["added EURUSD (1m, qfh)", "EURUSD disabled"]
        assert outcomes[2].startswith("PUT /api/v1/pairs/EURUSD/disable needs the operator role")
        assert outcomes[3].startswith("no credentials") and outcomes[4].startswith("the API key is not valid")
        assert outcomes[5].startswith("the request body is not valid JSON")
        assert outcomes[6].startswith("the request body is larger than the 1 KiB")
        assert outcomes[7] == "removed EURUSD"
        assert all(t0 <= r.ts_ns <= time.time_ns() for r in rows)


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(any_db_url: str) -> None:
    with api_on(any_db_url, rate_per_s=0.5, burst=3) as api:
        statuses = [api.client.get("/api/v1/pairs", headers=as_key(api.viewer)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = api.client.get("/api/v1/pairs", headers=as_key(api.viewer))
        assert r.status_code == 429 and int(r.headers["retry-after"]) in (1, 2)
        assert r.json()["error"]["code"] == "rate_limited"
        assert r.json()["error"]["message"].startswith(
            "API key 3 (viewer-test) made more than 0.5 calls a second"
        )
        assert api.client.get("/api/v1/pairs", headers=as_key(api.operator)).status_code == 200


def test_the_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=20, burst=40, clock=lambda: now[0])
    assert all(limiter.take("k") == 0 for _ in range(40))
    assert limiter.take("k") == 0.05  # one token back in 1/20 s
    now[0] += 0.5
    assert sum(limiter.take("k") == 0 for _ in range(20)) == 10  # 0.5 s at 20/s refilled 10
    now[0] += 100
    assert sum(limiter.take("k") == 0 for _ in range(100)) == 40  # never more than the burst
    assert limiter.take("other") == 0
