"""The commented starter `traderbot.toml` that `traderbot init` writes: every section, each key explained."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from traderbot.config.loader import parse_config

DEFAULT_PAIRS: tuple[str, ...] = ("EURUSD",)
DEFAULT_MAX_POSITION_NOTIONAL = Decimal(100000)


def _q(text: str) -> str:
    return json.dumps(text)


def _pair_block(pair_id: str) -> str:
    return f"""[[pairs]]
id = {_q(pair_id)}
timeframe = "15m"              # bar length: 1m, 5m, 15m, 30m, 1h, 4h, 1d
strategy = "sma_cross"         # sma_cross | stoch_rsi | qfh | path/to/my_strategy.py
params = {{ fast = 20, slow = 80 }}   # the strategy's parameters (`traderbot train` can tune them)
sizing = "fraction:0.1"        # fraction:F of equity | units:N | risk:PCT[,atr=M] | vol:PCT | kelly:F
enabled = true                 # false: keep the settings, trade nothing
"""


def starter_text(
    *, broker: str = "", currency: str = "USD", pairs: Sequence[str] = DEFAULT_PAIRS,
    max_position_notional: Decimal = DEFAULT_MAX_POSITION_NOTIONAL, source: str = "starter file",
) -> str:  # fmt: skip
    """The starter file for these answers; checked before it is returned (ConfigError for a bad answer)."""
    pair_blocks = "\n".join(_pair_block(p.strip().upper()) for p in pairs if p.strip())
    text = f"""# traderbot configuration. Edit and save: a running service applies most changes within a second
# (`traderbot config diff` previews, `traderbot config history` lists versions, `config rollback N` undoes).
# Any key can be overridden by an environment variable TRADERBOT__SECTION__KEY, e.g.
# TRADERBOT__SERVICE__DATABASE_URL. Secrets (broker keys, passwords) belong in the environment, not here.
# Reference: docs/config.md

[service]                      # changing mode, data_dir, database_url or trader_id needs a restart
mode = "paper"                 # paper (simulated venue on replayed data) | live (a real broker)
data_dir = "traderbot_data"    # the service's state: database, bar store, logs, pid file (relative to this file)
database_url = ""              # "" = sqlite:///<data_dir>/traderbot.db ; or postgresql+psycopg://user@host/db
redis_url = ""                 # optional shared cache / pub-sub, e.g. redis://127.0.0.1:6379/0
trader_id = "TB"               # prefix of every client order id; keep it stable
host = "127.0.0.1"             # the API and dashboard listen here
port = 8000                    # traderbot run serves the API and dashboard here (--no-api: not at all)

[account]
currency = {_q(currency)}              # the account currency (ISO code)
starting_cash = "100000"       # paper account's starting cash (exact decimal, > 0)

[replay]                       # paper mode's feed: a replay of recorded bars
dataset = "samples"            # "samples" (bundled), a folder of <PAIR>_<tf>.parquet files, or a bar store folder
start = ""                     # ISO date, e.g. "2024-01-02", or "" for the data's start
speed = "60"                   # N times real time (N > 0) or "max"
exit_at_end = false            # stop the service when the data runs out

[broker]                       # live mode only
# credentials come from the environment only (each adapter names its variables in docs/brokers.md)
name = {_q(broker)}                      # oanda | alpaca | ccxt:<exchange> | ninjatrader
warm_bars = 500                # complete bars fetched for a pair before it trades (indicators warm)
bar_grace_s = 2.0              # after a bar's close, wait this long before asking the broker for it
bar_retry_s = 5.0              # a bar not there yet, or a failed request: ask again after this long
reconcile_interval_s = 60.0    # orders and positions checked against the broker's this often

# One [[pairs]] block per traded instrument.
{pair_blocks}
[risk]                         # every pre-trade check; a missing table is switched off (docs/risk.md)
account_currency = {_q(currency)}

[risk.limits]                  # money in the account currency
max_position_notional = {_q(str(max_position_notional))}   # per pair, net over strategies
max_order_notional = {_q(str(max_position_notional))}      # one order
count_open_orders = true       # working orders count towards exposure

[risk.flow]
duplicate_window_s = 1         # refuse the same order again within this many seconds
max_submits = 20               # orders per rate_window_s (1 s)

[training]
ray_address = ""               # "" = local worker processes; or ray://host:10001
workers = 2                    # local worker processes
trials = 200                   # parameter sets tried per pair
objective = "sharpe"           # sharpe | sortino | calmar | profit_factor | expectancy | ...
train_weeks = 4                # length of each walk-forward training window

[cache]                        # market-data cache: thresholds, and its refresh while live (docs/data_cache.md)
window_days = 7                # days of recent bars checked
max_missing_pct = 2.0          # more missing bars than this fails the check
max_gap_minutes = 30           # a longer hole fails the check
max_staleness_minutes = 0      # 0 = automatic (3 bars' length, at least 5 minutes)
refresh_minutes = 15           # live: refresh the running pairs' caches this often while the market is open
lead_before_open_minutes = 15  # live: and once this long before the market opens

[shutdown]                     # what a clean stop does
cancel_orders = true           # cancel working orders
flatten = false                # also close every position at market
flatten_on_remove = false      # a pair stopped or removed while running: also close its position
"""
    parse_config(text, source, env={})  # refuse to write a file that would not load
    return text
