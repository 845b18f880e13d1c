"""What the trading service needs to run, independent of how it was configured (file, flags, tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from traderbot.api.settings import ApiSettings
from traderbot.data.cache_schedule import RefreshSchedule
from traderbot.data.cache_validate import CacheConfig


@dataclass(frozen=True)
class PairSpec:
    """A pair the configuration asks for: its bars, its strategy and (optionally) pinned parameters."""

    id: str
    timeframe: str = "15m"
    strategy: str = "sma_cross"
    params: dict[str, Any] | None = None  # None: trade only with a trained (active) parameter version
    sizing: str = "fraction:0.1"
    enabled: bool = True


@dataclass(frozen=True)
class ServiceSettings:
    data_dir: Path = Path("traderbot_data")
    database_url: str = ""  # "": sqlite in data_dir
    trader_id: str = "TB"
    mode: str = "paper"
    currency: str = "USD"
    starting_cash: Decimal = Decimal(100_000)
    dataset: str = "samples"
    start: str = ""  # ISO; "": where the last run stopped, else the data's start
    speed: float | None = 60.0  # replay seconds per wall second; None: as fast as possible
    exit_at_end: bool = False
    pairs: tuple[PairSpec, ...] = field(default_factory=tuple)
    cancel_on_stop: bool = True
    flatten_on_stop: bool = False
    flatten_on_remove: bool = False
    redis_url: str = ""
    poll_s: float = 0.25  # how often the pair registry is read for changes made by other processes
    config_path: Path | None = None
    # the control-plane API, served by the service itself when `serve_api` (traderbot run turns it on)
    serve_api: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8000  # 0: any free port
    api: ApiSettings = field(
        default_factory=ApiSettings
    )  # the [api] section's limits (served on api_host/port)
    # live mode: the broker (brokers.factory.create_broker) and how its bars are followed
    broker: str = ""  # oanda, alpaca, ccxt:<exchange id>, ninjatrader
    warm_bars: int = 500  # history fetched for a pair before it trades (indicators warm)
    bar_grace_s: float = 2.0  # after a bar's close, wait this long before asking the broker for it
    bar_retry_s: float = 5.0  # a bar not there yet (late, market closed) or a failed request: ask again after
    reconcile_interval_s: float = 60.0
    # live mode: the data folder's market-data cache (store/), kept fresh for the running pairs (cache_job.py)
    cache: CacheConfig = field(default_factory=CacheConfig)  # the validation thresholds ([cache])
    cache_refresh: RefreshSchedule = field(default_factory=RefreshSchedule)  # when each pair is refreshed
