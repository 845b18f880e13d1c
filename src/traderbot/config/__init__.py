"""The configuration: one TOML file, its schema, environment overrides, hot reload, versions and rollback.

The service's entry points: `ConfigManager(engine, path)` with `register(section, applier)`, `start()`,
`reload()`, `rollback(version)`, `history()`, `diff_file()`; `watch(manager)` for reload on save;
`load_config(path)` for a one-off read. See docs/config.md.
"""

from traderbot.config.loader import ConfigError, load_config, resolve_data_dir, resolve_database_url
from traderbot.config.manager import ConfigManager, ReloadResult
from traderbot.config.schema import SECTIONS, TraderbotConfig, default_config

__all__ = [
    "SECTIONS",
    "ConfigError",
    "ConfigManager",
    "ReloadResult",
    "TraderbotConfig",
    "default_config",
    "load_config",
    "resolve_data_dir",
    "resolve_database_url",
]
