"""Instruments: what is traded and its contract rules (pip, tick, lot sizes, precision, margin, calendar)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

_QUANTUM = {p: Decimal(1).scaleb(-p) for p in range(0, 19)}


class AssetClass(StrEnum):
    FX = "fx"
    METAL = "metal"
    EQUITY = "equity"
    INDEX = "index"
    FUTURE = "future"
    CRYPTO = "crypto"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument. Quantities are in units of the base asset (shares, coins, currency units)."""

    id: str
    asset_class: AssetClass
    base: str
    quote: str
    pip_size: Decimal
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    price_precision: int
    margin_rate: Decimal = Decimal("1")
    calendar: str = "24/7"
    multiplier: Decimal = Decimal("1")

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.pip_size <= 0:
            raise ValueError(f"instrument {self.id}: tick and pip sizes must be positive")
        if self.lot_size < 0 or self.min_quantity < 0:
            raise ValueError(f"instrument {self.id}: lot size and minimum quantity must not be negative")
        if not (Decimal(0) < self.margin_rate <= Decimal(1)):
            raise ValueError(f"instrument {self.id}: margin rate must be in (0, 1]")

    def round_price(self, price: Decimal) -> Decimal:
        """Round a price to the instrument's tick size (half-even)."""
        return (price / self.tick_size).quantize(Decimal(1), ROUND_HALF_EVEN) * self.tick_size

    def round_quantity(self, qty: Decimal) -> Decimal:
        """Round a quantity down to whole lots (no rounding when lot size is 0, i.e. fractional)."""
        if self.lot_size == 0:
            return qty
        return (qty / self.lot_size).to_integral_value(ROUND_DOWN) * self.lot_size

    def price_to_decimal(self, price: float) -> Decimal:
        """Exact decimal of a float market price, rounded to the instrument's precision."""
        return Decimal(repr(price)).quantize(_QUANTUM[self.price_precision], ROUND_HALF_EVEN)

    def with_lot_size(self, lot_size: Decimal) -> Instrument:
        return replace(self, lot_size=lot_size, min_quantity=lot_size)


def _fx(pair: str, pip: str = "0.0001", precision: int = 5, margin: str = "0.0333") -> Instrument:
    pip_d = Decimal(pip)
    return Instrument(
        id=pair,
        asset_class=AssetClass.FX,
        base=pair[:3],
        quote=pair[3:],
        pip_size=pip_d,
        tick_size=Decimal(1).scaleb(-precision),
        lot_size=Decimal(1),
        min_quantity=Decimal(1),
        price_precision=precision,
        margin_rate=Decimal(margin),
        calendar="fx",
    )


def _metal(pair: str, pip: str, precision: int) -> Instrument:
    return replace(_fx(pair, pip, precision, "0.05"), asset_class=AssetClass.METAL)


def _equity(symbol: str, calendar: str = "XNYS") -> Instrument:
    return Instrument(
        id=symbol,
        asset_class=AssetClass.EQUITY,
        base=symbol,
        quote="USD",
        pip_size=Decimal("0.01"),
        tick_size=Decimal("0.01"),
        lot_size=Decimal(1),
        min_quantity=Decimal(1),
        price_precision=2,
        margin_rate=Decimal(1),
        calendar=calendar,
    )


def _cfd(symbol: str, base: str, quote: str, tick: str, precision: int, calendar: str) -> Instrument:
    return Instrument(
        id=symbol,
        asset_class=AssetClass.INDEX if base.endswith("IDX") else AssetClass.CRYPTO,
        base=base,
        quote=quote,
        pip_size=Decimal(tick),
        tick_size=Decimal(tick),
        lot_size=Decimal("0.01"),
        min_quantity=Decimal("0.01"),
        price_precision=precision,
        margin_rate=Decimal("0.05"),
        calendar=calendar,
    )


def _catalogue() -> dict[str, Instrument]:
    fx_majors = [
        "EURUSD",
        "GBPUSD",
        "AUDUSD",
        "NZDUSD",
        "USDCAD",
        "USDCHF",
        "EURGBP",
        "EURCAD",
        "EURNZD",
        "EURAUD",
        "EURCHF",
        "AUDCAD",
        "AUDCHF",
        "AUDNZD",
        "GBPAUD",
        "GBPCAD",
        "GBPCHF",
        "GBPNZD",
        "NZDCAD",
        "CADCHF",
    ]
    out: dict[str, Instrument] = {p: _fx(p) for p in fx_majors}
    for p in ["USDJPY", "EURJPY", "GBPJPY", "AUDJPY", "CADJPY", "CHFJPY", "NZDJPY"]:
        out[p] = _fx(p, "0.01", 3)
    out["USDHKD"] = _fx("USDHKD", "0.0001", 5)
    out["USDNOK"] = _fx("USDNOK", "0.0001", 5)
    out["XAUUSD"] = _metal("XAUUSD", "0.1", 3)
    out["XAGUSD"] = _metal("XAGUSD", "0.01", 4)
    for s in ["SPY", "AAPL", "IBM", "IWM", "GOOG", "QQQ", "NFLX", "TSLA", "MSFT"]:
        out[s] = _equity(s)
    out["USA500IDXUSD"] = _cfd("USA500IDXUSD", "USA500IDX", "USD", "0.001", 3, "XNYS")
    out["USATECHIDXUSD"] = _cfd("USATECHIDXUSD", "USATECHIDX", "USD", "0.001", 3, "XNYS")
    out["BTCUSD"] = _cfd("BTCUSD", "BTC", "USD", "0.01", 2, "24/7")
    out["BTCUSDT"] = Instrument(
        id="BTCUSDT",
        asset_class=AssetClass.CRYPTO,
        base="BTC",
        quote="USDT",
        pip_size=Decimal("0.1"),
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        price_precision=1,
        margin_rate=Decimal("0.01"),
        calendar="24/7",
    )
    out["ESZ13"] = Instrument(
        id="ESZ13",
        asset_class=AssetClass.FUTURE,
        base="ES",
        quote="USD",
        pip_size=Decimal("0.25"),
        tick_size=Decimal("0.25"),
        lot_size=Decimal(1),
        min_quantity=Decimal(1),
        price_precision=2,
        margin_rate=Decimal("0.06"),
        calendar="CMES",
        multiplier=Decimal(50),
    )
    return out


INSTRUMENTS: dict[str, Instrument] = _catalogue()


def get_instrument(instrument_id: str) -> Instrument:
    """Look up a known instrument by id (case-insensitive); a clear error lists what is known."""
    key = instrument_id.strip().upper().replace("/", "").replace("_", "")
    if key in INSTRUMENTS:
        return INSTRUMENTS[key]
    known = ", ".join(sorted(INSTRUMENTS))
    raise KeyError(f"unknown instrument {instrument_id!r}: known instruments are {known}")


def generic_instrument(
    symbol: str = "DATA", quote: str = "USD", lot_size: Decimal = Decimal(0), precision: int = 10
) -> Instrument:
    """An instrument for an arbitrary OHLCV file: fractional quantities unless a lot size is given."""
    return Instrument(
        id=symbol.upper(),
        asset_class=AssetClass.GENERIC,
        base=symbol.upper(),
        quote=quote,
        pip_size=Decimal(1).scaleb(-min(precision, 4)),
        tick_size=Decimal(1).scaleb(-precision),
        lot_size=lot_size,
        min_quantity=lot_size,
        price_precision=precision,
        margin_rate=Decimal(1),
        calendar="24/7",
    )
