"""`NinjaTraderBroker`: the `Broker` protocol over NinjaTrader 8's Automated Trading Interface file interface.

Orders go out as Order Instruction Files (see `oif`), written atomically into NinjaTrader's `incoming` folder;
their states come back as Information Update Files in `outgoing` (see `outgoing`), which `tracker` turns into
order events. ATI is local and needs no credentials. What ATI files can and cannot provide:

- submit/cancel/replace, order(), open_orders(), fills(), positions(), transactions(): yes. After writing a
  PLACE, submit() waits up to `ack_timeout` for NinjaTrader's order state file; without one it raises
  BrokerTimeout (the OIF was written: look the order up, never resend blindly; a repeated submit() of the same
  client order id never writes a second PLACE). Fills are derived from changes of FILLED AMOUNT and AVERAGE FILL
  PRICE (exact formula in `tracker`); their timestamps are when traderbot saw them and commissions are 0,
  because ATI reports neither. REJECTED carries no reason in ATI.
- account(): ATI has no balances. It reports `NinjaTraderConfig.declared_balance` (equity = that balance: ATI
  has no prices, so unrealised P&L is unknown) or raises BrokerError(code="UNSUPPORTED").
- instruments(): built from the configured instrument names and tick sizes (`FUTURES_SPECS` or `tick_sizes`).
- candles(): read from NinjaTrader historical-data exports in `history_dir` (see `history`), else UNSUPPORTED.
- prices(): ATI carries no prices: raises BrokerError(code="UNSUPPORTED").
- extra: close_position(), cancel_all(), flatten_everything() write CLOSEPOSITION, CANCELALLORDERS and
  FLATTENEVERYTHING; connection_states() reads NinjaTrader's connection state files.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from traderbot.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerTimeout,
    PriceTick,
)
from traderbot.brokers.ninjatrader import checks, oif
from traderbot.brokers.ninjatrader.config import NinjaTraderConfig
from traderbot.brokers.ninjatrader.history import load_bars
from traderbot.brokers.ninjatrader.journal import AtiJournal, Intent, Seen
from traderbot.brokers.ninjatrader.reports import (
    broker_order,
    build_instruments,
    read_connection_states,
    read_positions,
)
from traderbot.brokers.ninjatrader.tracker import FINAL, REJECT_REASON, OrderTracker, TransactionStream
from traderbot.model.data import Bar
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

_log = logging.getLogger("traderbot.brokers.ninjatrader")
UNSUPPORTED = "UNSUPPORTED"


class NinjaTraderBroker:
    """One NinjaTrader account through ATI files; see the module docstring for what ATI can provide."""

    name = "ninjatrader"

    def __init__(self, config: NinjaTraderConfig | None = None) -> None:
        self.config = config if config is not None else NinjaTraderConfig.from_env()
        self._journal = AtiJournal(self.config.journal_dir, self.config.account)
        self._tracker = OrderTracker(self.config, self._journal)
        self._ready = False

    # ---- session ------------------------------------------------------------------------------------
    async def connect(self) -> None:
        self._ensure()
        for connection, up in (await self.connection_states()).items():
            _log.info("NinjaTrader connection %s is %s", connection, "CONNECTED" if up else "DISCONNECTED")

    def _ensure(self) -> None:
        if self._ready:
            return
        self.config.check_folders()
        self._journal.load()
        if removed := oif.remove_stale_temp_files(self.config.incoming_dir):
            _log.warning("removed %d half-written OIF temp files left by an earlier crash", removed)
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    # ---- what ATI cannot provide --------------------------------------------------------------------
    async def account(self) -> BrokerAccount:
        balance = self.config.declared_balance
        if balance is None:
            raise BrokerError(
                "NinjaTrader's ATI files carry no account balances: set NinjaTraderConfig.declared_balance to "
                f"the cash NinjaTrader's Accounts tab shows for {self.config.account}, or use a data source "
                "that reports it",
                code=UNSUPPORTED,
            )
        return BrokerAccount(self.config.account, self.config.currency, balance, balance, ts=time.time_ns())

    async def instruments(self) -> list[Instrument]:
        """The configured instruments with known tick sizes (ATI itself lists none)."""
        return build_instruments(self.config)

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        if self.config.history_dir is None:
            raise BrokerError(
                "NinjaTrader's ATI files carry no bars: set NinjaTraderConfig.history_dir to a folder of "
                "NinjaTrader historical-data exports",
                code=UNSUPPORTED,
            )
        name = checks.nt_instrument(self.config, instrument_id, "candles")
        folder, bar_end = self.config.history_dir, self.config.history_stamps_bar_end
        args = (folder, name, instrument_id.upper(), timeframe, start_ns, end_ns, bar_end)
        return await asyncio.to_thread(load_bars, *args)

    def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:
        raise BrokerError(
            "NinjaTrader's ATI files carry no prices: stream live prices from another data source",
            code=UNSUPPORTED,
        )

    # ---- orders -------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> BrokerOrder:
        self._ensure()
        try:
            return await self._submit(order)
        except BrokerError as exc:
            _log.warning("order %s not placed (%s): %s", order.client_order_id, exc.code, exc)
            raise

    async def _submit(self, order: Order) -> BrokerOrder:
        cid = order.client_order_id
        intent = self._journal.intents.get(cid)
        if intent is not None and not intent.void:
            _log.info(
                "order %s was already written (%s); waiting for its state, not resending it", cid, intent.oif
            )
        else:
            intent = self._intent(order, checks.check_order(self.config, order))
            try:
                self._journal.add_intent(intent)  # the intent is recorded before anything is sent
            except OSError as exc:
                msg = f"order {cid}: the ATI journal {self._journal.path} cannot be written: {exc}"
                raise BrokerRejected(msg, code="JOURNAL_WRITE_FAILED") from exc
            line = oif.place(
                self.config.account, intent.nt_instrument, order.side, order.quantity, order.type,
                limit_price=intent.price, stop_price=intent.trigger_price, tif=order.time_in_force,
                oco_id=oif.encode_order_id(order.oco_group or ""), order_id=intent.nt_id,
            )  # fmt: skip
            await self._write([line], intent.oif, void=cid)
        seen = await self._await_state(intent)
        if seen.status is OrderStatus.REJECTED:
            raise BrokerRejected(f"order {cid}: {REJECT_REASON}", code="REJECTED")
        return broker_order(intent, seen)

    def _intent(self, order: Order, nt_instrument: str) -> Intent:
        limit = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        stop = order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        return Intent(
            order.client_order_id, oif.encode_order_id(order.client_order_id), order.instrument_id.upper(),
            nt_instrument, order.side, order.type, order.quantity, order.price if limit else None,
            order.trigger_price if stop else None, order.time_in_force, oif.next_file_name(), time.time_ns(),
        )  # fmt: skip

    async def _write(self, lines: list[str], name: str | None = None, void: str | None = None) -> None:
        try:
            await asyncio.to_thread(oif.write_oif, self.config.incoming_dir, lines, name)
        except OSError as exc:  # the rename never happened: NinjaTrader saw nothing
            _log.error("could not write an OIF into %s: %s", self.config.incoming_dir, exc)
            if void is not None:
                self._journal.void(void)
            raise BrokerRejected(
                f"the instruction could not be written to {self.config.incoming_dir}: {exc}",
                code="OIF_WRITE_FAILED",
            ) from exc

    async def _await_state(self, intent: Intent) -> Seen:
        deadline = time.monotonic() + self.config.ack_timeout
        while True:
            self._tracker.scan()
            seen = self._journal.seen.get(intent.client_order_id)
            if seen is not None:
                return seen
            if time.monotonic() >= deadline:
                raise BrokerTimeout(
                    f"NinjaTrader did not report order {intent.client_order_id} within {self.config.ack_timeout}s "
                    f"(is it running with ATI enabled?); {intent.oif} was written, so look the order up before "
                    "sending it again"
                )
            await asyncio.sleep(min(self.config.poll_interval, self.config.settle_time))

    async def cancel(self, order: Order) -> None:
        self._ensure()
        intent = self._journal.intents.get(order.client_order_id)
        seen = self._journal.seen.get(order.client_order_id)
        if seen is not None and seen.status in FINAL:
            raise BrokerRejected(
                f"order {order.client_order_id} is already {seen.status.value}", code="ORDER_CLOSED"
            )
        nt_id = intent.nt_id if intent else oif.encode_order_id(order.client_order_id)
        await self._write([oif.cancel(nt_id)])

    async def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> BrokerOrder:
        self._ensure()
        cid = order.client_order_id
        intent = self._journal.intents.get(cid)
        if intent is None or intent.void:
            raise BrokerRejected(f"order {cid} was never sent through this ATI journal", code="UNKNOWN_ORDER")
        if intent.type is OrderType.MARKET:
            raise BrokerRejected(f"order {cid} is a market order: nothing to change", code="NOT_CHANGEABLE")
        seen = self._journal.seen.get(cid)
        if seen is not None and seen.status in FINAL:
            raise BrokerRejected(f"order {cid} is already {seen.status.value}", code="ORDER_CLOSED")
        if quantity is not None:
            checks.check_quantity(cid, quantity)
        if price is not None and intent.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            checks.check_price(self.config, cid, intent.instrument_id, price, "limit price", True)
        else:
            price = None
        if trigger_price is not None and intent.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            checks.check_price(self.config, cid, intent.instrument_id, trigger_price, "stop price", True)
        else:
            trigger_price = None
        self._journal.request_change(cid, quantity, price, trigger_price, time.time_ns())
        line = oif.change(intent.nt_id, quantity=quantity, limit_price=price, stop_price=trigger_price)
        try:
            await self._write([line])
        except BrokerError:
            self._journal.request_change(cid, None, None, None, time.time_ns())  # nothing pending after all
            raise
        current = broker_order(intent, self._journal.seen.get(cid))
        return BrokerOrder(
            current.client_order_id, current.venue_order_id, current.instrument_id, current.side, current.type,
            quantity or current.quantity, OrderStatus.PENDING_UPDATE, current.filled_qty, current.avg_price,
            price or current.price, trigger_price or current.trigger_price, current.time_in_force, time.time_ns(),
        )  # fmt: skip

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        self._ensure()
        intent = self._journal.intents.get(client_order_id)
        if intent is None or intent.void:
            nt_file = self.config.outgoing_dir / f"{oif.encode_order_id(client_order_id)}.txt"
            if nt_file.exists():
                raise BrokerError(
                    f"NinjaTrader knows order {client_order_id} but traderbot's ATI journal "
                    f"{self._journal.path} does not; was NinjaTraderConfig.state_dir changed?",
                    code="NOT_IN_JOURNAL",
                )
            return None
        await self._refresh()
        seen = self._journal.seen.get(client_order_id)
        if seen is None:
            where = "incoming" if (self.config.incoming_dir / intent.oif).exists() else "taken by NinjaTrader"
            return broker_order(intent, None, f"written ({where}); NinjaTrader has not reported it yet")
        lost = not (self.config.outgoing_dir / f"{intent.nt_id}.txt").exists()
        return broker_order(intent, seen, "last state seen; NinjaTrader no longer reports it" if lost else "")

    async def _refresh(self) -> None:
        """Process outgoing changes until every file has settled (bounded)."""
        deadline = time.monotonic() + 20 * self.config.settle_time + 1.0
        while self._tracker.scan() and time.monotonic() < deadline:
            await asyncio.sleep(self.config.settle_time / 2)

    async def open_orders(self) -> list[BrokerOrder]:
        self._ensure()
        await self._refresh()
        orders = [broker_order(i, self._journal.seen.get(i.client_order_id)) for i in self._tracker.live()]
        return [o for o in orders if o.is_open]

    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        self._ensure()
        await self._refresh()
        return sorted((f for f in self._journal.fills if f.ts >= since_ns), key=lambda f: f.ts)

    async def positions(self) -> list[BrokerPosition]:
        self._ensure()
        return await read_positions(self.config)

    def transactions(self) -> AsyncIterator[BrokerEvent]:
        self._ensure()
        return TransactionStream(self._tracker, self.config.poll_interval)

    # ---- extra ATI commands -------------------------------------------------------------------------
    async def close_position(self, instrument_id: str) -> None:
        """CLOSEPOSITION: NinjaTrader cancels the instrument's working orders and flattens its position."""
        self._ensure()
        name = checks.nt_instrument(self.config, instrument_id, "close_position")
        await self._write([oif.close_position(self.config.account, name)])

    async def cancel_all(self) -> None:
        """CANCELALLORDERS: every active order in every account and connection of NinjaTrader."""
        self._ensure()
        await self._write([oif.cancel_all_orders()])

    async def flatten_everything(self) -> None:
        """FLATTENEVERYTHING: cancel all orders and flatten all positions in every account."""
        self._ensure()
        await self._write([oif.flatten_everything()])

    async def connection_states(self) -> dict[str, bool]:
        """NinjaTrader's connection state files: connection name -> CONNECTED."""
        self._ensure()
        order_files = {f"{i.nt_id}.txt".lower() for i in self._journal.intents.values()}
        return read_connection_states(self.config, order_files)
