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
    # failed authentications (wrong keys, forged tokens, wrong passwords) per client address and per username
    # before a 429 (authlimit.py), counted over a sliding window
    failed_auth_limit: PositiveInt = 10
    failed_auth_window_s: PositiveFloat = 300.0
    # how long a credential found good is remembered (context.authenticate): a revocation made by another process
    # takes effect within this; 0 reads the database on every call
    auth_cache_s: float = Field(default=1.0, ge=0.0, le=60.0)
    command_timeout_s: PositiveFloat = 5.0  # how long a command waits for the service before 503
    command_poll_s: PositiveFloat = 0.02
    # background work in the API process (never on the kernel's thread): training jobs (0: only queued, another
    # trainer runs them) and backtests, each in spawned worker processes
    train_workers: int = Field(default=2, ge=0, le=64)
    backtest_workers: int = Field(default=1, ge=1, le=16)
    backtest_timeout_s: PositiveFloat = 900.0
