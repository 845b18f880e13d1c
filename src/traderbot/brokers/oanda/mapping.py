"""OANDA v20 objects <-> ours: instruments, candles, account, positions, trades and orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from traderbot.brokers.base import BrokerAccount, BrokerOrder, BrokerPosition, MalformedMessage
from traderbot.brokers.oanda.wire import SymbolMap, dec, opt_dec, parse_time, quantum, text
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from traderbot.model.instrument import INSTRUMENTS, AssetClass, Instrument
from traderbot.model.timeframe import Timeframe

ZERO = Decimal(0)
# our timeframes -> OANDA granularities (fixed-length ones only; W and M are calendar periods)
GRANULARITIES = {
    s: g
    for g, s in {
        "S5": 5, "S10": 10, "S15": 15, "S30": 30, "M1": 60, "M2": 120, "M4": 240, "M5": 300, "M10": 600,
        "M15": 900, "M30": 1800, "H1": 3600, "H2": 7200, "H3": 10800, "H4": 14400, "H6": 21600,
        "H8": 28800, "H12": 43200, "D": 86400,
    }.items()
}  # fmt: skip
_ASSET_CLASSES = {
    "CURRENCY": AssetClass.FX,
    "METAL": AssetClass.METAL,
    "INDEX": AssetClass.INDEX,
    "CRYPTOCURRENCY": AssetClass.CRYPTO,
}
_ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP": OrderType.STOP,
    "MARKET_IF_TOUCHED": OrderType.LIMIT,
    "TAKE_PROFIT": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP,
    "GUARANTEED_STOP_LOSS": OrderType.STOP,
    "TRAILING_STOP_LOSS": OrderType.TRAILING_STOP,
}
_TIFS = {"FOK": TimeInForce.FOK, "IOC": TimeInForce.IOC, "GFD": TimeInForce.DAY}
DEPENDENT_ORDER_TYPES = frozenset({"TAKE_PROFIT", "STOP_LOSS", "GUARANTEED_STOP_LOSS", "TRAILING_STOP_LOSS"})


@dataclass(frozen=True, slots=True)
class OandaInstrumentSpec:
    """The trading rules of one OANDA instrument, as the instruments endpoint documents them."""

    name: str
    type: str
    pip_location: int
    display_precision: int
    trade_units_precision: int
    minimum_trade_size: Decimal
    margin_rate: Decimal

    def format_price(self, price: Decimal) -> str:
        return str(price.quantize(quantum(self.display_precision)))


@dataclass(frozen=True, slots=True)
class OandaTrade:
    """An open trade (OANDA's unit of position): `quantity` is signed, `price` its open price."""

    trade_id: str
    instrument_id: str
    quantity: Decimal
    price: Decimal
    open_ts: int
    unrealized_pnl: Decimal
    client_trade_id: str = ""


def granularity(timeframe: str) -> tuple[str, Timeframe]:
    """Our timeframe ("M1", "H4", "D1", or "15m") -> OANDA granularity and its length."""
    tf = Timeframe.parse(timeframe)
    gran = GRANULARITIES.get(tf.seconds)
    if gran is None:
        known = ", ".join(GRANULARITIES.values())
        raise ValueError(f"timeframe {timeframe!r} has no OANDA granularity: use one of {known}")
    return gran, tf


def instrument_spec(raw: Mapping[str, Any]) -> OandaInstrumentSpec:
    name = text(raw, "name")
    try:
        return OandaInstrumentSpec(
            name=name,
            type=str(raw.get("type", "CURRENCY")),
            pip_location=int(raw["pipLocation"]),
            display_precision=int(raw["displayPrecision"]),
            trade_units_precision=int(raw["tradeUnitsPrecision"]),
            minimum_trade_size=dec(raw["minimumTradeSize"], f"{name}.minimumTradeSize"),
            margin_rate=dec(raw["marginRate"], f"{name}.marginRate"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedMessage(
            f"OANDA instrument {name} lacks or garbles a documented field ({exc})"
        ) from exc


def to_instrument(spec: OandaInstrumentSpec, instrument_id: str, tags: Any = None) -> Instrument:
    """Our Instrument from OANDA's rules: pip 10^pipLocation, tick 10^-displayPrecision, lot 10^-units precision."""
    asset = next(
        (
            _ASSET_CLASSES.get(str(t.get("name")), AssetClass.GENERIC)
            for t in (tags or [])
            if isinstance(t, dict) and t.get("type") == "ASSET_CLASS"
        ),
        _ASSET_CLASSES.get(spec.type, AssetClass.INDEX if spec.type == "CFD" else AssetClass.GENERIC),
    )
    base, _, quote = spec.name.partition("_")
    lot = quantum(spec.trade_units_precision)
    known = INSTRUMENTS.get(instrument_id)
    return Instrument(
        id=instrument_id,
        asset_class=asset,
        base=base,
        quote=quote or "USD",
        pip_size=Decimal(1).scaleb(spec.pip_location),
        tick_size=quantum(spec.display_precision),
        lot_size=lot,
        min_quantity=max(spec.minimum_trade_size, lot),
        price_precision=spec.display_precision,
        margin_rate=spec.margin_rate if ZERO < spec.margin_rate <= 1 else Decimal(1),
        calendar=known.calendar if known else "fx",
    )


def to_bar(candle: Mapping[str, Any], component: str, instrument_id: str, tf: Timeframe) -> Bar | None:
    """A complete candle -> Bar (ts = open time, ts_close = ts + timeframe); None while still forming."""
    if candle.get("complete") is not True:
        return None
    key = {"M": "mid", "B": "bid", "A": "ask"}[component]
    prices = candle.get(key)
    if not isinstance(prices, dict):
        raise MalformedMessage(f"OANDA candle at {candle.get('time')!r} has no {key!r} prices")
    ts = parse_time(candle.get("time"), "candle time")
    o, h, low, c = (dec(prices.get(k), f"candle {key}.{k}") for k in ("o", "h", "l", "c"))
    volume = dec(candle.get("volume", 0), "candle volume")
    return Bar(
        instrument_id, tf.name, ts, ts + tf.ns, float(o), float(h), float(low), float(c), float(volume)
    )


def to_account(raw: Mapping[str, Any], ts: int) -> BrokerAccount:
    return BrokerAccount(
        account_id=text(raw, "id"),
        currency=text(raw, "currency"),
        balance=dec(raw.get("balance"), "account.balance"),
        equity=dec(raw.get("NAV"), "account.NAV"),
        margin_used=dec(raw.get("marginUsed", "0"), "account.marginUsed"),
        margin_available=dec(raw.get("marginAvailable", "0"), "account.marginAvailable"),
        ts=ts,
    )


def to_position(raw: Mapping[str, Any], symbols: SymbolMap) -> BrokerPosition | None:
    """Net position: long.units + short.units (short units are negative); None when flat."""
    name = text(raw, "instrument")
    long, short = raw.get("long") or {}, raw.get("short") or {}
    long_units = dec(long.get("units", "0"), f"{name} long.units")
    short_units = dec(short.get("units", "0"), f"{name} short.units")
    net = long_units + short_units
    if net == 0:
        return None
    side = long if net > 0 else short
    return BrokerPosition(
        instrument_id=symbols.learn(name),
        quantity=net,
        avg_price=dec(side.get("averagePrice"), f"{name} averagePrice"),
        unrealized_pnl=dec(raw.get("unrealizedPL", "0"), f"{name} unrealizedPL"),
    )


def to_trade(raw: Mapping[str, Any], symbols: SymbolMap) -> OandaTrade:
    ext = raw.get("clientExtensions") or {}
    return OandaTrade(
        trade_id=text(raw, "id"),
        instrument_id=symbols.learn(text(raw, "instrument")),
        quantity=dec(raw.get("currentUnits"), "trade.currentUnits"),
        price=dec(raw.get("price"), "trade.price"),
        open_ts=parse_time(raw.get("openTime"), "trade.openTime"),
        unrealized_pnl=dec(raw.get("unrealizedPL", "0"), "trade.unrealizedPL"),
        client_trade_id=str(ext.get("id", "")),
    )


def to_order(
    raw: Mapping[str, Any],
    symbols: SymbolMap,
    *,
    filled: tuple[Decimal, Decimal | None] = (ZERO, None),
    reason: str = "",
    trade: OandaTrade | None = None,
) -> BrokerOrder:
    """An OANDA Order -> BrokerOrder. `filled` = (units filled, average price) from its ORDER_FILLs.

    Dependent orders (take profit, stop loss) carry no units or instrument: `trade` is the trade they close.
    """
    kind = text(raw, "type")
    units = opt_dec(raw.get("units"), "order.units")
    if units is None:
        units = -(trade.quantity if trade else ZERO)  # a dependent order closes its trade: the opposite side
    state = text(raw, "state")
    filled_qty, avg = filled
    status = {
        "PENDING": OrderStatus.PARTIALLY_FILLED if filled_qty > 0 else OrderStatus.ACCEPTED,
        "TRIGGERED": OrderStatus.TRIGGERED,
        "FILLED": OrderStatus.FILLED,
        "CANCELLED": OrderStatus.EXPIRED if reason == "TIME_IN_FORCE_EXPIRED" else OrderStatus.CANCELED,
    }.get(state)
    if status is None:
        raise MalformedMessage(f"OANDA order {raw.get('id')} has the unknown state {state!r}")
    price = opt_dec(raw.get("price"), "order.price")
    bound = opt_dec(raw.get("priceBound"), "order.priceBound")
    our_type = _ORDER_TYPES.get(kind, OrderType.MARKET)
    limit, trigger = price, None
    if our_type in (OrderType.STOP, OrderType.TRAILING_STOP):
        limit, trigger = bound, price
        if bound is not None and kind == "STOP":
            our_type = OrderType.STOP_LIMIT
    if kind == "MARKET":
        limit = None
    instrument = raw.get("instrument")
    return BrokerOrder(
        client_order_id=str((raw.get("clientExtensions") or {}).get("id", "")),
        venue_order_id=text(raw, "id"),
        instrument_id=symbols.learn(str(instrument))
        if instrument
        else (trade.instrument_id if trade else ""),
        side=OrderSide.BUY if units > 0 else OrderSide.SELL,
        type=our_type,
        quantity=abs(units),
        status=status,
        filled_qty=filled_qty,
        avg_price=avg,
        price=limit,
        trigger_price=trigger,
        time_in_force=_TIFS.get(str(raw.get("timeInForce")), TimeInForce.GTC),
        ts=parse_time(raw["createTime"], "order.createTime") if raw.get("createTime") else 0,
        reason=reason,
    )


def with_fill(order: BrokerOrder, qty: Decimal, price: Decimal | None, *, final: bool) -> BrokerOrder:
    """The ack after an immediate (partial) fill in the create response."""
    if qty >= order.quantity:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.CANCELED if final else OrderStatus.PARTIALLY_FILLED
    return replace(order, filled_qty=qty, avg_price=price, status=status)
