"""Our report types from ATI state: BrokerOrder from the journal, positions and connections from `outgoing`."""

from __future__ import annotations

import asyncio
import logging
import os
from decimal import Decimal

from traderbot.brokers.base import BrokerOrder, BrokerPosition
from traderbot.brokers.ninjatrader.config import FUTURES_SPECS, NinjaTraderConfig
from traderbot.brokers.ninjatrader.journal import Intent, Seen
from traderbot.brokers.ninjatrader.outgoing import (
    decode,
    match_instrument,
    parse_connection_state,
    parse_position,
    position_file_parts,
    read_bytes,
    read_settled,
)
from traderbot.brokers.ninjatrader.tracker import REJECT_REASON
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import AssetClass, Instrument

_log = logging.getLogger("traderbot.brokers.ninjatrader")


def broker_order(intent: Intent, seen: Seen | None, reason: str = "") -> BrokerOrder:
    """What traderbot sent plus the last state NinjaTrader reported (SUBMITTED when none yet)."""
    status = seen.status if seen else OrderStatus.SUBMITTED
    filled = seen.filled if seen else Decimal(0)
    return BrokerOrder(
        client_order_id=intent.client_order_id,
        venue_order_id=intent.nt_id,
        instrument_id=intent.instrument_id,
        side=intent.side,
        type=intent.type,
        quantity=intent.quantity,
        status=status,
        filled_qty=filled,
        avg_price=seen.avg_price if seen and filled > 0 else None,
        price=intent.price,
        trigger_price=intent.trigger_price,
        time_in_force=intent.tif,
        ts=seen.ts if seen else intent.ts,
        reason=REJECT_REASON if status is OrderStatus.REJECTED else reason,
    )


async def read_positions(cfg: NinjaTraderConfig) -> list[BrokerPosition]:
    """Non-flat positions of `cfg.account` in mapped instruments; MalformedMessage if a file never settles."""
    found: dict[str, str] = {}
    with os.scandir(cfg.outgoing_dir) as it:
        for entry in it:
            parts = position_file_parts(entry.name)
            if parts is None or parts[1].lower() != cfg.account.lower():
                continue
            ours = match_instrument(parts[0], cfg.instruments)
            if ours is None:
                _log.debug(
                    "position file %s is for an instrument not in NinjaTraderConfig.instruments", entry.name
                )
            elif ours not in found:
                found[ours] = entry.name
    reads = (
        read_settled(cfg.outgoing_dir / name, parse_position, cfg.settle_time) for name in found.values()
    )
    lines = await asyncio.gather(*reads)
    return [
        BrokerPosition(ours, line.quantity, line.avg_price)
        for ours, line in zip(found, lines, strict=True)
        if line is not None and line.quantity != 0
    ]


def read_connection_states(cfg: NinjaTraderConfig, order_files: set[str]) -> dict[str, bool]:
    """Connection state files (`<name>.txt` holding CONNECTED/DISCONNECTED): name -> connected."""
    states: dict[str, bool] = {}
    with os.scandir(cfg.outgoing_dir) as it:
        for entry in it:
            name = entry.name
            if not name.lower().endswith(".txt") or name.lower() in order_files or position_file_parts(name):
                continue
            raw = read_bytes(cfg.outgoing_dir / name)
            state = parse_connection_state(decode(raw)) if raw else None
            if state is not None:
                states[name[:-4]] = state
    return states


def build_instruments(cfg: NinjaTraderConfig) -> list[Instrument]:
    """Futures from `cfg.instruments` with a known tick size (margin unknown to ATI: reported as 1)."""
    out = []
    for ours, theirs in cfg.instruments.items():
        tick = cfg.tick_size(ours)
        if tick is None:
            _log.warning(
                "instrument %s (%s) has no known tick size: set NinjaTraderConfig.tick_sizes", ours, theirs
            )
            continue
        root = theirs.split()[0].upper()
        out.append(
            Instrument(
                id=ours,
                asset_class=AssetClass.FUTURE,
                base=root,
                quote=cfg.currency,
                pip_size=tick,
                tick_size=tick,
                lot_size=Decimal(1),
                min_quantity=Decimal(1),
                price_precision=max(0, -int(tick.normalize().as_tuple().exponent)),
                calendar="CMES" if root in FUTURES_SPECS else "24/7",
                multiplier=cfg.point_value(ours),
            )
        )
    return out
