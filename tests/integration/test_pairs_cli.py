"""`traderbot pairs ...` against a real SQLite database: listing, changes with who and why, history, and bad
input answered with exit code 2 and one line naming the problem and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.recent_cache import write_recent

from traderbot.cli import _register, app, main
from traderbot.cli import pairs as pairs_cli
from traderbot.pairs import PairRegistry, PairState
from traderbot.store.db import open_engine

_register()
if not any(g.name == "pairs" for g in app.registered_groups):  # until cli/__init__.py registers it
    app.add_typer(pairs_cli.app, name="pairs")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database, and a user store whose EURUSD bars end now (the trading guard validates the cache)."""
    monkeypatch.setenv("TRADERBOT_DATA_DIR", str(tmp_path / "data"))
    write_recent(tmp_path / "data" / "store")
    return f"sqlite:///{tmp_path / 'tb.db'}"


def _train(db: str, pair: str, oos: float) -> int:
    """What a training job does: training, a saved and activated version, then ready."""
    reg = PairRegistry(open_engine(db))
    reg.transition(pair, PairState.TRAINING, actor="trainer", reason="scheduled")
    v = reg.save_params(pair, "qfh", {"window": 20}, {"oos_quality": oos, "is_quality": 0.9}, source="job-7")
    reg.activate_params(pair, v, actor="trainer", reason="best walk-forward")
    reg.transition(pair, PairState.READY, actor="trainer", reason="trained")
    return v


def test_add_list_show_and_history(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, err = _run(capsys, "pairs", "add", "eur/usd", "GBPUSD", "--timeframe", "15m", "--reason", "new",
                          "--actor", "alice", "--db", db)  # fmt: skip
    assert code == 0, err
    assert "added EURUSD: untrained, enabled, 15m, qfh" in out and "added GBPUSD" in out
    _train(db, "EURUSD", 0.61)
    code, out, err = _run(capsys, "pairs", "--db", db)
    assert code == 0, err
    assert "2 pairs" in out
    eur = next(line for line in out.splitlines() if "EURUSD" in line)
    for cell in ("ready", "yes", "15m", "qfh", "v1", "0.61"):
        assert cell in eur
    gbp = next(line for line in out.splitlines() if "GBPUSD" in line)
    assert "untrained" in gbp and "never" in gbp

    pairs_cli.set_cache_health(lambda p: "ok" if p == "EURUSD" else "stale 3h")
    try:
        code, out, _ = _run(capsys, "pairs", "--json", "--db", db)
    finally:
        pairs_cli.set_cache_health(None)
    rows = {r["pair"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) == {"EURUSD", "GBPUSD"}
    e, g = rows["EURUSD"], rows["GBPUSD"]
    assert (e["state"], e["enabled"], e["timeframe"], e["active_version"], e["oos_quality"]) == (
        "ready", True, "15m", 1, 0.61)  # fmt: skip
    assert e["last_trained"] is not None and e["cache_health"] == "ok" and e["live_pnl"] is None
    assert (g["state"], g["last_trained"], g["oos_quality"], g["cache_health"]) == ("untrained", None, None,
                                                                                  "stale 3h")  # fmt: skip

    code, out, _ = _run(capsys, "pairs", "show", "eurusd", "--json", "--db", db)
    shown = json.loads(out)
    assert code == 0 and shown["pair"] == "EURUSD" and shown["active_params"]["params"] == {"window": 20}
    assert [(v["version"], v["active"], v["source"]) for v in shown["versions"]] == [(1, True, "job-7")]
    code, out, _ = _run(capsys, "pairs", "show", "EURUSD", "--db", db)
    assert code == 0 and 'active parameters: v1 {"window": 20}' in out and "job-7" in out

    code, out, _ = _run(capsys, "pairs", "history", "EURUSD", "--json", "--db", db)
    events = json.loads(out)
    assert code == 0
    assert [ev["event"] for ev in events] == ["added", "transition", "params_saved", "params_activated",
                                              "transition"]  # fmt: skip
    assert (events[0]["actor"], events[0]["reason"], events[-1]["from"], events[-1]["to"]) == (
        "alice", "new", "training", "ready")  # fmt: skip
    code, out, _ = _run(capsys, "pairs", "history", "EURUSD", "--limit", "2", "--db", db)
    assert code == 0 and "2 changes" in out and "best walk-forward" in out and "scheduled" not in out


def test_enable_disable_start_stop_activate_and_remove(capsys: pytest.CaptureFixture[str], db: str) -> None:
    assert _run(capsys, "pairs", "add", "EURUSD", "--reason", "r", "--db", db)[0] == 0
    _train(db, "EURUSD", 0.5)
    code, out, err = _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--actor", "bob", "--db", db)
    assert code == 0 and "EURUSD: trading, enabled" in out, err
    code, out, _ = _run(capsys, "pairs", "disable", "EURUSD", "--reason", "news at 14:30", "--db", db)
    assert code == 0 and "EURUSD: ready, disabled" in out
    code, out, _ = _run(capsys, "pairs", "disable", "EURUSD", "--reason", "again", "--db", db)
    assert code == 0 and "(unchanged)" in out
    code, _, err = _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--db", db)
    assert code == 2 and err.startswith("error: EURUSD cannot start trading: it is disabled")
    code, out, _ = _run(capsys, "pairs", "enable", "EURUSD", "--reason", "news over", "--db", db)
    assert code == 0 and "EURUSD: ready, enabled" in out
    reg = PairRegistry(open_engine(db))
    reg.save_params("EURUSD", "qfh", {"window": 40}, {}, source="manual")
    code, out, _ = _run(capsys, "pairs", "activate", "EURUSD", "2", "--reason", "wider window", "--db", db)
    assert code == 0 and "EURUSD: parameter version 2 active" in out
    assert _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--db", db)[0] == 0
    code, out, _ = _run(capsys, "pairs", "stop", "EURUSD", "--reason", "end of week", "--db", db)
    assert code == 0 and "EURUSD: ready" in out
    code, out, _ = _run(capsys, "pairs", "remove", "EURUSD", "--reason", "done", "--db", db)
    assert code == 0 and "removed EURUSD" in out
    assert json.loads(_run(capsys, "pairs", "--json", "--db", db)[1]) == []
    code, out, _ = _run(capsys, "pairs", "history", "EURUSD", "--json", "--db", db)
    kinds = [ev["event"] for ev in json.loads(out)]
    assert (
        code == 0 and kinds[-1] == "removed" and kinds.count("disabled") == 1 and kinds.count("enabled") == 1
    )


def test_bad_input_is_one_line_with_the_fix_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert _run(capsys, "pairs", "add", "EURUSD", "--reason", "r", "--db", db)[0] == 0
    cases = [
        (("pairs", "show", "USDJPY"), "error: unknown pair USDJPY: add it with traderbot pairs add USDJPY"),
        (("pairs", "enable", "USDJPY", "--reason", "r"), "error: unknown pair USDJPY"),
        (("pairs", "history", "USDJPY"), "error: unknown pair USDJPY"),
        (("pairs", "add", "EURUSD", "--reason", "r"),
         "error: pair EURUSD is already registered (untrained): see traderbot pairs show EURUSD"),
        (("pairs", "add", "GBPUSD", "XXXYYY", "--reason", "r"), "error: cannot add pair XXXYYY: unknown instrument"),
        (("pairs", "add", "GBPUSD", "gbp/usd", "--reason", "r"), "error: pair GBPUSD is given more than once"),
        (("pairs", "add", "GBPUSD", "--timeframe", "7q", "--reason", "r"), "unknown timeframe '7q'"),
        (("pairs", "start", "EURUSD", "--reason", "r"),
         "error: EURUSD cannot go from untrained to trading: train it first (traderbot train EURUSD)"),
        (("pairs", "activate", "EURUSD", "3", "--reason", "r"), "error: EURUSD has no parameter version 3"),
        (("pairs", "disable", "EURUSD", "--reason", " "), "error: a pair change needs why: add --reason TEXT"),
        (("pairs", "disable", "EURUSD", "--actor", " ", "--reason", "r"), "needs who (--actor) and why"),
    ]  # fmt: skip
    for args, expected in cases:
        code, _, err = _run(capsys, *args, "--db", db)
        assert code == 2, (args, err)
        assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
    # nothing of a refused `add` was written, even the valid GBPUSD given beside the bad name
    assert [r["pair"] for r in json.loads(_run(capsys, "pairs", "--json", "--db", db)[1])] == ["EURUSD"]


def test_remove_while_trading_is_refused_and_changes_need_a_reason(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert _run(capsys, "pairs", "add", "EURUSD", "--reason", "r", "--db", db)[0] == 0
    _train(db, "EURUSD", 0.5)
    assert _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--db", db)[0] == 0
    code, _, err = _run(capsys, "pairs", "remove", "EURUSD", "--reason", "r", "--db", db)
    assert code == 2
    assert err.strip() == ("error: EURUSD cannot be removed while trading: stop it first "
                           "(traderbot pairs stop EURUSD)")  # fmt: skip
    assert PairRegistry(open_engine(db)).get("EURUSD").state == PairState.TRADING
    for args in (("enable", "EURUSD"), ("remove", "EURUSD"), ("add", "GBPUSD"), ("activate", "EURUSD", "1")):
        code, _, err = _run(capsys, "pairs", *args, "--db", db)
        assert (
            code == 2
            and err
            == "error: a pair change needs why: add --reason TEXT (it is stored in the pair's history)\n"
        ), args


def test_start_is_refused_while_a_stored_risk_lock_holds_the_pair(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert _run(capsys, "pairs", "add", "EURUSD", "--reason", "r", "--db", db)[0] == 0
    _train(db, "EURUSD", 0.5)
    assert _run(capsys, "risk", "lock", "pair:EURUSD", "halted", "--minutes", "30", "--reason", "NFP",
                "--db", db)[0] == 0  # fmt: skip
    code, _, err = _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--db", db)
    assert code == 2 and "a risk lock holds it" in err and "NFP" in err


def test_start_is_refused_while_the_pairs_cache_is_invalid(capsys: pytest.CaptureFixture[str], db: str,
                                                          tmp_path: Path) -> None:  # fmt: skip
    assert _run(capsys, "pairs", "add", "GBPUSD", "--reason", "r", "--db", db)[0] == 0
    _train(db, "GBPUSD", 0.7)  # ready, but no GBPUSD bars in the store
    code, _, err = _run(capsys, "pairs", "start", "GBPUSD", "--reason", "go", "--db", db)
    assert code == 2 and "GBPUSD" in err and "cache" in err.lower(), err
    code, out, _ = _run(capsys, "pairs", "--db", db, "--json")
    health = {r["pair"]: r["cache_health"] for r in json.loads(out)}
    assert health["GBPUSD"] == "no data" and health.get("EURUSD", "ok").startswith("ok")


def test_a_trading_pair_whose_cache_goes_bad_is_stopped_by_cache_validate(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    assert _run(capsys, "pairs", "add", "EURUSD", "--reason", "r", "--db", db)[0] == 0
    _train(db, "EURUSD", 0.7)
    assert _run(capsys, "pairs", "start", "EURUSD", "--reason", "go", "--db", db)[0] == 0
    store = tmp_path / "data" / "store"
    code, _, _ = _run(capsys, "cache", "validate", "EURUSD", "--store", str(store), "--db", db)
    assert code == 0 and PairRegistry(open_engine(db)).get("EURUSD").state is PairState.TRADING
    path = store / "EURUSD" / "1m.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # garbled in the middle
    path.write_bytes(bytes(data))
    code, _, err = _run(capsys, "cache", "validate", "EURUSD", "--store", str(store), "--db", db)
    assert code == 1 and "EURUSD: stopped trading" in err
    rec = PairRegistry(open_engine(db)).get("EURUSD")
    assert rec.state is PairState.READY
    last = PairRegistry(open_engine(db)).history("EURUSD", limit=1)[-1]
    assert last.actor == "cache" and "cache invalid" in last.reason
