"""Helpers for tests that run the trading service: on an event loop (wait for a condition, run a body) or as a
`traderbot run` process (read its output until a line appears)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Awaitable, Callable

from traderbot.service.service import TradingService


async def until(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.01)


def run_service(service: TradingService, body: Callable[[], Awaitable[None]]) -> None:
    """Start the service, run `body` once it has started, then stop it and wait for its clean shutdown."""

    async def main() -> None:
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 10)
            await body()
        finally:
            service.stop()
            await task

    asyncio.run(main())


def lines_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> list[str]:
    """The process's output lines up to and including the first matching `pattern`; fails with what it printed."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(
        f"no line matching {pattern!r}; got {lines}; stderr: {proc.stderr and proc.stderr.read()}"
    )
