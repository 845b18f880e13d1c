"""`traderbot train EURUSD GBPUSD ...` (or `--all`): queue training for pairs and run it with progress bars.

Each pair must be in the registry (`traderbot pairs add`), not trading, and have bars to train on; every pair is
checked before any job is queued, so a mistake queues nothing. Jobs run in local worker processes (or on Ray
with `--ray-address`); the registry follows each job: training, then ready (the gate passed and the new
parameter version is active) or failed with the reasons.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from typer.core import TyperGroup

from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.errors import UserError
from traderbot.pairs.lifecycle import PairState
from traderbot.pairs.registry import PairRegistry
from traderbot.store.db import open_engine
from traderbot.training.jobs import Job
from traderbot.training.manager import TrainingManager
from traderbot.training.registry_hooks import RegistryHooks

JOB_FN = "traderbot.training.pipeline:train_pair"
GATE_HELP = "Promotion threshold name=value (repeatable), e.g. min_oos_trades=50, max_pbo=0.4, min_dsr=0.9."
OBJECTIVE_HELP = "sharpe, sortino, calmar, profit_factor, expectancy or hit_rate_above_base"


class TrainGroup(TyperGroup):
    """`traderbot train PAIR...` runs `train start PAIR...`: a first word that is not a sub-command is a pair."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


def parse_space(items: list[str]) -> dict[str, Any]:
    """`name=low:high[:step]` (a range), `name=a,b,c` (choices) or `name=value` (fixed)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise UserError(f"--space {item!r} is not name=low:high[:step], name=a,b or name=value")
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (2, 3):
                raise UserError(f"--space {item!r}: a range is low:high or low:high:step")
            out[name.strip()] = [_number(p, item) for p in parts]
        elif "," in text:
            out[name.strip()] = [v.strip() for v in text.split(",") if v.strip()]
        else:
            out[name.strip()] = text.strip()
    return out


def _pair_item(item: str, flag: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UserError(f"{flag} {item!r} is not name=value")
    return name.strip(), value.strip()


def _number(text: str, item: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--space {item!r}: {text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _has_data(pair: str, timeframe: str, data_dir: Path | None, store: Path | None) -> bool:
    if data_dir is not None:
        return (data_dir / f"{pair}_{timeframe}.parquet").is_file()
    from traderbot.data.stores import open_stores

    return open_stores(store).has(pair, timeframe)


def _select(registry: PairRegistry, pairs: list[str], every: bool) -> list[str]:
    if every and pairs:
        raise UserError("give pairs or --all, not both")
    if every:
        chosen = [r.pair for r in registry.list() if r.enabled and r.state is not PairState.TRADING]
        if not chosen:
            raise UserError("no enabled pair outside trading to train: add pairs with traderbot pairs add")
        return chosen
    if not pairs:
        raise UserError("name the pairs to train (e.g. traderbot train EURUSD GBPUSD) or pass --all")
    out = []
    for p in pairs:
        rec = registry.get(p)  # unknown pair: a UserError naming the fix
        if rec.state is PairState.TRADING:
            raise UserError(
                f"{rec.pair} is trading: stop it first (traderbot pairs stop {rec.pair}), then train"
            )
        out.append(rec.pair)
    return out


def start(
    pairs: list[str] = typer.Argument(None, help="Pairs to train (as added with traderbot pairs add)."),
    every: bool = typer.Option(False, "--all", help="Every enabled pair that is not trading."),
    trials: int = typer.Option(200, "--trials", help="Candidates the search evaluates per pair."),
    objective: str = typer.Option(
        "sharpe",
        "--objective",
        help="sharpe, sortino, calmar, profit_factor, expectancy, hit_rate_above_base",
    ),
    min_trades: int = typer.Option(
        10, "--min-trades", help="A candidate needs this many trades in a window."
    ),
    train_weeks: int = typer.Option(4, "--train-weeks", help="Weeks of bars each fold trains on."),
    mode: str = typer.Option("rolling", "--mode", help="rolling or anchored training windows."),
    start_at: str | None = typer.Option(None, "--from", help="First day of data to use (YYYY-MM-DD)."),
    end_at: str | None = typer.Option(None, "--to", help="Day after the last day of data (YYYY-MM-DD)."),
    timeframe: str | None = typer.Option(
        None, "--timeframe", "-t", help="Bar timeframe (default: the pair's)."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder of <PAIR>_<tf>.parquet files."),
    store: Path | None = typer.Option(None, "--store", help="Bar store folder (default: the user store)."),
    space: list[str] = typer.Option([], "--space", help="name=low:high[:step], name=a,b or name=value."),
    gate: list[str] = typer.Option([], "--gate", help=GATE_HELP),
    spread_pips: str = typer.Option("1", "--spread-pips", help="Spread charged on every fill, in pips."),
    commission_pct: str = typer.Option("0", "--commission-pct", help="Commission in % of notional."),
    workers: int = typer.Option(2, "--workers", help="Jobs run at once (local processes)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address, or 'local'."),
    timeout: float = typer.Option(
        1800.0, "--timeout", help="Seconds one attempt may take before it is killed."
    ),
    attempts: int = typer.Option(2, "--attempts", help="Attempts per job (failures retry with backoff)."),
    priority: int = typer.Option(0, "--priority", help="Higher runs first."),
    queue_only: bool = typer.Option(
        False, "--queue-only", help="Queue the jobs and return (a service runs them)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    trader: str = typer.Option("TB", "--trader"),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome per pair as JSON."),
) -> None:
    """Queue training for pairs, then run it with a progress bar per job (see the module docstring)."""
    engine = open_engine(database_url(db, must_exist=False))
    registry = PairRegistry(engine, trader)
    chosen = _select(registry, pairs or [], every)
    parsed_space = parse_space(space)
    thresholds = dict(_pair_item(g, "--gate") for g in gate)
    payloads: dict[str, dict[str, Any]] = {}
    for pair in chosen:
        rec = registry.get(pair)
        tf = timeframe or rec.timeframe
        if not _has_data(pair, tf, data_dir, store):
            where = data_dir or store or "the bar store"
            raise UserError(f"no {tf} bars for {pair} in {where}: import them (traderbot data import) first")
        payloads[pair] = {"pair": pair, "strategy": rec.strategy, "timeframe": tf, "start": start_at,
                          "end": end_at, "data_dir": str(data_dir) if data_dir else None,
                          "store": str(store) if store else None, "trials": trials, "objective": objective,
                          "min_trades": min_trades, "train_weeks": train_weeks, "mode": mode,
                          "space": parsed_space, "gate": thresholds, "venue": {"spread_pips": spread_pips,
                                                           "commission_pct": commission_pct}}  # fmt: skip
    from traderbot.strategies.registry import get_strategy
    from traderbot.training.pipeline import TrainSpec
    from traderbot.training.space import search_space

    for payload in payloads.values():  # every setting checked before anything is queued
        spec = TrainSpec.from_payload(payload)
        search_space(get_strategy(spec.strategy).parameters(), spec.space)
    manager = TrainingManager(engine, workers=workers, ray_address=ray_address, hooks=RegistryHooks(registry))
    with manager:
        jobs = [manager.submit(p, JOB_FN, payloads[p], priority=priority, timeout_s=timeout,
                               max_attempts=attempts) for p in chosen]  # fmt: skip
        if queue_only:
            print(json.dumps([j.to_dict() for j in jobs], default=str) if as_json else
                  f"queued {len(jobs)} job(s): {', '.join(chosen)} (by {getpass.getuser()})")  # fmt: skip
            return
        _run_with_bars(manager, jobs, quiet=as_json)
    _summary(registry, chosen, manager, as_json)


def _run_with_bars(manager: TrainingManager, jobs: list[Job], *, quiet: bool) -> None:
    columns = (TextColumn("{task.fields[pair]:<8}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TimeRemainingColumn(), TextColumn("{task.fields[note]}"))  # fmt: skip
    with Progress(*columns, console=_console(), disable=quiet, transient=False) as bars:
        tasks: dict[int, TaskID] = {
            j.id: bars.add_task("", total=1.0, pair=j.pair, note="queued") for j in jobs
        }

        def shown(job: Job) -> None:
            task = tasks.get(job.id)
            if task is not None:
                note = job.error if job.status.is_final and job.error else (job.message or job.status.value)
                bars.update(task, completed=1.0 if job.status.is_final else job.progress, note=note[:80])

        manager.run(until_idle=True, progress=shown)


def _summary(registry: PairRegistry, pairs: list[str], manager: TrainingManager, as_json: bool) -> None:
    """Each pair's state after its job, with the reason of the last change (the gate's reasons on a refusal)."""
    rows = []
    for pair in pairs:
        rec = registry.get(pair)
        runs = manager.history(pair)
        last = registry.history(pair, limit=1)
        rows.append({"pair": pair, "state": rec.state.value, "active_version": rec.active_version,
                     "reason": last[-1].reason if last else "", "attempts": len(runs),
                     "duration_s": runs[-1].duration_s if runs else None})  # fmt: skip
    if as_json:
        print(json.dumps(rows, default=str))
        return
    for r in rows:
        print(f"{r['pair']}: {r['state']} - {r['reason']}")
