"""The configuration file as the service's settings, and its hot reload applied to the running service.

`settings_from_config` maps the validated `TraderbotConfig` to `ServiceSettings` (a pair with `params` pins them;
a pair without trades only with a trained version). `attach` registers one applier per section that can change
while the service runs: pairs (added, removed, enabled, disabled, re-tuned, as with the CLI), risk (the whole
risk configuration swapped at once), replay (speed, exit at end), cache (thresholds, refresh schedule),
shutdown and alerts (rules, thresholds and notifiers replaced at once). A change to the account needs a
restart and is refused, which rolls the reload back (the ConfigManager keeps the previous version).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traderbot.config import ConfigManager, TraderbotConfig, load_config
from traderbot.config.loader import resolve_data_dir, resolve_database_url
from traderbot.errors import UserError
from traderbot.service.pairs_sync import sync_config_pairs
from traderbot.service.settings import PairSpec, ServiceSettings

if TYPE_CHECKING:
    from traderbot.service.service import TradingService


def pair_specs(config: TraderbotConfig) -> tuple[PairSpec, ...]:
    return tuple(PairSpec(p.id, p.timeframe, p.strategy, dict(p.params) or None, p.sizing, p.enabled)
                 for p in config.pairs)  # fmt: skip


def settings_from_config(config: TraderbotConfig, path: Path) -> ServiceSettings:
    s = config.service
    database_url = resolve_database_url(config, path)
    api = config.api.to_settings(s.host, s.port)  # [api], on [service] host/port when it names none
    return ServiceSettings(
        data_dir=resolve_data_dir(config, path), database_url=database_url, trader_id=s.trader_id, mode=s.mode,
        currency=config.account.currency, starting_cash=Decimal(config.account.starting_cash),
        dataset=config.replay.dataset, start=config.replay.start, speed=config.replay.speed_factor,
        exit_at_end=config.replay.exit_at_end, pairs=pair_specs(config),
        cancel_on_stop=config.shutdown.cancel_orders, flatten_on_stop=config.shutdown.flatten,
        flatten_on_remove=config.shutdown.flatten_on_remove,
        redis_url=s.redis_url, config_path=path, api_host=api.host, api_port=api.port, api=api,
        broker=config.broker.name,
        warm_bars=config.broker.warm_bars, bar_grace_s=config.broker.bar_grace_s,
        bar_retry_s=config.broker.bar_retry_s, reconcile_interval_s=config.broker.reconcile_interval_s,
        cache=config.cache.to_cache_config(), cache_refresh=config.cache.to_refresh_schedule(),
    )  # fmt: skip


def settings_from_file(path: Path) -> ServiceSettings:
    return settings_from_config(load_config(path), path)


def attach(service: TradingService, manager: ConfigManager) -> None:
    """Register the appliers that change the running service when the file changes."""

    def pairs(_old: Any, new: Any) -> None:
        specs = tuple(PairSpec(p.id, p.timeframe, p.strategy, dict(p.params) or None, p.sizing, p.enabled)
                      for p in new)  # fmt: skip
        sync_config_pairs(service.registry, specs, remove_missing=True)
        service.watcher.sizing = {p.id: p.sizing for p in specs}
        service.watcher.step()

    def risk(_old: Any, new: Any) -> None:
        service.kernel.configure_risk(new)

    def replay(old: Any, new: Any) -> None:
        if new.dataset != old.dataset or new.start != old.start:
            raise UserError(
                "replay.dataset and replay.start take effect at the next start: restart the service"
            )
        service.feed.speed = new.speed_factor
        service.feed.rebase(service.feed.now_ns)
        service.settings = replace(service.settings, exit_at_end=new.exit_at_end, speed=new.speed_factor)

    def shutdown(_old: Any, new: Any) -> None:
        service.settings = replace(
            service.settings, cancel_on_stop=new.cancel_orders, flatten_on_stop=new.flatten
        )

    def cache(_old: Any, new: Any) -> None:
        service.configure_cache(new.to_cache_config(), new.to_refresh_schedule())

    def alerts(_old: Any, new: Any) -> None:
        if service.alerts is not None:
            service.alerts.configure(new)

    def account(old: Any, new: Any) -> None:
        if old != new:
            raise UserError(
                "the account section needs a restart (the portfolio is already open in its currency)"
            )

    for section, applier in (("pairs", pairs), ("risk", risk), ("replay", replay), ("shutdown", shutdown),
                             ("cache", cache), ("account", account), ("alerts", alerts)):  # fmt: skip
        manager.register(section, applier)
