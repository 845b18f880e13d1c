"""Hot reload on save: watch the config file's folder (editors often save by writing a temp file and renaming
it over the original, which a watch on the file itself would lose) and reload when the file changes.

Changes are debounced for 50 ms so one save (truncate + write, or write + rename) gives one reload; the
reload runs on the event loop's thread (appliers should only post commands to the kernel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from traderbot.config.manager import ConfigManager, ReloadResult

DEBOUNCE_MS = 50
STEP_MS = 10
AUTHOR = "file watcher"


async def watch(
    manager: ConfigManager,
    on_result: Callable[[ReloadResult], None] | None = None,
    *,
    stop_event: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Reload `manager` each time its file is saved, until cancelled or `stop_event` is set. `on_result` gets
    every reload's result (including "unchanged" and "invalid: ..."); `ready` is set once the watch is armed."""
    target = manager.path.resolve()

    def only_the_file(_change: Change, path: str) -> bool:
        return Path(path).name == target.name and Path(path).parent == target.parent

    watcher = awatch(
        target.parent,
        watch_filter=only_the_file,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop_event,
        recursive=False,
        yield_on_timeout=True,
        rust_timeout=200,
    )
    async for changes in watcher:
        if ready is not None and not ready.is_set():
            ready.set()
        if not changes or not target.exists():  # a timeout tick, or mid-rename: the next event brings it
            continue
        result = manager.reload(author=AUTHOR)
        if on_result is not None:
            on_result(result)
