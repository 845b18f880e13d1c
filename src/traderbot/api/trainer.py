"""The API's trainer: the training queue run in the API process, as `traderbot train` runs it.

Jobs the API queues are rows in `training_jobs`, like the CLI's. A daemon thread runs a `TrainingManager` (its
jobs in spawned worker processes, never on the kernel's thread) until the queue is empty, then ends; the next
queued job starts it again. With `workers=0` nothing runs here: another trainer must run the queue."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from traderbot.pairs import PairRegistry

log = logging.getLogger("traderbot.api")


class ApiTrainer:
    def __init__(self, engine: Engine, trader_id: str, workers: int = 2) -> None:
        self.engine, self.trader_id, self.workers = engine, trader_id, workers
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def kick(self) -> bool:
        """Make sure the queue is run (after a job was queued); False when this API runs no trainer."""
        if self.workers < 1:
            return False
        with self._lock:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="traderbot-api-trainer", daemon=True)
                self._thread.start()
        return True

    def _serve(self) -> None:
        from traderbot.training.manager import TrainingManager
        from traderbot.training.registry_hooks import RegistryHooks

        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            hooks = RegistryHooks(PairRegistry(self.engine, self.trader_id))
            try:
                with TrainingManager(self.engine, workers=self.workers, hooks=hooks) as manager:
                    manager.run(until_idle=True)
            except Exception:  # the database away, a bug: logged; the next queued job starts it again
                log.exception("the API's training queue runner failed")
