"""Account, positions and order sizing from ccxt balances, fills and positions.

- balance = the total of the quote currency (`CcxtConfig.quote_currency`, e.g. USDT); margin_available is its
  free part, margin_used the part locked in open orders.
- equity = balance + each watched spot market's base balance x its bid + derivatives' unrealised P&L.
- spot position = a watched market's non-zero base balance (free + locked); avg_price = the average cost of the
  account's most recent page of fills on that market (mapping.average_cost), 0 when no fill explains the
  coins (e.g. a deposit); unrealised P&L = (bid - avg_price) x quantity.
- derivatives positions: `fetch_positions` where the exchange has it (signed by side, sized by contract).
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from traderbot.brokers.base import BrokerAccount, BrokerPosition
from traderbot.brokers.ccxt.mapping import ZERO, average_cost, dec, to_broker_position
from traderbot.model.order import Order

if TYPE_CHECKING:
    from traderbot.brokers.ccxt.broker import CcxtBroker

log = logging.getLogger("traderbot.brokers.ccxt")


async def account(b: CcxtBroker) -> BrokerAccount:
    quote = b.config.quote_currency
    bal = await b.balance()
    total = dec(bal.get("total", {}).get(quote), ZERO) or ZERO
    equity = total + await _holdings_value(b, bal)
    equity += sum((p.unrealized_pnl for p in await contract_positions(b)), ZERO)
    return BrokerAccount(
        account_id=b.config.account_id or b.config.exchange_id,
        currency=quote,
        balance=total,
        equity=equity,
        margin_used=dec(bal.get("used", {}).get(quote), ZERO) or ZERO,
        margin_available=dec(bal.get("free", {}).get(quote), ZERO) or ZERO,
        ts=time.time_ns(),
    )


async def _holdings_value(b: CcxtBroker, bal: dict[str, Any]) -> Decimal:
    quote = b.config.quote_currency
    held = {s: q for s, q in spot_holdings(b, bal).items() if b.exchange.market(s)["quote"] == quote}
    if not held:
        return ZERO
    quotes = await b.quotes(list(held))
    for s in set(held) - set(quotes):
        log.warning("%s: no bid for %s; its holding is left out of equity", b.name, s)
    return sum((q * quotes[s][0] for s, q in held.items() if s in quotes), ZERO)


def spot_holdings(b: CcxtBroker, bal: dict[str, Any]) -> dict[str, Decimal]:
    """symbol -> base balance (free + locked) for the watched spot markets holding any."""
    out = {}
    for s in b.watched():
        market = b.exchange.market(s)
        qty = dec(bal.get("total", {}).get(market["base"]), ZERO) or ZERO
        if market.get("spot") and qty != 0 and market["base"] != b.config.quote_currency:
            out[s] = qty
    return out


async def positions(b: CcxtBroker) -> list[BrokerPosition]:
    out = await contract_positions(b)
    if not any(b.exchange.market(s).get("spot") for s in b.watched()):
        return out
    held = spot_holdings(b, await b.balance())
    quotes = await b.quotes(list(held)) if held else {}
    for symbol, qty in held.items():
        _, avg = average_cost(await b.symbol_fills(symbol, None))
        bid = quotes.get(symbol, (ZERO,))[0]
        pnl = (bid - avg) * qty if avg and bid else ZERO
        out.append(BrokerPosition(b.instrument_id(symbol), qty, avg, pnl))
    return out


async def contract_positions(b: CcxtBroker) -> list[BrokerPosition]:
    ex = b.exchange
    symbols = [s for s in b.watched() if ex.market(s).get("contract")]
    if not symbols or not ex.has.get("fetchPositions"):
        return []
    rows = await b.call(ex.fetch_positions(symbols), "fetching positions")
    found = (to_broker_position(p, b.instrument_id(str(p.get("symbol")))) for p in rows)
    return [p for p in found if p is not None]


async def order_quantity(b: CcxtBroker, order: Order, symbol: str) -> Decimal:
    """The order's quantity; an equity-fraction order is sized now: equity x fraction / price, down to lots.

    The price is the order's limit (or trigger) price, else the current ask.
    """
    if order.equity_fraction is None:
        return order.quantity
    price = order.price or order.trigger_price or (await b.quotes([symbol]))[symbol][1]
    equity = (await account(b)).equity
    step = dec(b.exchange.market(symbol)["precision"].get("amount")) or Decimal("0.00000001")
    return (equity * order.equity_fraction / price / step).to_integral_value(ROUND_DOWN) * step
