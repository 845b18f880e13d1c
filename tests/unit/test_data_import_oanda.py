"""OANDA v20 candles importer."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from traderbot.data.importers import import_oanda
from traderbot.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_mid_candles_rfc3339_and_incomplete_skipped() -> None:
    df, report = import_oanda(FIXTURES / "oanda_eur_usd_m15.json")
    assert len(df) == 4
    assert df["ts"].iloc[1] == pd.Timestamp("2019-03-01 00:15", tz="UTC")
    assert df.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        1.1371,
        1.1376,
        1.137,
        1.13745,
        120,
    ]
    assert report.instrument == "EURUSD" and report.timeframe == "15m"
    assert report.missing_bars == 1  # 00:45 is absent
    assert any("skipped 1 incomplete candle" in n for n in report.notes)


@pytest.mark.parametrize(("price", "close"), [("bid", 1.3195), ("ask", 1.3197)])
def test_unix_times_and_price_component_choice(price: str, close: float) -> None:
    df, report = import_oanda(FIXTURES / "oanda_gbp_usd_h1_bidask_unix.json", price=price)
    assert df["ts"].tolist() == [
        pd.Timestamp("2019-03-01 00:00", tz="UTC"),
        pd.Timestamp("2019-03-01 01:00", tz="UTC"),
    ]
    assert df["close"].iloc[0] == close
    assert report.timeframe == "1h"


def test_missing_component_names_what_is_there() -> None:
    with pytest.raises(UserError, match=r"no 'mid' prices \(it has bid, ask\); choose one with --price"):
        import_oanda(FIXTURES / "oanda_gbp_usd_h1_bidask_unix.json")


def test_instrument_and_granularity_mismatches_are_refused() -> None:
    with pytest.raises(UserError, match="holds EUR_USD candles, not GBPUSD"):
        import_oanda(FIXTURES / "oanda_eur_usd_m15.json", instrument="GBPUSD")
    with pytest.raises(UserError, match="pass --timeframe 15m"):
        import_oanda(FIXTURES / "oanda_eur_usd_m15.json", timeframe="1h")


def test_pages_in_a_list_are_joined(tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "oanda_eur_usd_m15.json").read_text())
    later = json.loads(json.dumps(page))
    for c in later["candles"]:
        c["time"] = c["time"].replace("2019-03-01", "2019-03-04")
    f = tmp_path / "pages.json"
    f.write_text(json.dumps([page, later]))
    df, _ = import_oanda(f)
    assert len(df) == 8


def test_bad_candles_are_named(tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "oanda_eur_usd_m15.json").read_text())
    page["candles"][1]["mid"]["h"] = "x"
    page["candles"][2]["time"] = "yesterday"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(page))
    with pytest.raises(UserError) as err:
        import_oanda(f)
    assert "candle 2: mid prices" in str(err.value) and "candle 3: time 'yesterday'" in str(err.value)
    df, report = import_oanda(f, skip_bad_rows=True)
    assert len(df) == 2 and len(report.bad_rows) == 2


@pytest.mark.parametrize("text", ["{not json", '{"instrument": "EUR_USD"}', "[]"])
def test_not_a_candles_response(tmp_path: Path, text: str) -> None:
    f = tmp_path / "x.json"
    f.write_text(text)
    with pytest.raises(UserError, match=r"not valid JSON|not an OANDA candles response"):
        import_oanda(f)


def test_unknown_price_component() -> None:
    with pytest.raises(UserError, match="use mid, bid or ask"):
        import_oanda(FIXTURES / "oanda_eur_usd_m15.json", price="last")
