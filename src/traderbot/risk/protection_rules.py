"""The protections' rules: their configuration (validated, frozen sections), UTC-day arithmetic, the counters
of one scope, and each limit's test as a pure function returning the lock reason (with its numbers) or None.
How the limits combine, and what a per-pair override means, is documented in `protections`.

Formulas (money in the account currency, P&L of a closed trade net of its costs):
- daily loss = -(sum of the P&L of the trades closed today), counted only when positive;
- daily loss % = daily loss (of the account, or of one pair) / the account's day-start balance * 100;
- drawdown % = (peak equity - equity) / peak equity * 100;
- pair drawdown % = (the pair's peak cumulative P&L - its cumulative P&L now) / starting equity * 100;
- low performance: the sum of the pair's last `lookback_trades` closed trades' P&L < `min_profit`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from traderbot.core.money import ZERO
from traderbot.risk.section import Section

NS_PER_MIN = 60_000_000_000
_HOUR_NS = 60 * NS_PER_MIN
_DAY_NS = 24 * _HOUR_NS

# ---- configuration ------------------------------------------------------------------------------------------
ACCOUNT_LEVEL = ("max_trades_per_day", "max_daily_loss", "max_daily_loss_pct", "max_consecutive_losses")
PAIR_LEVEL = ("cooldown_minutes", "max_pair_drawdown_pct", "low_performance")
ACCOUNT_ONLY = frozenset({"max_drawdown_pct", "day_start_utc_hour"})


class LowPerformanceConfig(Section):
    """Lock a pair for `lock_minutes` when its last `lookback_trades` closed trades sum to less than
    `min_profit` (account currency; may be zero or negative, e.g. -50: lock when they lost more than 50)."""

    lookback_trades: int
    min_profit: Decimal
    lock_minutes: int

    @field_validator("lookback_trades", "lock_minutes")
    @classmethod
    def _positive(cls, value: int, info: ValidationInfo) -> int:
        if value <= 0:
            example = 5 if info.field_name == "lookback_trades" else 240
            raise ValueError(
                f"{info.field_name} must be a positive whole number, got {value}; use e.g. {example}"
            )
        return value


class ProtectionsConfig(Section):
    """The limits; every one is off unless set. Money in the account currency, percentages in (0, 100]."""

    max_trades_per_day: int | None = None  # entries per day
    max_daily_loss: Decimal | None = None  # the loss allowed, a positive amount
    max_daily_loss_pct: Decimal | None = None  # of the day-start balance
    max_consecutive_losses: int | None = None
    pause_minutes: int = 60  # how long a losing streak locks
    cooldown_minutes: int | None = None  # after an exit on a pair, no new entry on it for this long
    max_drawdown_pct: Decimal | None = None  # account equity from its peak; locked until cleared by hand
    max_pair_drawdown_pct: Decimal | None = None  # of the starting equity; locked until the next day
    low_performance: LowPerformanceConfig | None = None
    action: Literal["reducing", "halted"] = "reducing"  # what a lock does
    day_start_utc_hour: int = 0

    @field_validator(
        "max_trades_per_day", "max_daily_loss", "max_consecutive_losses", "cooldown_minutes", "pause_minutes"
    )
    @classmethod
    def _positive(cls, value: Decimal | int | None, info: ValidationInfo) -> Decimal | int | None:
        if value is not None and value <= 0:
            fix = "use e.g. 60" if info.field_name == "pause_minutes" else "remove it to switch the limit off"
            raise ValueError(f"{info.field_name} must be a positive number, got {value}; {fix}")
        return value

    @field_validator("max_daily_loss_pct", "max_drawdown_pct", "max_pair_drawdown_pct")
    @classmethod
    def _percent(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and not 0 < value <= 100:
            raise ValueError(f"{info.field_name} is a percentage in (0, 100], got {value}; use e.g. 5 for 5%")
        return value

    @field_validator("day_start_utc_hour")
    @classmethod
    def _hour(cls, value: int) -> int:
        if not 0 <= value <= 23:
            raise ValueError(f"day_start_utc_hour must be an hour from 0 to 23, got {value}; use e.g. 0")
        return value

    @property
    def enabled(self) -> bool:
        """True when at least one limit is set."""
        return any(
            getattr(self, name) is not None for name in (*ACCOUNT_LEVEL, *PAIR_LEVEL, "max_drawdown_pct")
        )


class ProtectionsSettings(Section):
    """`global` limits and per-pair overrides (`pairs`, keyed by instrument id); see `protections`."""

    model_config = ConfigDict(
        populate_by_name=True
    )  # merged with Section's: `global_=` in code, `global` in files

    global_: ProtectionsConfig = Field(default_factory=ProtectionsConfig, alias="global")
    pairs: dict[str, ProtectionsConfig] = Field(default_factory=dict)

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: dict[str, ProtectionsConfig]) -> dict[str, ProtectionsConfig]:
        for pair, override in value.items():
            if not pair.strip():
                raise ValueError("a pair override needs the instrument id as its key, e.g. EURUSD")
            for name in sorted(override.model_fields_set & ACCOUNT_ONLY):
                hint = " (for one pair use max_pair_drawdown_pct)" if name == "max_drawdown_pct" else ""
                raise ValueError(f"{name} is account-wide: set it under global, not under pairs.{pair}{hint}")
        return value

    def for_pair(self, instrument_id: str) -> ProtectionsConfig:
        """The limits on one pair's own counters: the global values of the pair-level limits, pause_minutes
        and action, each replaced by the override's where it sets one; the account-level limits only where
        the override sets them (the global ones count the whole account instead)."""
        update: dict[str, object] = dict.fromkeys((*ACCOUNT_LEVEL, "max_drawdown_pct"))
        override = self.pairs.get(instrument_id)
        if override is not None:
            update.update({name: getattr(override, name) for name in override.model_fields_set})
        return self.global_.model_copy(update=update)

    @property
    def enabled(self) -> bool:
        return self.global_.enabled or any(p.enabled for p in self.pairs.values())


# ---- days -----------------------------------------------------------------------------------------------------


def day_of(ts_ns: int, start_hour: int) -> int:
    """The number of the trading day holding `ts_ns`; a day starts at `start_hour`:00 UTC."""
    return (ts_ns - start_hour * _HOUR_NS) // _DAY_NS


def day_start(day: int, start_hour: int) -> int:
    """When day number `day` starts (ns since the epoch, UTC)."""
    return day * _DAY_NS + start_hour * _HOUR_NS


def iso(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_ns // 1_000_000_000))


# ---- counters and tests ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class Tally:
    """The counters of one scope: the whole account, or one pair."""

    entries: int = 0  # entries of the current day
    day_pnl: Decimal = ZERO  # P&L of the trades closed in the current day
    streak: int = 0  # losing closed trades in a row (P&L < 0); a trade with P&L >= 0 ends it
    cum_pnl: Decimal = ZERO  # pairs: cumulative closed-trade P&L
    peak_pnl: Decimal = ZERO  # pairs: its peak since the last pair_drawdown lock (starts at 0)
    recent: list[Decimal] = field(default_factory=list)  # pairs: last closed trades' P&L, oldest first

    def new_day(self) -> None:
        self.entries = 0
        self.day_pnl = ZERO

    def record(self, pnl: Decimal, window: int) -> None:
        """Count one closed trade; `window` is how many recent P&Ls to keep (0: none)."""
        self.day_pnl += pnl
        self.streak = self.streak + 1 if pnl < 0 else 0
        self.cum_pnl += pnl
        self.peak_pnl = max(self.peak_pnl, self.cum_pnl)
        if window:
            self.recent.append(pnl)
            del self.recent[:-window]


def _on(where: str) -> str:
    return f" on {where}" if where else ""


def entries_breach(count: int, limit: int | None, where: str = "") -> str | None:
    if limit is None or count < limit:
        return None
    return f"entries today{_on(where)} {count} >= max {limit}"


def daily_loss_breach(day_pnl: Decimal, limit: Decimal | None, ccy: str, where: str = "") -> str | None:
    loss = -day_pnl
    if limit is None or loss < limit:
        return None
    return f"daily loss{_on(where)} {loss:.2f} {ccy} >= max {limit} {ccy}"


def daily_loss_pct_breach(
    day_pnl: Decimal, limit_pct: Decimal | None, base: Decimal, ccy: str, where: str = ""
) -> str | None:
    """`base` is the day-start balance; no test when it is not positive (nothing left to lose a share of)."""
    if limit_pct is None or day_pnl >= 0 or base <= 0:
        return None
    pct = -day_pnl / base * 100
    if pct < limit_pct:
        return None
    return (
        f"daily loss{_on(where)} {-day_pnl:.2f} {ccy} = {pct:.2f}% of the day-start balance "
        f"{base:.2f} {ccy} >= max {limit_pct}%"
    )


def streak_breach(streak: int, limit: int | None, pause_minutes: int, where: str = "") -> str | None:
    if limit is None or streak < limit:
        return None
    return f"{streak} losing trades in a row{_on(where)} >= max {limit}; pause {pause_minutes} min"


def drawdown_breach(equity: Decimal, peak: Decimal, limit_pct: Decimal | None, ccy: str) -> str | None:
    if limit_pct is None or peak <= 0 or equity >= peak:
        return None
    pct = (peak - equity) / peak * 100
    if pct < limit_pct:
        return None
    return f"drawdown {pct:.2f}% (equity {equity:.2f} {ccy}, peak {peak:.2f} {ccy}) >= max {limit_pct}%"


def pair_drawdown_breach(
    tally: Tally, base: Decimal, limit_pct: Decimal | None, ccy: str, pair: str
) -> str | None:
    """`base` is the account's starting equity."""
    drop = tally.peak_pnl - tally.cum_pnl
    if limit_pct is None or drop <= 0 or base <= 0:
        return None
    pct = drop / base * 100
    if pct < limit_pct:
        return None
    return (
        f"{pair} closed-trade P&L {drop:.2f} {ccy} below its peak = {pct:.2f}% of the starting equity "
        f"{base:.2f} {ccy} >= max {limit_pct}%"
    )


def low_performance_breach(
    recent: list[Decimal], lookback: int, min_profit: Decimal, ccy: str, pair: str
) -> str | None:
    if len(recent) < lookback:
        return None
    total = sum(recent[-lookback:], ZERO)
    if total >= min_profit:
        return None
    return f"last {lookback} trades on {pair} sum {total:.2f} {ccy} < min {min_profit} {ccy}"


def cooldown_reason(pair: str, exit_ts: int, minutes: int) -> str:
    return f"trade on {pair} closed at {iso(exit_ts)}: no new entry for {minutes} min"
