"""Account state: a snapshot of what the account holds, in the account currency (exact Decimals)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Account:
    """Balance is cash after realised P&L, commissions and financing; equity adds unrealised P&L."""

    currency: str
    ts: int
    balance: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    margin_used: Decimal
    free_margin: Decimal
    commissions: Decimal
    financing: Decimal
