"""`traderbot cache ...` through traderbot.cli.main, on tmp stores of real EURUSD minute bars."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from traderbot.cli import app, main
from traderbot.cli import cache as cache_cli
from traderbot.data import cache_manifest
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EURUSD = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"
AUGUST = "2023-08-16T12:00Z"
MAY = "2023-05-10T12:00Z"


@pytest.fixture(autouse=True)
def registered() -> None:
    from traderbot.cli import _register

    _register()
    if not any(g.name == "cache" for g in app.registered_groups):
        app.add_typer(cache_cli.app, name="cache")


def real(start: str, end: str) -> pd.DataFrame:
    if not EURUSD.is_file():
        pytest.fail(f"real data {EURUSD} is missing: mount the shared data next to the repository")
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    return pq.read_table(EURUSD, filters=[("ts", ">=", lo), ("ts", "<", hi)]).to_pandas()


def store_with(tmp_path: Path, start: str, end: str, name: str = "cache", record: bool = True) -> str:
    store = ParquetBarStore(tmp_path / name)
    path = store.write("EURUSD", "1m", real(start, end))
    if record:
        cache_manifest.record(path)
    return str(tmp_path / name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_json_of_a_complete_week_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_with(tmp_path, "2023-08-09 12:00", "2023-08-16 12:00")

    code, out, err = run(capsys, "cache", "status", "--store", store, "--now", AUGUST, "--json")

    assert code == 0, err
    (row,) = json.loads(out)
    assert row["instrument"] == "EURUSD" and row["valid"] is True and row["checksum"] == "ok"
    assert row["last_bar"] == "2023-08-16T11:59:00+00:00" and row["score"] > 95


def test_validate_exits_1_on_the_may_holes_after_printing_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_with(tmp_path, "2023-05-03", "2023-05-10 12:00")

    code, out, _ = run(capsys, "cache", "validate", "EURUSD", "--store", store, "--now", MAY)
    assert code == 1 and "EURUSD" in out and "NO" in out and "2023-05-03 13:00 .. 14:00" in out

    code, out, _ = run(capsys, "cache", "validate", "--store", store, "--now", MAY, "--json")
    (row,) = json.loads(out)
    assert code == 1 and row["valid"] is False and row["missing_bars"] > 1500


def test_validate_record_adds_the_missing_checksum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_with(tmp_path, "2023-08-09 12:00", "2023-08-16 12:00", record=False)

    code, out, _ = run(capsys, "cache", "validate", "--store", store, "--now", AUGUST, "--json")
    assert code == 0 and json.loads(out)[0]["checksum"] == "unrecorded"

    code, out, _ = run(capsys, "cache", "validate", "--record", "--store", store, "--now", AUGUST, "--json")
    assert code == 0 and json.loads(out)[0]["checksum"] == "ok"


def test_unknown_pair_and_pair_without_data_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_with(tmp_path, "2023-08-09 12:00", "2023-08-16 12:00")

    code, _, err = run(capsys, "cache", "validate", "EURUSX", "--store", store, "--now", AUGUST)
    assert code == 2 and err.startswith("error: unknown pair 'EURUSX'") and err.count("\n") == 1

    code, _, err = run(capsys, "cache", "status", "GBPUSD", "--store", store, "--now", AUGUST)
    assert code == 2 and "no 1m data for GBPUSD" in err and "traderbot cache refresh GBPUSD" in err


def test_repair_and_refresh_from_a_reference_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = store_with(tmp_path, "2023-08-01", "2023-08-20", name="reference")
    store = store_with(tmp_path, "2023-08-09 12:00", "2023-08-15 12:00")

    code, out, _ = run(capsys, "cache", "validate", "--store", store, "--now", AUGUST, "--json")
    assert code == 1

    args = ("--store", store, "--now", AUGUST, "--source", f"store:{reference}", "--json")
    code, out, err = run(capsys, "cache", "refresh", "EURUSD", *args)
    assert code == 0, err
    assert json.loads(out)[0]["appended"] == len(real("2023-08-15 12:00", "2023-08-16 12:00"))

    code, out, err = run(capsys, "cache", "repair", "EURUSD", *args)
    (result,) = json.loads(out)
    assert code == 0 and result["action"] == "none" and result["after"]["valid"] is True

    code, _, err = run(
        capsys, "cache", "repair", "EURUSD", "--store", store, "--source", "store:/nonexistent"
    )
    assert code == 2 and "no store folder" in err
