"""/api/v1/ws through Starlette's TestClient (the real app on a real database): authentication by query or
first message, every role may subscribe, bad or missing credentials close with 1008 before any data, and bad
input is answered with an error frame on a connection that stays usable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from tests.api_harness import Api, api_on

from traderbot.api.keys import KeyStore
from traderbot.api.ws_protocol import TOPICS

WS = "/api/v1/ws"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_on(f"sqlite:///{tmp_path / 'tb.db'}") as a:
        yield a


def _closed(ws: WebSocketTestSession) -> tuple[list[dict[str, Any]], WebSocketDisconnect]:
    """The frames before the server closed the connection, and the close."""
    frames: list[dict[str, Any]] = []
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            frames.append(ws.receive_json())
    return frames, closed.value


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_may_subscribe_with_a_query_token(api: Api, role: str) -> None:
    with api.client.websocket_connect(f"{WS}?token={api.key(role)}") as ws:
        ready = ws.receive_json()
        assert ready["op"] == "ready" and ready["role"] == role and ready["topics"] == list(TOPICS)
        assert ready["unavailable"] == {"prices": ready["unavailable"]["prices"]}  # standalone: no prices
        ws.send_json({"op": "subscribe", "topics": ["risk", "orders", "risk"]})
        ack = ws.receive_json()
        assert (ack["op"], ack["topics"]) == ("subscribed", ["orders", "risk"])


def test_a_token_as_first_message_authenticates(api: Api) -> None:
    token = api.client.post("/api/v1/auth/token", headers={"X-API-Key": api.viewer}).json()["token"]
    with api.client.websocket_connect(WS) as ws:
        ws.send_json({"op": "auth", "token": token})
        ready = ws.receive_json()
        assert ready["op"] == "ready" and ready["role"] == "viewer"
        ws.send_json({"op": "ping"})
        assert ws.receive_json()["op"] == "pong"


@pytest.mark.parametrize(
    ("url", "first", "says"),
    [
        (f"{WS}?token=tb_1_wrong", None, "the API key is not valid"),
        (f"{WS}?token=nonsense", None, "malformed"),
        (f"{WS}?token=", None, "the token query parameter is empty"),
        (WS, {"op": "subscribe", "topics": ["orders"]}, "authenticate first"),
        (WS, {"op": "auth", "token": "tbt.1.viewer.1.forged"}, ""),
        (WS, {"op": "auth"}, "auth needs a token"),
    ],
)
def test_bad_or_missing_credentials_close_with_policy_violation_before_any_data(
    api: Api, url: str, first: dict[str, Any] | None, says: str
) -> None:
    with api.client.websocket_connect(url) as ws:
        if first is not None:
            ws.send_json(first)
        frames, close = _closed(ws)
    assert close.code == 1008
    assert len(frames) == 1 and frames[0]["op"] == "error", frames  # the reason, and no data at all
    assert says in frames[0]["message"] and close.reason
    assert len(close.reason.encode()) <= 123


def test_a_revoked_key_is_refused(api: Api) -> None:
    key, plain = KeyStore(api.engine, "TB").create("viewer", "gone")
    KeyStore(api.engine, "TB").revoke(key.id)
    with api.client.websocket_connect(f"{WS}?token={plain}") as ws:
        frames, close = _closed(ws)
    assert close.code == 1008 and "revoked" in frames[0]["message"]


def test_a_page_from_another_origin_is_refused(api: Api) -> None:
    headers = {"origin": "http://evil.example"}
    with api.client.websocket_connect(f"{WS}?token={api.viewer}", headers=headers) as ws:
        frames, close = _closed(ws)
    assert close.code == 1008 and frames[0]["code"] == "forbidden_origin"
    same = {"origin": "http://testserver"}  # the dashboard served by this API
    with api.client.websocket_connect(f"{WS}?token={api.viewer}", headers=same) as ws:
        assert ws.receive_json()["op"] == "ready"


@pytest.mark.parametrize(
    ("sent", "code", "says"),
    [
        ("{not json", "malformed_json", "not valid JSON"),
        ("[1, 2]", "invalid_request", "JSON object"),
        ('{"op": "dance"}', "unknown_op", "auth, subscribe, unsubscribe, ping"),
        ('{"op": "subscribe", "topics": ["orders", "weather"]}', "unknown_topic", ", ".join(TOPICS)),
        ('{"op": "subscribe", "topics": []}', "invalid_request", "non-empty list"),
        ('{"op": "subscribe", "topics": [1]}', "invalid_request", "non-empty list"),
        ('{"op": "subscribe", "topics": ["prices"]}', "topic_unavailable", "traderbot run"),
        ('{"op": "auth", "token": "x"}', "already_authenticated", "already authenticated"),
        ('{"op": "ping", "pad": "' + "x" * 5000 + '"}', "message_too_large", "4096 bytes"),
    ],
)
def test_bad_input_is_an_error_frame_and_the_connection_stays_usable(
    api: Api, sent: str, code: str, says: str
) -> None:
    with api.client.websocket_connect(f"{WS}?token={api.viewer}") as ws:
        assert ws.receive_json()["op"] == "ready"
        ws.send_text(sent)
        err = ws.receive_json()
        assert err["op"] == "error" and err["code"] == code and says in err["message"], err
        ws.send_bytes(b"\xff\xfe")  # not UTF-8 either
        assert ws.receive_json()["code"] == "malformed_json"
        ws.send_json({"op": "subscribe", "topics": "orders"})  # one name is fine too
        assert ws.receive_json()["topics"] == ["orders"]  # nothing of the refused request was subscribed
        ws.send_json({"op": "unsubscribe", "topics": ["orders"]})
        ack = ws.receive_json()
        assert (ack["op"], ack["topics"]) == ("unsubscribed", [])


def test_logs_topic_carries_traderbot_records_at_info_and_above(api: Api) -> None:
    logger = logging.getLogger("traderbot.test")
    before = logging.getLogger("traderbot").level
    logging.getLogger("traderbot").setLevel(logging.INFO)
    try:
        with api.client.websocket_connect(f"{WS}?token={api.viewer}") as ws:
            ws.receive_json()
            ws.send_json({"op": "subscribe", "topics": ["logs"]})
            assert ws.receive_json()["op"] == "subscribed"
            logger.debug("below the level")
            logger.info("pair %s enabled", "EURUSD")
            logging.getLogger("elsewhere").warning("not ours")
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("it failed")
            first, second = ws.receive_json(), ws.receive_json()
        assert first["topic"] == "logs" and first["type"] == "LogRecord"
        assert first["data"] == {
            "logger": "traderbot.test",
            "level": "INFO",
            "message": "pair EURUSD enabled",
        }
        assert second["data"]["level"] == "ERROR" and "ValueError: boom" in second["data"]["exception"]
        assert logging.getLogger("traderbot").handlers == []  # the handler left with the last subscriber
    finally:
        logging.getLogger("traderbot").setLevel(before)
