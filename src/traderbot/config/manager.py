"""The running configuration: load, hot reload (diff, apply section by section, roll back), versions, rollback.

Each reload is all-or-nothing. The new file is validated in full; the changed sections are handed to their
appliers in a fixed order (schema.SECTIONS: service, account, broker, replay, cache, risk, training, pairs,
shutdown); if one applier raises, the sections already applied get their appliers again with (new, old) in
reverse order, and the previous configuration stays current. Every outcome except "unchanged" is stored as a
version: "applied (start)", "applied", "applied (rollback to version N)", "invalid: <reason>",
"refused: <field> needs a restart (nothing applied)", "rolled back: <section>: <reason>".

Decisions: an unchanged file stores no row (editors save without changes; the history stays readable). A change
to a restart-only field (service.mode, data_dir, database_url, trader_id) refuses the whole reload, since the
rest of the file was written together with it. A changed section with no applier registered is accepted (its
users read `manager.current`).
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from traderbot.config.diff import MASK, changed_sections, diff_configs, mask_text
from traderbot.config.loader import (
    ConfigError,
    LoadedConfig,
    parse_config,
    read_config,
    resolve_data_dir,
    resolve_database_url,
)
from traderbot.config.schema import RESTART_ONLY, SECTIONS, TraderbotConfig
from traderbot.errors import UserError
from traderbot.store.config_store import ConfigVersion, SqlConfigStore

log = logging.getLogger(__name__)

Applier = Callable[[Any, Any], None]


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did. `applied` is True when `config` (the manager's current one) is the new file."""

    outcome: str
    applied: bool
    config: TraderbotConfig
    diff: list[str] = field(default_factory=list)
    sections: tuple[str, ...] = ()
    version: int | None = None

    @property
    def changed(self) -> bool:
        return self.applied and bool(self.sections)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, UserError | ConfigError) else f"{type(exc).__name__}: {text}"


def _field(config: TraderbotConfig, dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    return getattr(config.section(section), name)


class ConfigManager:
    """Owns `current` (the last applied configuration) and the file at `path`; thread-safe."""

    def __init__(
        self, engine: Engine, path: str | Path, *, author_default: str | None = None,
        now_ns: Callable[[], int] = time.time_ns, env: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.store = SqlConfigStore(engine)
        self.author_default = author_default or getpass.getuser()
        self.now_ns = now_ns
        self.env = env  # None: os.environ at each load
        self._current: TraderbotConfig | None = None
        self._appliers: list[tuple[str, Applier]] = []
        self._lock = threading.RLock()

    @property
    def current(self) -> TraderbotConfig:
        if self._current is None:
            raise UserError("the configuration is not loaded yet: call start() first")
        return self._current

    @property
    def data_dir(self) -> Path:
        return resolve_data_dir(self.current, self.path)

    @property
    def database_url(self) -> str:
        return resolve_database_url(self.current, self.path)

    def register(self, section: str, applier: Applier) -> None:
        """Call `applier(old_section, new_section)` when `section` changes; it applies the change or raises.
        Several appliers of one section run in the order registered."""
        if section not in SECTIONS:
            raise KeyError(f"unknown config section {section!r}: sections are {', '.join(SECTIONS)}")
        self._appliers.append((section, applier))

    # ---- loading ----------------------------------------------------------------------------------------
    def start(self, author: str | None = None) -> TraderbotConfig:
        """Load and validate the file (ConfigError when invalid: a service must not start on a bad file), make
        it current and store it as a version; no applier is called."""
        with self._lock:
            loaded = read_config(self.path, self.env)
            previous = self._stored_config(self.store.last_applied())
            lines = diff_configs(previous, loaded.config) if previous is not None else []
            self._store(loaded.text, loaded.sha256, "applied (start)", True, lines, author)
            self._current = loaded.config
            return loaded.config

    def attach(self) -> TraderbotConfig:
        """Make current what a running service last applied (the newest applied version stored), else the
        file on disk; stores nothing. For tools that act beside the service (the CLI's diff and rollback)."""
        with self._lock:
            stored = self._stored_config(self.store.last_applied())
            self._current = stored if stored is not None else read_config(self.path, self.env).config
            return self._current

    def _stored_config(self, version: ConfigVersion | None) -> TraderbotConfig | None:
        if version is None:
            return None
        try:
            return parse_config(version.text, f"config version {version.version}", self.env)
        except ConfigError:
            return None

    # ---- reload -----------------------------------------------------------------------------------------
    def reload(self, author: str | None = None, *, note: str = "") -> ReloadResult:
        """Validate the file and apply what changed; never raises for a bad file (the outcome says why)."""
        with self._lock:
            old = self.current
            try:
                loaded = read_config(self.path, self.env)
            except ConfigError as exc:
                text, sha = self._raw()
                outcome = f"invalid: {exc}"
                return self._result(text, sha, outcome, False, [], author, old, ())
            new = loaded.config
            sections = tuple(changed_sections(old, new))
            if not sections:
                return ReloadResult("unchanged", False, old)
            lines = diff_configs(old, new)
            restart = [f for f in RESTART_ONLY if _field(old, f) != _field(new, f)]
            if restart:
                outcome = f"refused: {', '.join(restart)} needs a restart (nothing applied)"
                return self._result(loaded.text, loaded.sha256, outcome, False, lines, author, old, sections)
            failure = self._apply(old, new, sections)
            if failure is not None:
                return self._result(loaded.text, loaded.sha256, failure, False, lines, author, old, sections)
            self._current = new
            outcome = f"applied ({note})" if note else "applied"
            return self._result(loaded.text, loaded.sha256, outcome, True, lines, author, new, sections)

    def _apply(self, old: TraderbotConfig, new: TraderbotConfig, sections: tuple[str, ...]) -> str | None:
        """Run the appliers of the changed sections; on a failure undo the applied ones and return the
        outcome ("rolled back: ..."), else None."""
        done: list[tuple[str, Applier]] = []
        for section in sections:
            for name, fn in self._appliers:
                if name != section:
                    continue
                try:
                    fn(old.section(section), new.section(section))
                except Exception as exc:
                    log.warning("config: applying %s failed (%s); rolling back", section, _reason(exc))
                    undo_failed = self._undo(done, old, new)
                    return f"rolled back: {section}: {_reason(exc)}" + undo_failed
                done.append((section, fn))
        return None

    @staticmethod
    def _undo(done: list[tuple[str, Applier]], old: TraderbotConfig, new: TraderbotConfig) -> str:
        failed = []
        for section, fn in reversed(done):
            try:
                fn(new.section(section), old.section(section))
            except Exception as exc:  # keep undoing the others; report it in the outcome
                log.error("config: undoing %s failed: %s", section, _reason(exc))
                failed.append(f"{section}: {_reason(exc)}")
        return f" (undo failed for {'; '.join(failed)})" if failed else ""

    def _result(
        self, text: str, sha: str, outcome: str, applied: bool, lines: list[str], author: str | None,
        config: TraderbotConfig, sections: tuple[str, ...],
    ) -> ReloadResult:  # fmt: skip
        version = self._store(text, sha, outcome, applied, lines, author)
        return ReloadResult(outcome, applied, config, lines, sections, version)

    def _store(
        self, text: str, sha: str, outcome: str, applied: bool, lines: list[str], author: str | None
    ) -> int:
        return self.store.add(
            ts=self.now_ns(), author=author or self.author_default, outcome=outcome, applied=applied,
            diff=lines, text=mask_text(text), sha256=sha, path=str(self.path.resolve()),
        )  # fmt: skip

    def _raw(self) -> tuple[str, str]:
        import hashlib

        try:
            raw = self.path.read_bytes()
        except OSError:
            return "", ""
        return raw.decode("utf-8", errors="replace"), hashlib.sha256(raw).hexdigest()

    # ---- history, rollback, diff ------------------------------------------------------------------------
    def history(self, limit: int = 20) -> list[ConfigVersion]:
        """The newest `limit` stored versions, newest first."""
        return self.store.history(limit)

    def rollback(self, version: int, author: str | None = None) -> ReloadResult:
        """Write version `version`'s text back to the file (the current file kept as `<file>.bak`, the new one
        written atomically) and reload it."""
        with self._lock:
            v = self.store.get(version)
            if v is None:
                raise UserError(f"no config version {version}: `traderbot config history` lists them")
            if v.outcome.startswith("invalid"):
                raise UserError(f"config version {version} was invalid ({v.outcome}); pick a valid version")
            if f'"{MASK}"' in v.text or f":{MASK}@" in v.text:
                raise UserError(
                    f"config version {version} held secrets, which are never stored, so it cannot be written "
                    "back; edit the file by hand, and keep secrets in TRADERBOT__SECTION__KEY variables"
                )
            write_atomically(self.path, v.text, backup=True)
            return self.reload(author, note=f"rollback to version {version}")

    def diff_file(self) -> list[str]:
        """The file on disk against the current configuration, without applying (ConfigError if invalid)."""
        return diff_configs(self.current, self.read().config)

    def read(self) -> LoadedConfig:
        return read_config(self.path, self.env)


def write_atomically(path: Path, text: str, *, backup: bool = False) -> None:
    """Replace `path` with `text` in one step (temp file in the same folder + os.replace); with `backup`, the
    old file is first copied to `<file>.bak`."""
    if backup and path.is_file():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
