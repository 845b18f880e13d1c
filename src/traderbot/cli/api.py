"""`traderbot api`: serve the control-plane API (uvicorn) on the bot's database."""

from __future__ import annotations

import typer

from traderbot.cli.orders import DB_HELP, database_url
from traderbot.store.db import open_engine

LOOPBACK = ("127.0.0.1", "::1", "localhost")
CORS_HELP = "Allow browser calls from this origin (repeatable; default: none)."


def api(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader", help="Trader id the API serves."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help=CORS_HELP),
) -> None:
    """Serve the REST API (OpenAPI at /docs). On first start an admin key is created and printed once."""
    import uvicorn

    from traderbot.api.app import create_app
    from traderbot.api.keys import ensure_admin_key
    from traderbot.api.settings import ApiSettings

    url = database_url(db, must_exist=False)
    engine = open_engine(url)
    settings = ApiSettings(host=host, port=port, cors_origins=tuple(cors_origin))
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
