"""What a training job's outcome does to its pair in the registry.

started -> `training`; succeeded -> the parameters are saved as a new version with their in-sample and
out-of-sample figures, and the pair becomes `ready` with that version active only when the promotion gate
passed, else `failed` with the gate's reasons; failed (after the last attempt) -> `failed` with the reason;
canceled -> back to `ready` if the pair has an active version, else `untrained`. A pair therefore never stays in
`training` once its job has ended, whatever ended it.
"""

from __future__ import annotations

from typing import Any

from traderbot.pairs.lifecycle import PairState
from traderbot.pairs.registry import PairRegistry
from traderbot.training.jobs import Job

ACTOR = "trainer"
METRIC_KEYS = ("out_of_sample", "in_sample_mean", "deflated_sharpe", "pbo", "quality", "oos_quality", "gate",
               "objective", "trials", "seconds")  # fmt: skip


class RegistryHooks:
    """TrainingHooks for the pair registry (see the module docstring)."""

    def __init__(self, registry: PairRegistry) -> None:
        self.registry = registry

    def on_started(self, pair: str, job: Job) -> None:
        rec = self.registry.find(pair)
        if rec is not None and rec.state is not PairState.TRAINING:
            self.registry.transition(
                pair, PairState.TRAINING, actor=ACTOR, reason=f"training job {job.id} started"
            )

    def on_succeeded(self, pair: str, job: Job, result: dict[str, Any]) -> None:
        if self.registry.find(pair) is None:
            return
        gate = result.get("gate") or {}
        params = result.get("params")
        if params is None or not gate.get("passed"):
            reasons = "; ".join(gate.get("reasons") or ["no parameters to deploy"])
            self._end(pair, PairState.FAILED, f"job {job.id}: promotion gate refused: {reasons}", result)
            return
        metrics = {k: result.get(k) for k in METRIC_KEYS}
        version = self.registry.save_params(
            pair, str(result.get("strategy", "qfh")), params, metrics, source=f"training job {job.id}"
        )
        self.registry.activate_params(
            pair, version, actor=ACTOR, reason=f"passed the promotion gate (job {job.id})"
        )
        self._end(pair, PairState.READY, f"job {job.id}: version {version} passed the promotion gate", result)

    def on_failed(self, pair: str, job: Job, reason: str) -> None:
        if self.registry.find(pair) is not None:
            self._end(pair, PairState.FAILED, f"job {job.id} failed: {reason}", None)

    def on_canceled(self, pair: str, job: Job) -> None:
        rec = self.registry.find(pair)
        if rec is None or rec.state is not PairState.TRAINING:
            return
        back = PairState.READY if rec.active_version is not None else PairState.UNTRAINED
        self.registry.transition(pair, back, actor=ACTOR, reason=f"training job {job.id} canceled")

    def _end(self, pair: str, state: PairState, reason: str, result: dict[str, Any] | None) -> None:
        rec = self.registry.find(pair)
        if rec is None:
            return
        if rec.state is not PairState.TRAINING:  # e.g. the job ran before the pair was marked: mark it now
            self.registry.transition(pair, PairState.TRAINING, actor=ACTOR, reason="training job ended")
        details = {"oos_quality": result.get("oos_quality")} if result else None
        self.registry.transition(pair, state, actor=ACTOR, reason=reason, details=details)
