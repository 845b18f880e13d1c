"""An alert: what happened (rule, severity, title, message), when, and its de-duplication key. Immutable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Rule(StrEnum):
    """The alert rules; `key` of an alert is the rule, or `rule:<subject>` (e.g. `pair_paused:EURUSD`)."""

    KILL_SWITCH = "kill_switch"
    TRADING_HALTED = "trading_halted"
    DRAWDOWN = "drawdown"
    PAIR_PAUSED = "pair_paused"
    CACHE_INVALID = "cache_invalid"
    BROKER_DISCONNECTED = "broker_disconnected"
    TRAINING_FAILED = "training_failed"
    ERROR_RATE = "error_rate"


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    severity: Severity
    key: str
    title: str
    message: str
    ts_ns: int = field(default_factory=time.time_ns)

    def time_iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.ts_ns / 1e9))

    def text(self) -> str:
        """One plain-text rendering (email body, Telegram message)."""
        return (
            f"[{self.severity.value.upper()}] {self.title}\n{self.message}\n({self.rule}, {self.time_iso()})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {"rule": self.rule, "severity": self.severity.value, "key": self.key, "title": self.title,
                "message": self.message, "time": self.time_iso(), "ts_ns": self.ts_ns}  # fmt: skip
