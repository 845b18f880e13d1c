"""A fake NinjaTrader 8 ATI file interface: watches a real `incoming` folder, writes a real `outgoing` folder.

It speaks the documented format: each `oif*.txt` holds lines of 13 semicolon-separated fields
(COMMAND;ACCOUNT;INSTRUMENT;ACTION;QTY;ORDER TYPE;LIMIT PRICE;STOP PRICE;TIF;OCO ID;ORDER ID;STRATEGY;STRATEGY ID);
processed files are deleted; order state files `<ORDER ID>.txt` (`STATE;FILLED;AVG`) and position files
`<INSTRUMENT> <EXCHANGE>_<ACCOUNT>_Position.txt` (`LONG|SHORT|FLAT;QTY;AVG`) are overwritten in place, as
NinjaTrader does. A malformed or refused PLACE gets a REJECTED order file. Averages are written the way .NET
prints a double (15 significant digits).

Controls: pause()/resume() (NinjaTrader not processing), reject_next(), partial fills (`partial_fill_qty`,
then `fill_rest`), `chunk_pause` (every outgoing file written in two chunks with a pause between), set_price().
`place_counts` counts PLACE lines per ORDER ID; `malformed` keeps every line it could not accept.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ORDER_TYPES = {"MARKET", "LIMIT", "STOPMARKET", "STOPLIMIT"}
_US_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


class _Bad(Exception):
    pass


@dataclass
class FakeOrder:
    order_id: str
    account: str
    instrument: str
    action: str
    qty: int
    type: str
    limit: Decimal
    stop: Decimal
    tif: str
    oco: str
    state: str = "INITIALIZED"
    filled: int = 0
    cost: Decimal = Decimal(0)
    triggered: bool = False
    reported: bool = True  # NinjaTrader writes order state files only for orders given an ORDER ID

    @property
    def avg(self) -> Decimal:
        return self.cost / self.filled if self.filled else Decimal(0)

    @property
    def working(self) -> bool:
        return self.state in ("ACCEPTED", "WORKING", "PARTFILLED")


def dotnet_double(value: Decimal) -> str:
    return format(float(value), ".15g")


def _price(text: str) -> Decimal:
    if text == "":
        return Decimal(0)
    if not _US_DECIMAL.match(text):
        raise _Bad(f"price {text!r} is not in US decimal format")
    return Decimal(text)


class NinjaTraderFake:
    def __init__(
        self,
        root: Path,
        *,
        accounts: tuple[str, ...] = ("Sim101",),
        instruments: dict[str, str] | None = None,  # NinjaTrader name -> exchange
        price: Decimal = Decimal("5000.25"),
        poll: float = 0.002,
        connection: str = "Simulated Data Feed",
    ) -> None:
        self.incoming = root / "incoming"
        self.outgoing = root / "outgoing"
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.outgoing.mkdir(parents=True, exist_ok=True)
        self.accounts = set(accounts)
        self.exchanges = dict(instruments or {"ES 12-26": "Globex"})
        self.prices = {name: price for name in self.exchanges}
        self.connection = connection
        self.place_counts: Counter[str] = Counter()
        self.lines: list[str] = []
        self.malformed: list[str] = []
        self.processed_files: list[str] = []
        self.orders: dict[str, FakeOrder] = {}
        self.positions: dict[tuple[str, str], tuple[int, Decimal]] = {}
        self.partial_fill_qty: int | None = None
        self.chunk_pause = 0.0
        self._reject = 0
        self._poll = poll
        self._lock = threading.RLock()
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nt8-fake", daemon=True)

    # ---- lifecycle and controls ----------------------------------------------------------------------
    def start(self) -> NinjaTraderFake:
        self._write(self.outgoing / f"{self.connection}.txt", "CONNECTED")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> NinjaTraderFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def reject_next(self, n: int = 1) -> None:
        with self._lock:
            self._reject += n

    def set_price(self, instrument: str, price: Decimal) -> None:
        with self._lock:
            self.prices[instrument] = price
            for order in list(self.orders.values()):
                if order.instrument == instrument and order.working:
                    self._evaluate(order)

    def fill_rest(self, order_id: str, price: Decimal | None = None, qty: int | None = None) -> None:
        """Fill `qty` (default: all that remains) of a working order at `price` (default: the market)."""
        with self._lock:
            order = self.orders[order_id]
            qty = order.qty - order.filled if qty is None else qty
            self._fill(order, qty, price or self.prices[order.instrument])

    def state(self, order_id: str) -> str | None:
        with self._lock:
            order = self.orders.get(order_id)
            return order.state if order else None

    # ---- the watcher ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._paused.is_set():
                self._poll_once()
            self._stop.wait(self._poll)

    def _poll_once(self) -> None:
        names = sorted(n for n in os.listdir(self.incoming) if fnmatch.fnmatch(n.lower(), "oif*.txt"))
        for name in names:
            path = self.incoming / name
            try:
                text = path.read_text(encoding="utf-8")
                path.unlink()
            except OSError:
                continue
            self.processed_files.append(name)
            for line in text.splitlines():
                if line.strip():
                    with self._lock:
                        self._handle(line.strip())

    def _handle(self, line: str) -> None:
        self.lines.append(line)
        f = line.split(";")
        order_id = f[10] if len(f) == 13 else ""
        handlers = {
            "PLACE": self._place,
            "CANCEL": self._cancel,
            "CHANGE": self._change,
            "CLOSEPOSITION": self._close_position,
            "CANCELALLORDERS": lambda _: self._cancel_all(),
            "FLATTENEVERYTHING": lambda _: self._flatten_everything(),
        }
        try:
            if len(f) != 13 or f[0] not in handlers:
                raise _Bad("not 13 fields or an unknown command")
            handlers[f[0]](f)
        except _Bad:
            self.malformed.append(line)
            if f[0] == "PLACE" and order_id and order_id not in self.orders:
                self._write(self.outgoing / f"{order_id}.txt", "REJECTED;0;0")

    # ---- commands ------------------------------------------------------------------------------------
    def _place(self, f: list[str]) -> None:
        _, account, instrument, action, qty, otype, limit_s, stop_s, tif, oco, order_id = f[:11]
        if order_id:
            self.place_counts[order_id] += 1
            if order_id in self.orders:
                raise _Bad(f"duplicate ORDER ID {order_id}")
        limit, stop = _price(limit_s), _price(stop_s)
        if account not in self.accounts or instrument not in self.exchanges:
            raise _Bad("unknown account or instrument")
        if action not in ("BUY", "SELL") or not qty.isdigit() or int(qty) <= 0 or tif not in ("DAY", "GTC"):
            raise _Bad("bad action, quantity or time in force")
        if otype not in ORDER_TYPES:
            raise _Bad("bad order type")
        if (otype in ("LIMIT", "STOPLIMIT") and limit <= 0) or (otype.startswith("STOP") and stop <= 0):
            raise _Bad("missing price")
        key = order_id or f"NT{len(self.orders) + 1}"
        order = FakeOrder(key, account, instrument, action, int(qty), otype, limit, stop, tif, oco)
        order.reported = bool(order_id)
        order_id = key
        self.orders[order_id] = order
        if self._reject:
            self._reject -= 1
            self._set_state(order, "REJECTED")
            return
        self._set_state(order, "ACCEPTED")
        self._evaluate(order)

    def _cancel(self, f: list[str]) -> None:
        order = self.orders.get(f[10])
        if not f[10]:
            raise _Bad("CANCEL without ORDER ID")
        if order is not None and order.working:
            self._set_state(order, "CANCELPENDING")
            self._set_state(order, "CANCELLED")

    def _change(self, f: list[str]) -> None:
        order = self.orders.get(f[10])
        if not f[10] or not f[4].isdigit():
            raise _Bad("CHANGE without ORDER ID or with a bad quantity")
        qty, limit, stop = int(f[4]), _price(f[6]), _price(f[7])
        if order is None or not order.working:
            return
        self._set_state(order, "CHANGEPENDING")
        order.qty = qty or order.qty
        order.limit = limit or order.limit
        order.stop = stop or order.stop
        self._set_state(order, "PARTFILLED" if order.filled else "WORKING")
        self._evaluate(order)

    def _close_position(self, f: list[str]) -> None:
        account, instrument = f[1], f[2]
        name = next((n for n in self.exchanges if instrument in (n, f"{n} {self.exchanges[n]}")), None)
        if account not in self.accounts or name is None:
            raise _Bad("CLOSEPOSITION for an unknown account or instrument")
        for order in list(self.orders.values()):
            if order.account == account and order.instrument == name and order.working:
                self._set_state(order, "CANCELLED")
        qty, _ = self.positions.get((account, name), (0, Decimal(0)))
        if qty:
            self._move_position(account, name, -qty, self.prices[name])

    def _cancel_all(self) -> None:
        for order in list(self.orders.values()):
            if order.working:
                self._set_state(order, "CANCELLED")

    def _flatten_everything(self) -> None:
        self._cancel_all()
        for (account, name), (qty, _) in list(self.positions.items()):
            if qty:
                self._move_position(account, name, -qty, self.prices[name])

    # ---- matching ------------------------------------------------------------------------------------
    def _evaluate(self, order: FakeOrder) -> None:
        px = self.prices[order.instrument]
        buy = order.action == "BUY"
        if order.type.startswith("STOP") and not order.triggered:
            order.triggered = px >= order.stop if buy else px <= order.stop
        if order.type.startswith("STOP") and not order.triggered:
            marketable = False
        elif order.type in ("LIMIT", "STOPLIMIT"):
            marketable = px <= order.limit if buy else px >= order.limit
        else:
            marketable = True
        if not marketable:
            if order.state == "ACCEPTED":
                self._set_state(order, "WORKING")
            return
        qty = order.qty - order.filled
        if self.partial_fill_qty:
            qty = min(qty, self.partial_fill_qty)
        self._fill(order, qty, px)

    def _fill(self, order: FakeOrder, qty: int, price: Decimal) -> None:
        order.filled += qty
        order.cost += price * qty
        self._move_position(order.account, order.instrument, qty if order.action == "BUY" else -qty, price)
        self._set_state(order, "FILLED" if order.filled == order.qty else "PARTFILLED")

    def _move_position(self, account: str, name: str, delta: int, price: Decimal) -> None:
        old, avg = self.positions.get((account, name), (0, Decimal(0)))
        new = old + delta
        if old == 0 or (old > 0) == (delta > 0):
            avg = (avg * abs(old) + price * abs(delta)) / abs(new)
        elif abs(delta) > abs(old):
            avg = price  # flipped through flat
        if new == 0:
            avg = Decimal(0)
        self.positions[(account, name)] = (new, avg)
        side = "LONG" if new > 0 else "SHORT" if new < 0 else "FLAT"
        path = self.outgoing / f"{name} {self.exchanges[name]}_{account}_Position.txt"
        self._write(path, f"{side};{abs(new)};{dotnet_double(avg)}")

    def _set_state(self, order: FakeOrder, state: str) -> None:
        order.state = state
        if order.reported:
            self._write(
                self.outgoing / f"{order.order_id}.txt", f"{state};{order.filled};{dotnet_double(order.avg)}"
            )

    def _write(self, path: Path, text: str) -> None:
        """Overwrite in place (no rename), optionally in two chunks with a pause, as a slow writer would.

        The first chunk ends two characters into the last field, so what a reader can catch in between still
        parses ("FILLED;2;50") but is wrong: only a reader that waits for the file to settle gets it right.
        """
        data = text.encode("utf-8")
        with open(path, "wb") as fh:
            if self.chunk_pause:
                cut = min(len(data) - 1, data.rfind(b";") + 3)
                fh.write(data[:cut])
                fh.flush()
                time.sleep(self.chunk_pause)
                data = data[cut:]
            fh.write(data)
