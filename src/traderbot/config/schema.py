"""The schema of `traderbot.toml`: one strict, frozen pydantic model per section, checked without I/O.

Every model refuses unknown keys and impossible values; a validator's ValueError is one phrase that reads after
`field = value` (e.g. `is not a timeframe (use e.g. 1m, 15m, 1h)`), and the loader (config/loader.py) turns it
into one sentence naming the file, the line and the field. The `[risk]` section is the existing risk
configuration (traderbot.risk.config.RiskConfig), validated by its own rules and messages.

Regenerate the JSON schema with: `python -m traderbot.config.schema > docs/config.schema.json`
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from traderbot.alerts.config import AlertsSection
from traderbot.config.api_section import ApiSection
from traderbot.data.cache_schedule import RefreshSchedule
from traderbot.data.cache_validate import CacheConfig
from traderbot.errors import UserError
from traderbot.risk.config import RiskConfig
from traderbot.risk.currencies import check_currency

SECTIONS: tuple[str, ...] = (
    "service", "account", "broker", "replay", "cache", "risk", "training", "pairs", "shutdown", "alerts",
    "api",
)  # fmt: skip
"""Every top-level section, in the order the manager applies changes (risk before pairs, so limits are
tightened before a new pair can trade); a rollback re-applies in the reverse order."""

RESTART_ONLY: tuple[str, ...] = (
    "service.mode",
    "service.data_dir",
    "service.database_url",
    "service.trader_id",
    *(f"api.{name}" for name in ApiSection.model_fields),  # the API reads its section at start only
)
SECRET_WORDS: tuple[str, ...] = ("password", "secret", "token", "api_key", "key_id")
BROKERS: tuple[str, ...] = ("oanda", "alpaca", "ninjatrader")  # plus ccxt:<exchange>
WEEK_MINUTES = 7 * 24 * 60


class FieldError(ValueError):
    """A cross-field error raised by a model validator, carrying the location (relative to the model) of the
    field to blame, so the loader can name it and find its line."""

    def __init__(
        self, loc: tuple[str | int, ...], message: str, line_loc: tuple[str | int, ...] | None = None
    ) -> None:
        super().__init__(message)
        self.loc = loc
        self.line_loc = line_loc  # where to point when `loc` is not in the file (e.g. a default value)


def is_secret(name: str) -> bool:
    """True for a key whose value is never printed (masked as `***`)."""
    low = name.lower()
    return any(word in low for word in SECRET_WORDS)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ServiceConfig(_Model):
    """The process: mode, where its state lives, its database, its identity and the API's address."""

    mode: Literal["paper", "live"] = "paper"
    data_dir: str = "traderbot_data"
    database_url: str = ""
    redis_url: str = ""
    trader_id: str = "TB"
    host: str = "127.0.0.1"
    port: StrictInt = 8000

    @field_validator("data_dir", "trader_id", "host")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("trader_id")
    @classmethod
    def _trader(cls, v: str) -> str:
        if len(v) > 32 or not v.replace("_", "").replace("-", "").isalnum():
            raise ValueError("is not a trader id (use up to 32 letters, digits, - or _, e.g. TB)")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if v and "://" not in v:
            raise ValueError("is not a database URL (use sqlite:///path.db or postgresql+psycopg://...)")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str) -> str:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError('is not a Redis URL (use e.g. redis://127.0.0.1:6379/0, or "" for none)')
        return v

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError("is not a TCP port (use 1..65535, e.g. 8000)")
        return v


class AccountConfig(_Model):
    """The paper account: its currency and starting cash (exact Decimal)."""

    currency: str = "USD"
    starting_cash: Decimal = Decimal(100000)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return check_currency(v)

    @field_validator("starting_cash", mode="before")
    @classmethod
    def _cash_text(cls, v: Any) -> Any:
        if isinstance(v, float):  # a TOML float: take its shortest text, never its binary expansion
            return Decimal(repr(v))
        return v

    @field_validator("starting_cash")
    @classmethod
    def _cash(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v <= 0:
            raise ValueError('must be a positive amount, e.g. "100000"')
        return v


class ReplayConfig(_Model):
    """Paper mode's feed: a replay of recorded bars at N times real time, or as fast as possible ("max")."""

    dataset: str = "samples"
    start: str = ""
    speed: str = "60"
    exit_at_end: StrictBool = False

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if not v.strip():
            raise ValueError('must not be empty (use "samples" or a folder of bars)')
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        if v:
            try:
                datetime.fromisoformat(v.replace("Z", "+00:00")) if "T" in v else date.fromisoformat(v)
            except ValueError:
                raise ValueError(
                    'is not an ISO date (use e.g. "2024-01-02", or "" for the data\'s start)'
                ) from None
        return v

    @field_validator("speed", mode="before")
    @classmethod
    def _speed_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: str) -> str:
        if v.strip().lower() == "max":
            return "max"
        try:
            n = Decimal(v)
        except InvalidOperation:
            n = Decimal(0)
        if not n.is_finite() or n <= 0:
            raise ValueError('is not a speed (use a number of times real time > 0, e.g. "60", or "max")')
        return v

    @property
    def speed_factor(self) -> float | None:
        """N times real time, or None for "max" (no waiting between bars)."""
        return None if self.speed == "max" else float(self.speed)


class BrokerConfig(_Model):
    """The live venue. Credentials are never here: each adapter reads them from the environment."""

    name: str = ""
    warm_bars: StrictInt = 500  # complete bars fetched for a pair before it trades (indicators warm)
    bar_grace_s: float = 2.0  # after a bar's close, wait this long before asking the broker for it
    bar_retry_s: float = 5.0  # a bar not there yet, or a failed request: ask again after this long
    reconcile_interval_s: float = 60.0  # orders and positions checked against the broker's this often

    @field_validator("warm_bars")
    @classmethod
    def _warm(cls, v: int) -> int:
        if not 1 <= v <= 100_000:
            raise ValueError("must be between 1 and 100000 bars (e.g. 500)")
        return v

    @field_validator("bar_grace_s", "bar_retry_s", "reconcile_interval_s")
    @classmethod
    def _seconds(cls, v: float) -> float:
        if not (v > 0 and v < 86_400):
            raise ValueError("must be a number of seconds above 0 and under a day (e.g. 2)")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        ok = v == "" or v in BROKERS or (v.startswith("ccxt:") and len(v) > 5)
        if not ok:
            raise ValueError(f"is not a broker (use {', '.join(BROKERS)} or ccxt:<exchange>)")
        return v


class PairConfig(_Model):
    """One traded instrument: its bar timeframe, strategy with parameters, and position sizing."""

    id: str
    timeframe: str = "15m"
    strategy: str = "sma_cross"
    params: dict[str, Any] = Field(default_factory=dict)
    sizing: str = "fraction:0.1"
    enabled: StrictBool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        from traderbot.model.instrument import get_instrument

        try:
            return get_instrument(v).id
        except KeyError as exc:
            raise ValueError(f"is not a known instrument ({str(exc.args[0]).partition(': ')[2]})") from None

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, v: str) -> str:
        from traderbot.data.store import parse_timeframe

        try:
            parse_timeframe(v)
        except UserError:
            raise ValueError("is not a timeframe (use e.g. 1m, 15m, 1h)") from None
        return v

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        from traderbot.strategies.registry import BUILTIN

        if v not in BUILTIN and not v.partition(":")[0].endswith(".py"):
            raise ValueError(f"is not a strategy (built-ins: {', '.join(sorted(BUILTIN))}; or a .py file)")
        return v

    @field_validator("sizing")
    @classmethod
    def _sizing(cls, v: str) -> str:
        from traderbot.risk.sizing import Sizing

        try:
            Sizing.parse(v)
        except UserError as exc:
            raise ValueError(f"is not a sizing: {str(exc).partition(': ')[2] or exc}") from None
        return v

    @model_validator(mode="after")
    def _params(self) -> PairConfig:
        from traderbot.strategies.registry import BUILTIN

        cls = BUILTIN.get(self.strategy)
        if cls is not None:  # a .py strategy is checked when it is loaded (that needs I/O)
            try:
                cls(**self.params)
            except UserError as exc:
                raise FieldError(("params",), f"is refused by {self.strategy}: {exc}") from None
        return self


def _default_pairs() -> tuple[PairConfig, ...]:
    return (PairConfig(id="EURUSD", params={"fast": 20, "slow": 80}),)


class TrainingConfig(_Model):
    """Per-pair parameter training: where it runs (local processes, or Ray at `ray_address`) and how hard."""

    ray_address: str = ""
    workers: StrictInt = 2
    trials: StrictInt = 200
    objective: str = "sharpe"
    train_weeks: StrictInt = 4

    @field_validator("workers", "trials", "train_weeks")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("objective")
    @classmethod
    def _objective(cls, v: str) -> str:
        from traderbot.training.metrics import OBJECTIVES

        if v not in OBJECTIVES:
            raise ValueError(f"is not an objective (use one of {', '.join(OBJECTIVES)})")
        return v


class CacheSection(_Model):
    """The market-data cache thresholds (traderbot.data.cache_validate.CacheConfig); 0 staleness = automatic
    (3 bars' length, at least 5 minutes). Live, the service refreshes its running pairs' caches every
    `refresh_minutes` while their market is open and once `lead_before_open_minutes` before it opens
    (traderbot.data.cache_schedule.RefreshSchedule)."""

    window_days: float = 7.0
    max_missing_pct: float = 2.0
    max_gap_minutes: float = 30.0
    max_staleness_minutes: float = 0.0
    refresh_minutes: float = 15.0
    lead_before_open_minutes: float = 15.0

    @field_validator("window_days")
    @classmethod
    def _window(cls, v: float) -> float:
        if not v > 0:
            raise ValueError("must be a positive number of days, e.g. 7")
        return v

    @field_validator("max_missing_pct")
    @classmethod
    def _pct(cls, v: float) -> float:
        if not 0.0 <= v <= 100.0:
            raise ValueError("must be a percentage from 0 to 100, e.g. 2.0")
        return v

    @field_validator("max_gap_minutes", "max_staleness_minutes")
    @classmethod
    def _minutes(cls, v: float) -> float:
        if not v >= 0:
            raise ValueError("must be a number of minutes >= 0")
        return v

    @field_validator("refresh_minutes")
    @classmethod
    def _refresh(cls, v: float) -> float:
        if not 0 < v <= WEEK_MINUTES:
            raise ValueError("must be a positive number of minutes up to a week (10080), e.g. 15")
        return v

    @field_validator("lead_before_open_minutes")
    @classmethod
    def _lead(cls, v: float) -> float:
        if not 0 <= v <= WEEK_MINUTES:
            raise ValueError("must be a number of minutes from 0 to a week (10080), e.g. 15")
        return v

    def to_cache_config(self) -> CacheConfig:
        stale = timedelta(minutes=self.max_staleness_minutes) if self.max_staleness_minutes > 0 else None
        return CacheConfig(
            window_days=self.window_days,
            max_missing_pct=self.max_missing_pct,
            max_gap=timedelta(minutes=self.max_gap_minutes),
            max_staleness=stale,
        )

    def to_refresh_schedule(self) -> RefreshSchedule:
        return RefreshSchedule(
            every=timedelta(minutes=self.refresh_minutes),
            lead_before_open=timedelta(minutes=self.lead_before_open_minutes),
        )


class ShutdownConfig(_Model):
    """What a clean stop does: cancel working orders, and optionally close every position."""

    cancel_orders: StrictBool = True
    flatten: StrictBool = False
    flatten_on_remove: StrictBool = False  # a pair stopped or removed while running: close its position too


class TraderbotConfig(_Model):
    """The whole `traderbot.toml`. An empty file is valid and means every default."""

    service: ServiceConfig = ServiceConfig()
    account: AccountConfig = AccountConfig()
    replay: ReplayConfig = ReplayConfig()
    broker: BrokerConfig = BrokerConfig()
    pairs: tuple[PairConfig, ...] = Field(default_factory=_default_pairs)
    risk: RiskConfig = RiskConfig()
    training: TrainingConfig = TrainingConfig()
    cache: CacheSection = CacheSection()
    shutdown: ShutdownConfig = ShutdownConfig()
    alerts: AlertsSection = AlertsSection()
    api: ApiSection = ApiSection()

    @model_validator(mode="after")
    def _cross(self) -> TraderbotConfig:
        seen: dict[str, int] = {}
        for i, pair in enumerate(self.pairs):
            if pair.id in seen:
                raise FieldError(
                    ("pairs", i, "id"), f"is listed twice (also pairs[{seen[pair.id]}]); keep one"
                )
            seen[pair.id] = i
        if self.service.mode == "live" and not self.broker.name:
            raise FieldError(
                ("broker", "name"),
                "must name a broker in live mode (oanda, alpaca, ccxt:<exchange>, ninjatrader)",
                line_loc=("service", "mode"),
            )
        return self

    def section(self, name: str) -> Any:
        """The value of one top-level section by name (as the manager hands it to an applier)."""
        if name not in SECTIONS:
            raise KeyError(f"unknown config section {name!r}: sections are {', '.join(SECTIONS)}")
        return getattr(self, name)


def default_config() -> TraderbotConfig:
    """Every default: what an empty file means."""
    return TraderbotConfig()


def json_schema_text() -> str:
    """The JSON schema of the file, as committed in docs/config.schema.json."""
    return json.dumps(TraderbotConfig.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")
