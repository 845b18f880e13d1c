"""`traderbot api`: serve the control-plane API (uvicorn) on the bot's database, with the `[api]` section of the
configuration file (--config, else $TRADERBOT_CONFIG or ./traderbot.toml when there is one); flags win."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from traderbot.cli.orders import DB_ENV, DB_HELP, database_url
from traderbot.store.db import open_engine

LOOPBACK = ("127.0.0.1", "::1", "localhost")
CORS_HELP = "Allow browser calls from this origin (repeatable; default: none)."


def api(
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default: the file's [api]/[service] host, else 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="TCP port (default: the file's, else 8000)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str | None = typer.Option(
        None, "--trader", help="Trader id the API serves (default: the file's, else TB)."
    ),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help=CORS_HELP),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="Configuration file (default: $TRADERBOT_CONFIG, else ./traderbot.toml if present).",
    ),
) -> None:
    """Serve the REST API (OpenAPI at /docs). On first start an admin key is created and printed once."""
    import uvicorn

    from traderbot.api.app import create_app
    from traderbot.api.keys import ensure_admin_key
    from traderbot.config import TraderbotConfig, load_config, resolve_data_dir, resolve_database_url
    from traderbot.config.loader import default_path

    path = config if config is not None else (default_path() if default_path().is_file() else None)
    cfg = load_config(path) if path is not None else TraderbotConfig()  # a bad file: one sentence, exit 2
    if db is None and path is not None and not os.environ.get(DB_ENV):
        db = resolve_database_url(cfg, path)
        if not cfg.service.database_url:  # the service's SQLite file in its state folder: create the folder
            resolve_data_dir(cfg, path).mkdir(parents=True, exist_ok=True)
    url = database_url(db, must_exist=False)
    engine = open_engine(url)
    trader = trader or cfg.service.trader_id
    settings = cfg.api.to_settings(cfg.service.host, cfg.service.port, host=host, port=port,
                                   cors_origins=tuple(cors_origin) or None)  # fmt: skip
    host, port = settings.host, settings.port
    admin = ensure_admin_key(engine, trader)
    if admin is not None:
        print("first start: created an admin API key; store it now, it is not shown again:")
        print(admin, flush=True)
    if host not in LOOPBACK:
        print(
            f"warning: binding {host} exposes the API beyond this machine: put it behind TLS (a reverse proxy)"
        )
    shown = engine.url.render_as_string(hide_password=True)
    print(
        f"traderbot API on http://{host}:{port} (docs at /docs), database {shown}; Ctrl-C stops it",
        flush=True,
    )
    uvicorn.run(create_app(engine, trader, settings=settings), host=host, port=port, log_level="warning")
