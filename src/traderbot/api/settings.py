"""Settings of the API server: where it binds, who may call it from a browser, and its limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt


class ApiSettings(BaseModel):
    """Defaults are the safe ones: loopback only, CORS closed, 64 KiB bodies, 20 requests/s per key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    cors_origins: tuple[str, ...] = ()  # empty: no cross-origin browser access at all
    max_body_bytes: PositiveInt = 64 * 1024
    rate_per_s: PositiveFloat = 20.0
    burst: PositiveInt = 40
    token_ttl_s: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    command_timeout_s: PositiveFloat = 5.0  # how long a command waits for the service before 503
    command_poll_s: PositiveFloat = 0.02
