"""Small job functions the training-manager tests run as workloads (imported by name in worker processes).

Each has the signature of a real training job, fn(payload, report) -> dict; files named in the payload let a
test see what happened inside the worker (order, timestamps, pids, attempt counts).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Report = Callable[[float, str], None]


def _append(path: str, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line + "\n")


def ok(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Report progress in `steps` steps and return {"value": payload value}; appends its name to `order`."""
    if "order" in payload:
        _append(payload["order"], payload["name"])
    steps = int(payload.get("steps", 3))
    for i in range(steps):
        time.sleep(float(payload.get("sleep", 0.02)))
        report((i + 1) / steps, f"step {i + 1} of {steps}")
    return {
        "value": payload.get("value", 1),
        "params": {"fast": 10, "slow": 30},
        "in_sample": {"sharpe": 1.5},
        "out_of_sample": {"sharpe": 0.9},
    }


def rendezvous(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Write a start stamp, wait (up to `wait_s`) until every peer has started too, then write an end stamp.

    Two jobs both return met=True only if they were running at the same time."""
    folder = Path(payload["dir"])
    start = time.time()
    (folder / f"{payload['name']}.start").write_text(repr(start))
    deadline = time.monotonic() + float(payload.get("wait_s", 20))
    peers = [folder / f"{p}.start" for p in payload["peers"]]
    while not all(p.exists() for p in peers) and time.monotonic() < deadline:
        time.sleep(0.01)
    met = all(p.exists() for p in peers)
    report(1.0, "met" if met else "alone")
    end = time.time()
    (folder / f"{payload['name']}.json").write_text(json.dumps({"start": start, "end": end, "met": met}))
    return {"met": met, "start": start, "end": end}


def crash(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    report(0.1, "about to fail")
    raise ValueError("bad params")


def hang(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Write the worker's pid to `pidfile` (one line per attempt), report once, then never return."""
    if "pidfile" in payload:
        _append(payload["pidfile"], str(os.getpid()))
    report(0.1, "hanging")
    while True:
        time.sleep(1)


def die(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    report(0.5, "about to exit")
    os._exit(3)


def flaky(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Fail the first attempt, succeed on the second; attempts are counted in the file `counter`."""
    counter = Path(payload["counter"])
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    if n < 2:
        raise RuntimeError(f"transient failure on attempt {n}")
    report(1.0, "done")
    return {"value": n}


def not_a_dict(payload: dict[str, Any], report: Report) -> Any:
    return [1, 2, 3]


def refuse(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Bad input, as the real training job refuses it (no data, an invalid space): retrying cannot help."""
    from traderbot.errors import UserError

    raise UserError("no 1m data for EURJPY in the store: import it first")


def echo(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Return the payload's "result" as the job's result (a training result of a chosen shape)."""
    report(1.0, "done")
    return dict(payload["result"])
