"""Checksum sidecars of cached files, and files corrupted on purpose (real EURUSD minute bars)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from traderbot.data import cache_manifest
from traderbot.data.cache_validate import validate
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EURUSD = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"
NOW = int(pd.Timestamp("2023-08-16 12:00", tz="UTC").value)


def real_window() -> pd.DataFrame:
    """The complete real week before NOW; fails (never skips) when the shared data is missing."""
    if not EURUSD.is_file():
        pytest.fail(f"real data {EURUSD} is missing: mount the shared data next to the repository")
    lo, hi = pd.Timestamp("2023-08-09 12:00", tz="UTC"), pd.Timestamp(NOW, tz="UTC")
    return pq.read_table(EURUSD, filters=[("ts", ">=", lo), ("ts", "<", hi)]).to_pandas()


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    store = ParquetBarStore(tmp_path / "store")
    path = store.write("EURUSD", "1m", real_window())
    cache_manifest.record(path)
    return path


def check(path: Path) -> tuple[bool, str, list[str]]:
    health = validate(path, "EURUSD", "1m", NOW)
    return health.valid, health.checksum, health.reasons


def test_record_writes_the_sha256_rows_and_span_next_to_the_file(recorded: Path) -> None:
    side = recorded.with_name("1m.parquet.sha256.json")
    raw = json.loads(side.read_text())

    assert raw["sha256"] == hashlib.sha256(recorded.read_bytes()).hexdigest()
    assert raw["rows"] == pq.read_metadata(recorded).num_rows == len(real_window())
    assert raw["first_ts_ns"] == int(pd.Timestamp("2023-08-09 12:00", tz="UTC").value)
    assert raw["last_ts_ns"] == int(pd.Timestamp("2023-08-16 11:59", tz="UTC").value)
    assert raw["written_ns"] > 0 and raw["size_bytes"] == recorded.stat().st_size
    assert [p.name for p in recorded.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert cache_manifest.check(recorded) == "ok" and check(recorded)[:2] == (True, "ok")


def test_a_missing_manifest_entry_is_a_warning_that_lowers_the_score(recorded: Path) -> None:
    scored = validate(recorded, "EURUSD", "1m", NOW).score
    cache_manifest.forget(recorded)

    health = validate(recorded, "EURUSD", "1m", NOW)

    assert health.valid and health.checksum == "unrecorded"
    assert "no checksum recorded (run traderbot cache validate --record)" in health.reasons
    assert health.score == pytest.approx(scored - 5.0)


def test_a_truncated_file_is_unreadable_and_corrupt(recorded: Path) -> None:
    data = recorded.read_bytes()
    recorded.write_bytes(data[: len(data) * 2 // 3])

    valid, checksum, reasons = check(recorded)

    assert not valid and checksum == "unreadable"
    assert any("cannot be read as Parquet" in r and "corrupt" in r for r in reasons)
    assert any("changed since the cache wrote it" in r for r in reasons)  # size differs from the record
    assert validate(recorded, "EURUSD", "1m", NOW).score == 0.0


def test_flipped_bytes_in_the_middle_are_a_checksum_mismatch(recorded: Path) -> None:
    data = bytearray(recorded.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])
    recorded.write_bytes(bytes(data))

    valid, checksum, reasons = check(recorded)

    assert not valid and checksum in ("mismatch", "unreadable")  # unreadable when zstd also notices
    assert any("changed since the cache wrote it (sha256 differs" in r for r in reasons)


def test_a_rewritten_close_without_a_new_manifest_is_a_mismatch(recorded: Path) -> None:
    df = pq.read_table(recorded).to_pandas()
    df.loc[1234, "close"] = df.loc[1234, "close"] + 0.0001  # high follows: only the checksum can tell
    df.loc[1234, "high"] = max(df.loc[1234, "high"], df.loc[1234, "close"])
    ParquetBarStore(recorded.parents[1]).write("EURUSD", "1m", df, mode="replace")

    valid, checksum, reasons = check(recorded)

    assert not valid and checksum == "mismatch"
    assert reasons[0].startswith("file 1m.parquet changed since the cache wrote it")
    assert not any("cannot be read" in r for r in reasons)


def test_fast_check_trusts_an_untouched_file_and_rehashes_a_touched_one(recorded: Path) -> None:
    assert cache_manifest.check(recorded, rehash=False) == "ok"
    data = bytearray(recorded.read_bytes())
    data[100] ^= 0x01
    recorded.write_bytes(bytes(data))  # same size, new mtime
    os.utime(recorded, ns=(recorded.stat().st_atime_ns, recorded.stat().st_mtime_ns + 1_000_000))

    assert cache_manifest.check(recorded, rehash=False) == "mismatch"


def test_a_garbled_sidecar_counts_as_unrecorded(recorded: Path) -> None:
    cache_manifest.sidecar_path(recorded).write_text("{not json")

    assert cache_manifest.load(recorded) is None and cache_manifest.check(recorded) == "unrecorded"
