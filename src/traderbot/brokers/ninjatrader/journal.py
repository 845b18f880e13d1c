"""traderbot's own record of what it sent through ATI and what it has already reported.

ATI's outgoing files say only `STATE;FILLED;AVG`: no side, quantity or price, and no fill history. So the
adapter appends one JSON line per event to `<state_dir>/<account>.jsonl` (fsynced): the intent before its OIF is
written, a `void` if the OIF could not be written, a requested change, and every state it has processed (with
the fill it derived). Because a processed state is recorded before its events are handed out, re-reading the
outgoing folder after a restart continues from the last recorded fill and never reports a fill twice.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from traderbot.brokers.base import BrokerFill
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce

_log = logging.getLogger("traderbot.brokers.ninjatrader")


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class Intent:
    """An order as traderbot sent it (updated when a requested change is confirmed)."""

    client_order_id: str
    nt_id: str
    instrument_id: str
    nt_instrument: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    tif: TimeInForce
    oif: str
    ts: int
    void: bool = False
    change: dict[str, Decimal | None] | None = None  # requested, not yet confirmed
    change_ts: int = 0


@dataclass(frozen=True, slots=True)
class Seen:
    """The last order state the adapter processed (and reported)."""

    state: str
    status: OrderStatus
    filled: Decimal
    avg_price: Decimal
    ts: int


class AtiJournal:
    """Append-only JSON lines; replayed into memory on `load()`."""

    def __init__(self, folder: Path, account: str) -> None:
        self.path = folder / f"{account}.jsonl"
        self.intents: dict[str, Intent] = {}
        self.by_nt_id: dict[str, str] = {}
        self.seen: dict[str, Seen] = {}
        self.fills: list[BrokerFill] = []

    def load(self) -> None:
        """Replay the file into memory (from scratch, so loading twice changes nothing)."""
        self.intents, self.by_nt_id, self.seen, self.fills = {}, {}, {}, []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    self._apply(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:  # a line cut short by a crash
                    _log.warning("ATI journal %s line %d is unreadable and skipped: %s", self.path, n, exc)

    # ---- writes (each one line, fsynced, then applied) ------------------------------------------------
    def add_intent(self, intent: Intent) -> None:
        rec = {
            "k": "intent",
            "id": intent.client_order_id,
            "nt_id": intent.nt_id,
            "instrument_id": intent.instrument_id,
            "nt_instrument": intent.nt_instrument,
            "side": intent.side.value,
            "type": intent.type.value,
            "qty": str(intent.quantity),
            "price": _str(intent.price),
            "trigger": _str(intent.trigger_price),
            "tif": intent.tif.value,
            "oif": intent.oif,
            "ts": intent.ts,
        }
        self._write(rec)

    def void(self, client_order_id: str) -> None:
        self._write({"k": "void", "id": client_order_id})

    def request_change(
        self,
        client_order_id: str,
        qty: Decimal | None,
        price: Decimal | None,
        trigger: Decimal | None,
        ts: int,
    ) -> None:
        rec = {"k": "change", "id": client_order_id, "qty": _str(qty), "price": _str(price)}
        self._write(rec | {"trigger": _str(trigger), "ts": ts})

    def record_seen(
        self, client_order_id: str, seen: Seen, fill: BrokerFill | None, change_applied: bool
    ) -> None:
        rec: dict[str, Any] = {
            "k": "seen",
            "id": client_order_id,
            "state": seen.state,
            "status": seen.status.value,
            "filled": str(seen.filled),
            "avg": str(seen.avg_price),
            "ts": seen.ts,
            "applied": change_applied,
        }
        if fill is not None:
            rec["fill"] = {"trade_id": fill.trade_id, "qty": str(fill.quantity), "price": str(fill.price)}
        self._write(rec)

    def _write(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(rec)

    # ---- replay ---------------------------------------------------------------------------------------
    def _apply(self, rec: dict[str, Any]) -> None:
        kind, cid = rec["k"], rec["id"]
        if kind == "intent":
            self.intents[cid] = Intent(
                client_order_id=cid,
                nt_id=rec["nt_id"],
                instrument_id=rec["instrument_id"],
                nt_instrument=rec["nt_instrument"],
                side=OrderSide(rec["side"]),
                type=OrderType(rec["type"]),
                quantity=Decimal(rec["qty"]),
                price=_dec(rec["price"]),
                trigger_price=_dec(rec["trigger"]),
                tif=TimeInForce(rec["tif"]),
                oif=rec["oif"],
                ts=int(rec["ts"]),
            )
            self.by_nt_id[rec["nt_id"]] = cid
            return
        intent = self.intents.get(cid)
        if intent is None:
            raise KeyError(f"record for unknown order {cid}")
        if kind == "void":
            intent.void = True
        elif kind == "change":  # all three None: the request was withdrawn (its OIF could not be written)
            change = {k: _dec(rec[k]) for k in ("qty", "price", "trigger")}
            intent.change = change if any(v is not None for v in change.values()) else None
            intent.change_ts = int(rec["ts"])
        elif kind == "seen":
            self._apply_seen(intent, rec)

    def _apply_seen(self, intent: Intent, rec: dict[str, Any]) -> None:
        ts = int(rec["ts"])
        status = OrderStatus(rec["status"])
        self.seen[intent.client_order_id] = Seen(
            rec["state"], status, Decimal(rec["filled"]), Decimal(rec["avg"]), ts
        )
        if rec.get("applied") and intent.change is not None:
            change, intent.change = intent.change, None
            intent.quantity = change["qty"] or intent.quantity
            intent.price = change["price"] or intent.price
            intent.trigger_price = change["trigger"] or intent.trigger_price
        fill = rec.get("fill")
        if fill:
            self.fills.append(
                BrokerFill(
                    trade_id=fill["trade_id"],
                    client_order_id=intent.client_order_id,
                    venue_order_id=intent.nt_id,
                    instrument_id=intent.instrument_id,
                    side=intent.side,
                    quantity=Decimal(fill["qty"]),
                    price=Decimal(fill["price"]),
                    ts=ts,
                )
            )
