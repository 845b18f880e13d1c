"""`traderbot train PAIR...` end to end: jobs queued, run in worker processes, and the registry following them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traderbot.cli import main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "histdata_fx_m1"
SMALL = ["--data-dir", str(DATA), "--from", "2023-08-05", "--to", "2023-09-23", "--trials", "6",
         "--train-weeks", "3", "--min-trades", "5", "--space", "buy_threshold=0.5:0.6",
         "--space", "sell_threshold=0.5:0.6", "--space", "conf_min=0", "--space", "coh_min=0",
         "--space", "stab_min=0"]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'tb.db'}"
    code, _, err = run(capsys, "pairs", "add", "EURUSD", "GBPUSD", "--reason", "test", "--db", url)
    assert code == 0, err
    return url


def test_training_two_pairs_ends_each_ready_or_failed_with_the_reason(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "train", "EURUSD", "GBPUSD", *SMALL, "--db", db, "--json")
    assert code == 0, err
    rows = {r["pair"]: r for r in json.loads(out.strip().splitlines()[-1])}
    assert set(rows) == {"EURUSD", "GBPUSD"}
    for r in rows.values():
        assert r["state"] in ("ready", "failed") and r["reason"]  # never left in training
        assert (r["active_version"] is not None) == (r["state"] == "ready")
    code, out, _ = run(capsys, "pairs", "history", "EURUSD", "--db", db, "--json")
    states = [e["to"] for e in json.loads(out)]
    assert "training" in states and states[-1] in ("ready", "failed")
    code, out, _ = run(capsys, "train", "history", "EURUSD", "--db", db, "--json")
    runs = json.loads(out)
    assert runs and runs[-1]["status"] == "succeeded" and runs[-1]["out_of_sample"] is not None
    code, out, _ = run(capsys, "train", "status", "--db", db, "--json")
    assert json.loads(out)["running"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "USDJPY"], "unknown pair USDJPY"),
        (["train"], "name the pairs to train"),
        (["train", "EURUSD", "--data-dir", "/nonexistent"], "no 1m bars for EURUSD"),
        (["train", "EURUSD", "--space", "window=9:3"], "swap them"),
        (["train", "EURUSD", "--space", "window"], "is not name=low:high"),
        (["train", "EURUSD", "--objective", "luck"], "unknown objective"),
        (["train", "EURUSD", "--space", "bogus=1:2"], "unknown parameter"),
        (["train", "EURUSD", "--gate", "max_luck=1"], "unknown gate threshold"),
        (["train", "EURUSD", "--gate", "min_oos_trades=many"], "give a whole number"),
        (["train", "EURUSD", "--gate", "min_dsr"], "is not name=value"),
    ],
)
def test_bad_training_requests_queue_nothing_and_say_why(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    extra = [] if "--data-dir" in args else ["--data-dir", str(DATA)]
    code, _, err = run(capsys, *args, *extra, "--db", db)
    assert code == 2 and message in err, err
    code, out, _ = run(capsys, "train", "status", "--db", db, "--json")
    assert json.loads(out)["queued"] == []
