"""Bus messages as JSON: exact money, enums by value, nested messages, type names."""

from __future__ import annotations

import json
from decimal import Decimal as D

import numpy as np

from traderbot.core.jsonable import dumps, to_jsonable
from traderbot.core.messages import OrderFilled
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide
from traderbot.pairs.events import PairStateChanged, ParamsActivated
from traderbot.pairs.lifecycle import PairState


def test_a_fill_keeps_its_money_exact_and_names_its_type() -> None:
    f = OrderFilled("O1", "EURUSD", "S", 5, trade_id="T1", side="buy", quantity=D("10000"), price=D("1.10005"),
                    commission=D("0.10"))  # fmt: skip
    doc = json.loads(dumps(f))
    assert doc["type"] == "OrderFilled" and doc["price"] == "1.10005" and doc["quantity"] == "10000"


def test_dataclasses_enums_mappings_and_numpy_values_convert() -> None:
    e = PairStateChanged("EURUSD", PairState.READY, PairState.TRADING, "bob", "go", 7)
    doc = to_jsonable(e)
    assert doc["type"] == "PairStateChanged" and doc["previous"] == "ready" and doc["state"] == "trading"
    p = to_jsonable(ParamsActivated("EURUSD", 2, {"window": np.int64(9), "side": OrderSide.BUY}, 1))
    assert p["params"] == {"window": 9, "side": "buy"}
    bar = to_jsonable(Bar("EURUSD", "1m", 0, 60, 1.1, 1.2, 1.0, 1.15, float("nan")))
    assert bar["type"] == "Bar" and bar["close"] == 1.15 and bar["volume"] == "nan"
