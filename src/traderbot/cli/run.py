"""`traderbot run`: start the trading service and keep it running until stopped (Ctrl-C or SIGTERM).

With no configuration file it paper-trades a few pairs of the bundled sample data on the simulated venue,
replayed at 600 times real time, with its state (SQLite database, replay position, logs) in ./traderbot_data.
Live mode (`--mode live`, or `[service] mode = "live"`) trades the configuration file's pairs on the broker
named by `[broker] name` (or `--broker`), with credentials from the environment.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import typer

from traderbot.errors import UserError
from traderbot.service.settings import PairSpec, ServiceSettings

DEFAULT_PAIRS = ("EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "EURGBP")
DEMO_PARAMS = {"fast": 20, "slow": 80}


def parse_speed(text: str) -> float | None:
    """`max` (as fast as possible) or a positive number of replay seconds per wall second."""
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--speed {text!r} is not a number: use e.g. 60 (60x real time) or max") from None
    if not value > 0:
        raise UserError(f"--speed {text!r} must be above 0: use e.g. 60 (60x real time) or max")
    return value


def default_settings(data_dir: Path) -> ServiceSettings:
    """What `make run` starts: five FX pairs of the bundled 15-minute samples, sma_cross with pinned parameters."""
    pairs = tuple(PairSpec(p, "15m", "sma_cross", dict(DEMO_PARAMS), "fraction:0.1") for p in DEFAULT_PAIRS)
    return ServiceSettings(data_dir=data_dir, pairs=pairs, speed=600.0)


def run(
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="paper (simulated venue fed by a replay) or live (a broker); default: the file's.",
    ),
    broker: str | None = typer.Option(
        None, "--broker", help="Live mode's broker: oanda, alpaca, ccxt:<exchange id>, ninjatrader."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Configuration file (default: ./traderbot.toml)."
    ),
    replay: str | None = typer.Option(
        None, "--replay", help="Dataset: samples, a data folder or a bar store."
    ),
    start: str | None = typer.Option(
        None, "--from", help="Replay start (ISO date); default: where it stopped."
    ),
    speed: str | None = typer.Option(None, "--speed", help="N times real time, or max."),
    exit_at_end: bool = typer.Option(False, "--exit-at-end", help="Stop when the replay ends."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="State folder (default: ./traderbot_data)."
    ),
    host: str | None = typer.Option(
        None, "--host", help="API and dashboard address (default: the file's, else 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="API port (default: the file's, else 8000; 0: any free one)."
    ),
    no_api: bool = typer.Option(
        False, "--no-api", help="Serve no API (commands from `traderbot api` still run)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Only warnings and errors."),
) -> None:
    """Run the trading service until Ctrl-C / SIGTERM (or the end of the replay with --exit-at-end)."""
    from dataclasses import replace

    from traderbot.service.service import TradingService

    settings = _settings(config, data_dir)
    changes: dict[str, object] = {}
    if mode is not None:
        changes["mode"] = mode
    if broker is not None:
        changes["broker"] = broker
    if (mode or settings.mode) == "live":
        _check_live(config, replay=replay, start=start, speed=speed, exit_at_end=exit_at_end)
    if replay is not None:
        changes["dataset"] = replay
    if start is not None:
        changes["start"] = start
    if speed is not None:
        changes["speed"] = parse_speed(speed)
    if exit_at_end:
        changes["exit_at_end"] = True
    if data_dir is not None:
        changes["data_dir"] = data_dir
    changes["serve_api"] = not no_api
    if host is not None:
        changes["api_host"] = host
    if port is not None:
        changes["api_port"] = port
    settings = replace(settings, **changes)  # type: ignore[arg-type]
    service = TradingService(settings)  # live: the broker's credentials are read here (one line if missing)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # live: one line per broker request otherwise
    where = Path(settings.data_dir).resolve()
    pace = "as fast as possible" if settings.speed is None else f"{settings.speed:g}x real time"
    feed = f"trading on {settings.broker}" if service.live else f"replaying {settings.dataset} at {pace}"
    stop = f"Stop with Ctrl-C (or kill -TERM {_pid()})."
    print(f"traderbot {settings.mode} service: state in {where}; {feed}; "
          f"{len(settings.pairs)} configured pair(s). {stop}", flush=True)  # fmt: skip
    asyncio.run(service.run())
    bars = f"bars from {settings.broker}" if service.live else "bars replayed"
    print(f"stopped: {service.feed.released:,} {bars}, {len(service.kernel.cache.orders):,} orders, "
          f"equity {service.kernel.portfolio.equity():.2f} {settings.currency}; state kept in {where}")  # fmt: skip


def _check_live(config: Path | None, **replay_flags: object) -> None:
    """Live mode trades what the configuration file lists, on the market's time: replay flags make no sense."""
    given = [f"--{n.replace('_', '-')}".replace("--start", "--from") for n, v in replay_flags.items() if v]
    if given:
        raise UserError(f"{', '.join(given)} only apply to a paper replay: live mode trades the broker's bars "
                        "as they close; drop them or use --mode paper")  # fmt: skip
    if config is None and not Path("traderbot.toml").is_file():
        raise UserError("live mode trades the pairs of a configuration file only: write one with "
                        "'traderbot init', list your [[pairs]] and pass it with --config")  # fmt: skip


def _pid() -> int:
    import os

    return os.getpid()


def _settings(config: Path | None, data_dir: Path | None) -> ServiceSettings:
    """From the configuration file when one is given or ./traderbot.toml exists, else the built-in defaults."""
    path = config or (Path("traderbot.toml") if Path("traderbot.toml").is_file() else None)
    if path is None:
        return default_settings(data_dir or Path("traderbot_data"))
    from traderbot.service.from_config import settings_from_file

    return settings_from_file(path)
