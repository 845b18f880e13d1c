"""A training job that crashes, hangs or is canceled never leaves its pair in `training`: the pair's history
says why."""

from __future__ import annotations

from pathlib import Path

from traderbot.pairs import PairRegistry, PairState
from traderbot.store.db import open_engine, sqlite_url
from traderbot.training.manager import TrainingManager
from traderbot.training.registry_hooks import RegistryHooks

JOBS = "tests.training_jobs"


def setup(tmp_path: Path) -> tuple[PairRegistry, TrainingManager]:
    engine = open_engine(sqlite_url(tmp_path / "tb.db"))
    registry = PairRegistry(engine)
    for p in ("EURUSD", "GBPUSD", "USDJPY"):
        registry.add(p, actor="t", reason="t")
    mgr = TrainingManager(engine, workers=2, hooks=RegistryHooks(registry), backoff_base_s=0.01)
    return registry, mgr


def test_crashing_and_hanging_jobs_end_failed_with_the_reason_in_the_pairs_history(tmp_path: Path) -> None:
    registry, mgr = setup(tmp_path)
    with mgr:
        mgr.submit("EURUSD", f"{JOBS}:crash", {}, max_attempts=2)
        mgr.submit("GBPUSD", f"{JOBS}:hang", {}, timeout_s=1.0, max_attempts=1)
        mgr.run()
    for pair, words in (("EURUSD", "ValueError: bad params"), ("GBPUSD", "timed out after 1 s")):
        rec = registry.get(pair)
        assert rec.state is PairState.FAILED
        history = registry.history(pair)
        assert [e.state for e in history[-2:]] == [PairState.TRAINING, PairState.FAILED]
        assert words in history[-1].reason and history[-1].actor == "trainer"


def test_a_job_whose_result_fails_the_gate_leaves_the_pair_failed_with_the_gates_reasons(
    tmp_path: Path,
) -> None:
    registry, mgr = setup(tmp_path)
    with mgr:
        refused = {"passed": False, "reasons": ["hit rate 51.0 % does not beat the base rate 52.0 %"]}
        mgr.submit("USDJPY", f"{JOBS}:echo", {"result": {"params": {"window": 9}, "strategy": "qfh",
                                                           "gate": refused}})  # fmt: skip
        mgr.run()
    rec = registry.get("USDJPY")
    assert rec.state is PairState.FAILED and rec.active_version is None
    assert "does not beat the base rate" in registry.history("USDJPY")[-1].reason


def test_a_passing_result_saves_and_activates_a_version_and_the_pair_is_ready(tmp_path: Path) -> None:
    registry, mgr = setup(tmp_path)
    with mgr:
        mgr.submit("USDJPY", f"{JOBS}:echo", {"result": {"params": {"window": 9}, "strategy": "qfh",
                   "oos_quality": 64.0, "gate": {"passed": True, "reasons": []}}})  # fmt: skip
        mgr.run()
    rec = registry.get("USDJPY")
    assert rec.state is PairState.READY and rec.active_version == 1
    active = registry.active_params("USDJPY")
    assert active is not None and active.params == {"window": 9} and active.metrics["oos_quality"] == 64.0


def test_a_canceled_job_puts_the_pair_back_where_it_was(tmp_path: Path) -> None:
    registry, mgr = setup(tmp_path)
    with mgr:
        job = mgr.submit("EURUSD", f"{JOBS}:hang", {}, timeout_s=60)
        import threading

        threading.Timer(1.5, lambda: mgr.cancel(job.id, reason="wrong range")).start()
        mgr.run()
    assert registry.get("EURUSD").state is PairState.UNTRAINED
    assert "canceled" in registry.history("EURUSD")[-1].reason
