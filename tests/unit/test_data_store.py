"""ParquetBarStore: layout, merge/replace, filtered reads, metadata, atomic writes, layered stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import traderbot.data.store as store_mod
from traderbot.data.store import ParquetBarStore
from traderbot.data.stores import default_store, open_stores, user_store_dir
from traderbot.errors import UserError


def bars(start: str, n: int, step: str = "1min", base: float = 1.0) -> pd.DataFrame:
    ts = pd.date_range(start, periods=n, freq=step, tz="UTC").as_unit("ns")
    c = base + np.arange(n, dtype=float)
    return pd.DataFrame(
        {"ts": ts, "open": c, "high": c + 0.5, "low": c - 0.5, "close": c, "volume": np.ones(n)}
    )


def test_write_uses_instrument_and_canonical_timeframe_layout(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    path = store.write("eur_usd", "M15", bars("2024-01-01", 3, "15min"))
    assert path == tmp_path / "EURUSD" / "15m.parquet"
    assert pq.ParquetFile(path).metadata.row_group(0).column(1).compression == "ZSTD"
    assert store.has("EURUSD", "15m") and not store.has("EURUSD", "1h")


def test_read_round_trips_exact_values_and_ns_dtype(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    df = bars("2024-01-01", 100)
    store.write("EURUSD", "1m", df)
    out = store.read("EURUSD", "1m")
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(out, df)


def test_merge_keeps_old_rows_and_new_rows_win(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01 00:00", 10, base=1.0))
    store.write("EURUSD", "1m", bars("2024-01-01 00:05", 10, base=100.0))
    out = store.read("EURUSD", "1m")
    assert len(out) == 15
    assert out["close"].iloc[4] == 5.0  # old row kept
    assert out["close"].iloc[5] == 100.0  # new row won on the same stamp
    assert out["ts"].is_monotonic_increasing


def test_replace_drops_previous_rows(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01", 10))
    store.write("EURUSD", "1m", bars("2024-02-01", 3), mode="replace")
    assert len(store.read("EURUSD", "1m")) == 3


def test_read_filters_half_open_range(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01 00:00", 60))
    out = store.read("EURUSD", "1m", start="2024-01-01 00:10", end=pd.Timestamp("2024-01-01 00:20", tz="UTC"))
    assert len(out) == 10
    assert out["ts"].iloc[0] == pd.Timestamp("2024-01-01 00:10", tz="UTC")
    assert out["ts"].iloc[-1] == pd.Timestamp("2024-01-01 00:19", tz="UTC")


def test_read_empty_range_gives_empty_canonical_frame(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01", 5))
    out = store.read("EURUSD", "1m", start="2030-01-01")
    assert len(out) == 0 and str(out["ts"].dtype) == "datetime64[ns, UTC]"


def test_unknown_series_error_lists_what_is_stored(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01", 5))
    with pytest.raises(UserError, match=r"available: EURUSD 1m"):
        store.read("GBPUSD", "1m")


def test_list_reports_rows_span_and_size(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1h", bars("2024-01-01", 24, "1h"))
    store.write("EURUSD", "1m", bars("2024-01-01", 5))
    store.write("AAPL", "1d", bars("2024-01-01", 2, "1D"))
    entries = store.list()
    assert [(e.instrument, e.timeframe) for e in entries] == [
        ("AAPL", "1d"),
        ("EURUSD", "1m"),
        ("EURUSD", "1h"),
    ]
    hourly = entries[2]
    assert hourly.rows == 24 and hourly.size_bytes > 0
    assert hourly.first == pd.Timestamp("2024-01-01", tz="UTC")
    assert hourly.last == pd.Timestamp("2024-01-01 23:00", tz="UTC")


def test_list_ignores_files_the_store_did_not_name(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01", 5))
    bars("2024-01-01", 2).to_parquet(tmp_path / "EURUSD" / "notes.parquet")
    (tmp_path / "misc").mkdir()
    bars("2024-01-01", 2).to_parquet(tmp_path / "misc" / "1m.parquet")
    assert [(e.instrument, e.timeframe) for e in store.list()] == [("EURUSD", "1m")]


def test_provenance_history_is_kept_in_parquet_metadata(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    store.write("EURUSD", "1m", bars("2024-01-01", 5), provenance={"source_file": "a.csv"})
    path = store.write("EURUSD", "1m", bars("2024-01-02", 5), provenance={"source_file": "b.csv"})
    raw = pq.read_schema(path).metadata
    history = json.loads(raw[b"traderbot.history"])
    assert [h["source_file"] for h in history] == ["a.csv", "b.csv"]
    assert raw[b"traderbot.instrument"] == b"EURUSD" and raw[b"traderbot.timeframe"] == b"1m"
    assert store.history("EURUSD", "1m")[-1]["rows"] == 10


@pytest.mark.parametrize("target", ["os.replace", "write_table"])
def test_failed_write_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    store = ParquetBarStore(tmp_path)
    path = store.write("EURUSD", "1m", bars("2024-01-01", 10))
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if target == "os.replace":
        monkeypatch.setattr(store_mod.os, "replace", boom)
    else:
        monkeypatch.setattr(store_mod.pq, "write_table", boom)
    with pytest.raises(UserError, match="previous data is unchanged"):
        store.write("EURUSD", "1m", bars("2024-01-02", 10))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["1m.parquet"]  # no temp file left behind


def test_interrupt_during_write_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetBarStore(tmp_path)
    path = store.write("EURUSD", "1m", bars("2024-01-01", 10))
    before = path.read_bytes()

    def interrupted(table: object, where: object, **kwargs: object) -> None:
        where.write(b"PAR1 partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write("EURUSD", "1m", bars("2024-01-02", 10))
    assert path.read_bytes() == before
    assert len(list(path.parent.iterdir())) == 1


def test_written_file_follows_umask_not_private_tempfile_mode(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path = ParquetBarStore(tmp_path).write("EURUSD", "1m", bars("2024-01-01", 2))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0600 of mkstemp


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="read-only"):
        ParquetBarStore(tmp_path, read_only=True).write("EURUSD", "1m", bars("2024-01-01", 2))


@pytest.mark.parametrize("bad", ["../etc", "a\\..\\b", "", "EUR USD", ".hidden"])
def test_path_like_instrument_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UserError, match="not usable"):
        ParquetBarStore(tmp_path).path_for(bad, "1m")


def test_bad_timeframe_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown timeframe"):
        ParquetBarStore(tmp_path).read("EURUSD", "fortnight")


def test_user_store_location_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADERBOT_DATA_DIR", str(tmp_path / "mydata"))
    assert user_store_dir() == tmp_path / "mydata" / "store"
    assert default_store().root == tmp_path / "mydata" / "store"
    monkeypatch.delenv("TRADERBOT_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert user_store_dir() == tmp_path / "traderbot_data" / "store"


def test_layered_store_falls_back_to_sample_data(tmp_path: Path, sample_data_dir: Path) -> None:
    stores = open_stores(tmp_path)
    sample = stores.read("EURUSD", "15m")
    assert len(sample) > 6000
    stores.write("EURUSD", "15m", bars("2024-01-01", 4, "15min"))
    assert len(stores.read("EURUSD", "15m")) == 4  # the user store now shadows the sample
    sources = {(e.instrument, e.timeframe, e.source) for e in stores.list()}
    assert ("EURUSD", "15m", "user") in sources and ("EURUSD", "15m", "sample") in sources
    assert not any(p.suffix == ".parquet" and "2024" in p.name for p in sample_data_dir.rglob("*"))


def test_layered_store_error_suggests_resample_or_import(tmp_path: Path) -> None:
    stores = open_stores(tmp_path)
    with pytest.raises(UserError, match=r"traderbot data resample EURUSD --from 15m --to 1h"):
        stores.read("EURUSD", "1h")
    with pytest.raises(UserError, match=r"no 1m data for NOSUCH .*available: .*SPY 1d"):
        stores.read("NOSUCH", "1m")
    assert stores.missing_message("NOSUCH", "any").startswith("no any data for NOSUCH")
