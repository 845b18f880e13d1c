"""The risk configuration: one strict, validated document for every check, guard, protection and breaker.

Loaded from TOML (a `[risk]` table, or the whole file), checked as a whole, and refused with a message naming
each bad field (`risk.limits.max_order_notional: a limit must be a positive number, got -5; ...`). Nothing is
applied until the whole document is valid, so an engine never runs with half a configuration.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from traderbot.errors import UserError
from traderbot.risk.config_sections import (
    CollarConfig,
    CorrelationConfig,
    FlowConfig,
    LimitsConfig,
    MarginConfig,
)
from traderbot.risk.currencies import check_currency
from traderbot.risk.market_breakers import MarketBreakersConfig
from traderbot.risk.news import NewsConfig
from traderbot.risk.protection_rules import ProtectionsSettings
from traderbot.risk.section import Section
from traderbot.risk.sizing import Sizing
from traderbot.risk.system_breakers import SystemBreakersConfig


class RiskConfig(Section):
    """Everything the risk engine enforces. A missing section is switched off."""

    account_currency: str | None = None
    limits: LimitsConfig = LimitsConfig()
    collar: CollarConfig | None = None
    flow: FlowConfig = FlowConfig()
    margin: MarginConfig | None = None
    correlation: CorrelationConfig | None = None
    market_hours: bool = False  # deny orders while the instrument's calendar says closed
    news: NewsConfig | None = None  # blackout windows around economic releases
    protections: ProtectionsSettings | None = None  # daily and drawdown limits (locks)
    market: MarketBreakersConfig | None = (
        None  # gap / stale data / spread breakers, volatility and spread guards
    )
    system: SystemBreakersConfig | None = None  # broker errors, rejections, latency, lost connection (live)
    sizing: str | None = None  # default position sizing, e.g. "risk:1,atr=2;dd=5:20:0.25"

    @field_validator("sizing")
    @classmethod
    def _sizing(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return Sizing.parse(v).describe()
        except UserError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("account_currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return None if v is None else check_currency(v)

    @model_validator(mode="after")
    def _cross(self) -> RiskConfig:
        for code in self.limits.currency_limits:
            if self.account_currency is not None and code == self.account_currency:
                raise ValueError(
                    f"limits.currency_limits has the account currency {code}: exposure to the account's own "
                    "currency is not a currency risk; remove it"
                )
        return self


def parse_risk_config(data: dict[str, Any], source: str = "risk config") -> RiskConfig:
    """Validate a whole risk configuration; a UserError lists every bad field by its dotted name."""
    body = data.get("risk", data) if isinstance(data, dict) else data
    if not isinstance(body, dict):
        raise UserError(f"{source}: expected a [risk] table of settings")
    try:
        return RiskConfig.model_validate(body)
    except ValidationError as exc:
        raise UserError(f"{source} refused, nothing applied: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in ("risk", *err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "is not a known setting; check the spelling (docs/risk.md lists every setting)"
        elif err["type"] == "missing":
            msg = "is required"
        elif err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg} (got {err.get('input')!r})"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def load_risk_config(path: str | Path) -> RiskConfig:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"risk config {p} not found: give the path of a TOML file with a [risk] table")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(
            f"risk config {p} is not valid TOML ({exc}); fix the syntax and load it again"
        ) from None
    return parse_risk_config(data, f"risk config {p}")
