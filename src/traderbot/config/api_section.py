"""The `[api]` section of `traderbot.toml`: where the control-plane API listens, which browser origins may call
it, and its limits. Read at start by `traderbot run` and `traderbot api` (their --host/--port/--cors-origin
flags win); a change takes effect at the next start. `host`/`port` left out: `[service] host`/`port`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, StrictInt, field_validator

if TYPE_CHECKING:
    from traderbot.api.settings import ApiSettings

DAY_S = 86_400


class ApiSection(BaseModel):
    """Defaults are the safe ones: loopback ([service] host), CORS closed, 64 KiB bodies, 20 calls/s per key,
    15-minute tokens, 10 failed authentications per address or username within 5 minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    host: str | None = None  # None: [service] host
    port: StrictInt | None = None  # None: [service] port
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: StrictInt = 64 * 1024
    rate_per_s: float = 20.0
    burst: StrictInt = 40
    session_ttl_s: StrictInt = (
        15 * 60
    )  # lifetime of a bearer token (key exchange or login); "token" would mask it
    failed_auth_limit: StrictInt = 10
    failed_auth_window_s: float = 300.0

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or any(c.isspace() for c in v)):
            raise ValueError('is not a host (use an address such as "127.0.0.1", or leave it out)')
        return v

    @field_validator("port")
    @classmethod
    def _port(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 65535:
            raise ValueError("is not a TCP port (use 1..65535, e.g. 8000)")
        return v

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for origin in v:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
                raise ValueError(
                    f'has {origin!r}, not an origin (use scheme and host, e.g. "https://ops.example.com")'
                )
        return v

    @field_validator("max_body_bytes")
    @classmethod
    def _body(cls, v: int) -> int:
        if not 1024 <= v <= 64 * 1024 * 1024:
            raise ValueError("must be between 1024 and 67108864 bytes (e.g. 65536)")
        return v

    @field_validator("rate_per_s")
    @classmethod
    def _rate(cls, v: float) -> float:
        if not 0 < v <= 100_000:
            raise ValueError("must be a number of calls a second above 0 and at most 100000 (e.g. 20)")
        return v

    @field_validator("burst")
    @classmethod
    def _burst(cls, v: int) -> int:
        if not 1 <= v <= 1_000_000:
            raise ValueError("must be a number of calls from 1 to 1000000 (e.g. 40)")
        return v

    @field_validator("session_ttl_s")
    @classmethod
    def _ttl(cls, v: int) -> int:
        if not 60 <= v <= DAY_S:
            raise ValueError("must be between 60 and 86400 seconds (e.g. 900)")
        return v

    @field_validator("failed_auth_limit")
    @classmethod
    def _limit(cls, v: int) -> int:
        if not 1 <= v <= 1_000_000:
            raise ValueError("must be a number of failures from 1 to 1000000 (e.g. 10)")
        return v

    @field_validator("failed_auth_window_s")
    @classmethod
    def _window(cls, v: float) -> float:
        if not 0 < v <= DAY_S:
            raise ValueError("must be a number of seconds above 0 and at most 86400 (e.g. 300)")
        return v

    def to_settings(self, service_host: str, service_port: int, **overrides: Any) -> ApiSettings:
        """The API server's settings: this section (on [service] host/port when it names none), then the
        command line's flags in `overrides` (None: not given)."""
        from traderbot.api.settings import ApiSettings

        values: dict[str, Any] = self.model_dump(exclude={"host", "port", "session_ttl_s"})
        values["token_ttl_s"] = self.session_ttl_s
        values.update(host=self.host or service_host, port=service_port if self.port is None else self.port)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return ApiSettings(**values)
