"""Objects one app owns beside its ApiContext (the trainer, the backtest runner), created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")
_LOCK = threading.Lock()


def app_local(request: Request, name: str, factory: Callable[[], T]) -> T:
    """`request.app.state.<name>`, made by `factory` the first time (once, whatever the threads)."""
    state = request.app.state
    with _LOCK:
        value: T | None = getattr(state, name, None)
        if value is None:
            value = factory()
            setattr(state, name, value)
    return value
