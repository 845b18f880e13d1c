"""Settings of the NinjaTrader 8 ATI adapter: folders, account, instrument names, timings.

ATI is local (files on the same machine as NinjaTrader), so there are no credentials. `from_env()` reads, when
set: `NINJATRADER_DIR` (the "Documents/NinjaTrader 8" folder), `NINJATRADER_ACCOUNT` and `NINJATRADER_INSTRUMENTS`
("ES=ES 12-26,NQ=NQ 12-26").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from traderbot.brokers.base import BrokerError

DIR_ENV = "NINJATRADER_DIR"
ACCOUNT_ENV = "NINJATRADER_ACCOUNT"
INSTRUMENTS_ENV = "NINJATRADER_INSTRUMENTS"
DEFAULT_ROOT = Path.home() / "Documents" / "NinjaTrader 8"

# Tick size and point value (USD per 1.0 of price) of common CME Group futures, by root symbol (the first
# word of NinjaTrader's instrument name, "ES 12-26" -> "ES"). `NinjaTraderConfig.tick_sizes` overrides them.
FUTURES_SPECS: Mapping[str, tuple[Decimal, Decimal]] = MappingProxyType(
    {
        "ES": (Decimal("0.25"), Decimal(50)),
        "MES": (Decimal("0.25"), Decimal(5)),
        "NQ": (Decimal("0.25"), Decimal(20)),
        "MNQ": (Decimal("0.25"), Decimal(2)),
        "YM": (Decimal(1), Decimal(5)),
        "MYM": (Decimal(1), Decimal("0.5")),
        "RTY": (Decimal("0.1"), Decimal(50)),
        "M2K": (Decimal("0.1"), Decimal(5)),
        "CL": (Decimal("0.01"), Decimal(1000)),
        "MCL": (Decimal("0.01"), Decimal(100)),
        "GC": (Decimal("0.1"), Decimal(100)),
        "MGC": (Decimal("0.1"), Decimal(10)),
        "6E": (Decimal("0.00005"), Decimal(125000)),
        "ZN": (Decimal("0.015625"), Decimal(1000)),
        "ZB": (Decimal("0.03125"), Decimal(1000)),
    }
)


class FolderMissing(BrokerError):
    """An ATI folder does not exist; the message names the path and the setting to change."""

    code = "FOLDER_MISSING"


@dataclass(frozen=True, slots=True)
class NinjaTraderConfig:
    """Where NinjaTrader's ATI folders are and how traderbot talks through them.

    `instruments` maps our ids to NinjaTrader instrument names ({"ES": "ES 12-26"}); `tick_sizes` (our id ->
    tick) overrides `FUTURES_SPECS`. `state_dir` holds traderbot's own journal of what it sent (default: a
    `traderbot-ati` folder next to `incoming`). `declared_balance` is the account's cash as the operator
    states it (ATI files carry no balances). `history_dir` holds NinjaTrader historical-data exports.
    """

    incoming_dir: Path = DEFAULT_ROOT / "incoming"
    outgoing_dir: Path = DEFAULT_ROOT / "outgoing"
    account: str = "Sim101"
    instruments: Mapping[str, str] = field(default_factory=dict)
    poll_interval: float = 0.1
    ack_timeout: float = 5.0
    settle_time: float = 0.05  # a file must read the same across this interval before it is trusted
    state_dir: Path | None = None
    tick_sizes: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"
    declared_balance: Decimal | None = None
    history_dir: Path | None = None
    history_stamps_bar_end: bool = True  # NinjaTrader's own exports stamp a bar with its end time

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "incoming_dir", Path(self.incoming_dir).expanduser())
        set_(self, "outgoing_dir", Path(self.outgoing_dir).expanduser())
        set_(self, "instruments", MappingProxyType({k.upper(): v for k, v in self.instruments.items()}))
        set_(
            self, "tick_sizes", MappingProxyType({k.upper(): Decimal(v) for k, v in self.tick_sizes.items()})
        )
        if self.state_dir is not None:
            set_(self, "state_dir", Path(self.state_dir).expanduser())
        if self.history_dir is not None:
            set_(self, "history_dir", Path(self.history_dir).expanduser())
        for name in ("poll_interval", "ack_timeout", "settle_time"):
            if not getattr(self, name) > 0:
                raise ValueError(f"NinjaTraderConfig.{name} must be positive, got {getattr(self, name)!r}")
        if not self.account or ";" in self.account:
            raise ValueError(
                f"NinjaTraderConfig.account must be a non-empty name without ';': {self.account!r}"
            )
        for ours, theirs in self.instruments.items():
            if not theirs.strip() or ";" in theirs:
                raise ValueError(f"NinjaTraderConfig.instruments[{ours!r}] is not a usable name: {theirs!r}")
        for ours, tick in self.tick_sizes.items():
            if tick <= 0:
                raise ValueError(f"NinjaTraderConfig.tick_sizes[{ours!r}] must be positive, got {tick}")

    @classmethod
    def from_env(cls, **overrides: Any) -> NinjaTraderConfig:
        """Folders under `$NINJATRADER_DIR`, account and instruments from the environment when set; keyword
        arguments win."""
        root = os.environ.get(DIR_ENV, "").strip()
        if root:
            overrides.setdefault("incoming_dir", Path(root) / "incoming")
            overrides.setdefault("outgoing_dir", Path(root) / "outgoing")
        if account := os.environ.get(ACCOUNT_ENV, "").strip():
            overrides.setdefault("account", account)
        if spec := os.environ.get(INSTRUMENTS_ENV, "").strip():
            pairs = [item.partition("=") for item in spec.split(",") if item.strip()]
            if any(not ours.strip() or not sep or not theirs.strip() for ours, sep, theirs in pairs):
                raise ValueError(f"{INSTRUMENTS_ENV}={spec!r} must look like 'ES=ES 12-26,NQ=NQ 12-26'")
            overrides.setdefault("instruments", {o.strip(): t.strip() for o, _, t in pairs})
        return cls(**overrides)

    @property
    def journal_dir(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.incoming_dir.parent / "traderbot-ati"

    def nt_instrument(self, instrument_id: str) -> str | None:
        return self.instruments.get(instrument_id.upper())

    def tick_size(self, instrument_id: str) -> Decimal | None:
        """The instrument's tick: configured, else from FUTURES_SPECS by root symbol, else None."""
        key = instrument_id.upper()
        if key in self.tick_sizes:
            return self.tick_sizes[key]
        spec = self._spec(key)
        return spec[0] if spec else None

    def point_value(self, instrument_id: str) -> Decimal:
        spec = self._spec(instrument_id.upper())
        return spec[1] if spec else Decimal(1)

    def _spec(self, key: str) -> tuple[Decimal, Decimal] | None:
        name = self.instruments.get(key, key)
        return FUTURES_SPECS.get(name.split()[0].upper()) if name.split() else None

    def check_folders(self) -> None:
        """Raise FolderMissing (one sentence: the path and the setting to change) for a missing folder."""
        for label, path, setting in (
            ("incoming", self.incoming_dir, "incoming_dir"),
            ("outgoing", self.outgoing_dir, "outgoing_dir"),
        ):
            if not path.is_dir():
                raise FolderMissing(
                    f"NinjaTrader's ATI {label} folder {path} does not exist: enable Tools > Options > "
                    f"Automated Trading Interface in NinjaTrader 8, or set NinjaTraderConfig.{setting} "
                    f"(or {DIR_ENV}) to the folder that holds it"
                )
