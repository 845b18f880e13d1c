"""The OANDA v20 fake's reference data and order validation (the documented reject reasons)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tests.fakes.oanda_fake_book import OandaBook

Reply = tuple[int, dict[str, Any]]


def _inst(
    kind: str, asset: str, pip: int, display: int, units: int, minimum: str, margin: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "pipLocation": pip,
        "displayPrecision": display,
        "tradeUnitsPrecision": units,
        "minimumTradeSize": minimum,
        "maximumOrderUnits": "100000000",
        "marginRate": margin,
        "tags": [{"type": "ASSET_CLASS", "name": asset}],
    }


INSTRUMENTS: dict[str, dict[str, Any]] = {
    name: {"name": name, "displayName": name.replace("_", "/"), **spec}
    for name, spec in {
        "EUR_USD": _inst("CURRENCY", "CURRENCY", -4, 5, 0, "1", "0.0333"),
        "GBP_USD": _inst("CURRENCY", "CURRENCY", -4, 5, 0, "1", "0.05"),
        "USD_JPY": _inst("CURRENCY", "CURRENCY", -2, 3, 0, "1", "0.04"),
        "XAU_USD": _inst("METAL", "METAL", -2, 3, 0, "1", "0.05"),
        "SPX500_USD": _inst("CFD", "INDEX", 0, 1, 1, "0.1", "0.05"),
    }.items()
}
PRICES = {
    "EUR_USD": ("1.08500", "1.08514"),
    "GBP_USD": ("1.27000", "1.27020"),
    "USD_JPY": ("150.100", "150.114"),
    "XAU_USD": ("2000.000", "2000.400"),
    "SPX500_USD": ("5000.0", "5000.5"),
}
ORDER_KINDS = ("MARKET", "LIMIT", "STOP", "MARKET_IF_TOUCHED")
MARKET_TIFS = ("FOK", "IOC")
PENDING_TIFS = ("GTC", "GTD", "GFD", "FOK", "IOC")


class Rejection(NamedTuple):
    """`kind` None: an invalid request (400 with errorMessage only); else a <kind>_ORDER_REJECT transaction."""

    status: int
    kind: str | None
    code: str
    message: str


def q(places: int) -> Decimal:
    return Decimal(1).scaleb(-int(places))


def units_of(order: dict[str, Any]) -> Decimal:
    return Decimal(order["units"])


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def _precise(value: Decimal, places: int) -> bool:
    return value == value.quantize(q(places))


def check_order(req: Any, book: OandaBook, *, replacing: dict[str, Any] | None = None) -> Rejection | None:
    """The first documented reason to refuse this OrderRequest, or None."""
    if not isinstance(req, dict) or req.get("type") not in ORDER_KINDS:
        return Rejection(400, None, "", "Invalid value specified for 'order.type'")
    kind = req["type"]
    spec = book.instruments.get(str(req.get("instrument")))
    if spec is None:
        return Rejection(400, None, "", "Invalid value specified for 'order.instrument'")
    units = decimal_or_none(req.get("units"))
    if units is None:
        return Rejection(400, None, "", "Invalid value specified for 'order.units'")
    if not _precise(units, spec["tradeUnitsPrecision"]):
        return Rejection(
            400,
            kind,
            "UNITS_PRECISION_EXCEEDED",
            "The units specified contain more precision than is allowed",
        )
    if abs(units) < Decimal(spec["minimumTradeSize"]):
        return Rejection(
            400,
            kind,
            "UNITS_MINIMUM_NOT_MET",
            "The Order units specified do not meet the minimum requirement",
        )
    tif = req.get("timeInForce", "FOK" if kind == "MARKET" else "GTC")
    if tif not in (MARKET_TIFS if kind == "MARKET" else PENDING_TIFS):
        return Rejection(
            400, kind, "TIME_IN_FORCE_INVALID", f"The time-in-force {tif} is invalid for this Order"
        )
    if kind != "MARKET":
        price = decimal_or_none(req.get("price"))
        if price is None or price <= 0:
            return Rejection(400, kind, "PRICE_MISSING", "The Order does not have a valid price specified")
        if not _precise(price, spec["displayPrecision"]):
            return Rejection(
                400,
                kind,
                "PRICE_PRECISION_EXCEEDED",
                "The price specified contains more precision than is allowed",
            )
    for key, code in (("stopLossOnFill", "STOP_LOSS_ON_FILL"), ("takeProfitOnFill", "TAKE_PROFIT_ON_FILL")):
        details = req.get(key)
        if details is None:
            continue
        price = decimal_or_none((details or {}).get("price"))
        if price is None or not _precise(price, spec["displayPrecision"]):
            return Rejection(
                400, kind, f"{code}_PRICE_PRECISION_EXCEEDED", f"The {key} price is missing or too precise"
            )
    client_id = (req.get("clientExtensions") or {}).get("id")
    taken = client_id and client_id in book.by_client_id
    if taken and (replacing is None or book.by_client_id[client_id] != replacing["id"]):
        return Rejection(
            400,
            kind,
            "CLIENT_ORDER_ID_ALREADY_EXISTS",
            "The client Order ID specified is already assigned to another Order",
        )
    return None
