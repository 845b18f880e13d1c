"""Request bodies of the operations routes (training, configuration, backtests): strict and closed, like
schemas.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from traderbot.api.schemas import Body, Text


def _reason() -> Any:
    return Field(min_length=1, max_length=500, description="Why (stored in the audit trail).")


def _day() -> Any:
    return Field(None, min_length=8, max_length=32, description="A date (YYYY-MM-DD) or ISO timestamp, UTC.")


def _number(default: str) -> Any:
    """A decimal number as text (exact): `"1"`, `"0.5"`."""
    return Field(default, pattern=r"^[0-9]{1,15}(\.[0-9]{1,12})?$", max_length=32)


ParamValue = StrictStr | StrictInt | StrictFloat | StrictBool


class ConfigText(Body):
    toml: Text = Field(max_length=60_000, description="The whole traderbot.toml, as text.")


class ConfigEdit(Body):
    toml: Text = Field(max_length=60_000, description="The whole new traderbot.toml, as text.")
    reason: Text = _reason()


class TrainRequest(Body):
    """What `traderbot train PAIR` takes, minus the data location (the trainer's default bar store)."""

    reason: Text = _reason()
    trials: int = Field(200, ge=2, le=100_000, description="Candidates the search evaluates.")
    objective: Literal[
        "sharpe", "sortino", "calmar", "profit_factor", "expectancy", "hit_rate_above_base"
    ] = "sharpe"
    min_trades: int = Field(10, ge=1, le=100_000)
    train_weeks: int = Field(4, ge=1, le=520)
    mode: Literal["rolling", "anchored"] = "rolling"
    start: Text | None = _day()
    end: Text | None = _day()
    timeframe: Text | None = Field(None, min_length=1, max_length=8, description="Default: the pair's.")
    space: dict[str, ParamValue | list[ParamValue]] = Field(
        default_factory=dict, description="name: [low, high(, step)], [a, b, c] or a fixed value."
    )
    gate: dict[str, ParamValue] = Field(default_factory=dict, description="Promotion thresholds.")
    spread_pips: Text = _number("1")
    commission_pct: Text = _number("0")
    priority: int = Field(0, ge=-1000, le=1000)
    timeout_s: float = Field(1800.0, gt=0, le=7 * 24 * 3600)
    attempts: int = Field(2, ge=1, le=10)


class BacktestRequest(Body):
    """One strategy on one pair over a date range, as `traderbot backtest --pair` runs it."""

    pair: Text = Field(min_length=1, max_length=32, examples=["EURUSD"])
    timeframe: Text = Field(min_length=1, max_length=8, examples=["15m"])
    strategy: Text = Field(min_length=1, max_length=64, description="A built-in strategy name.")
    params: dict[str, ParamValue] = Field(default_factory=dict, description="Strategy parameters.")
    start: Text | None = _day()
    end: Text | None = _day()
    data: Literal["store", "service"] = Field(
        "store", description="store: the bar store over the bundled samples; service: the service's dataset."
    )
    cash: Text = _number("10000")
    spread_pips: Text = _number("0")
    commission_pct: Text = _number("0")
    sizing: Text = Field("all_in", min_length=1, max_length=64, description="e.g. all_in, fraction:0.5.")
    account_currency: Text | None = Field(None, min_length=3, max_length=3)
    reason: Text = Field("", max_length=500)
