"""`traderbot optimize`: evaluate a whole parameter grid on the fast sweep path and rank it."""

from __future__ import annotations

import json
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from traderbot.cli._market import dec, load_market, sizing, venue_from_flags
from traderbot.errors import UserError

Opt = typer.Option


def parse_grid(items: list[str], cls: Any) -> dict[str, list[Any]]:
    """`name=start:stop:step` (stop included) or `name=a,b,c`, each value checked against the parameter."""
    spec = cls.parameters()
    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, rng = item.partition("=")
        name = name.strip()
        if not sep or name not in spec:
            valid = "; ".join(p.describe() for p in spec.values())
            raise UserError(f"--grid {item!r}: unknown parameter {name!r}; valid parameters are {valid}")
        if ":" in rng:
            parts = rng.split(":")
            if len(parts) != 3:
                raise UserError(f"--grid {item!r} is not name=start:stop:step")
            a, b, s = (float(dec(x, "--grid")) if not x.strip().startswith("-") else float(x) for x in parts)
            if s <= 0 or b < a:
                raise UserError(f"--grid {item!r}: need start <= stop and step > 0")
            count = math.floor((b - a) / s + 1e-9) + 1
            values: list[Any] = [a + k * s for k in range(count)]
        else:
            values = [v for v in rng.split(",") if v.strip()]
        if not values:
            raise UserError(f"--grid {item!r} has no values")
        out[name] = [spec[name].coerce(_tidy(v)) for v in values]
    return out


def _tidy(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return round(v, 10) if isinstance(v, float) else v


def optimize(
    strategy: Annotated[str, Opt("--strategy", "-s")],
    grid: Annotated[list[str], Opt("--grid", help="name=start:stop:step or name=a,b,c (repeatable)")],
    pair: Annotated[str | None, Opt("--pair", "-p")] = None,
    data: Annotated[Path | None, Opt("--data")] = None,
    timeframe: Annotated[str | None, Opt("--timeframe", "-t")] = None,
    start: Annotated[str | None, Opt("--from")] = None,
    end: Annotated[str | None, Opt("--to")] = None,
    objective: Annotated[
        str, Opt("--objective", help="sharpe, sortino, calmar, total_return, ...")
    ] = "sharpe",
    min_trades: Annotated[int, Opt("--min-trades", help="ignore results with fewer trades")] = 1,
    param: Annotated[list[str] | None, Opt("--param", help="fixed parameter key=value")] = None,
    cash: Annotated[str, Opt("--cash")] = "10000",
    commission_pct: Annotated[str, Opt("--commission-pct")] = "0",
    commission_per_unit: Annotated[str, Opt("--commission-per-unit")] = "0",
    commission_per_order: Annotated[str, Opt("--commission-per-order")] = "0",
    commission_min: Annotated[str, Opt("--commission-min")] = "0",
    spread_pips: Annotated[str, Opt("--spread-pips")] = "0",
    slippage_pips: Annotated[str, Opt("--slippage-pips")] = "0",
    price_side: Annotated[str, Opt("--price-side")] = "bid",
    fill: Annotated[str, Opt("--fill")] = "next_open",
    sizing_text: Annotated[str, Opt("--sizing")] = "all_in",
    long_only: Annotated[bool, Opt("--long-only")] = False,
    lot_size: Annotated[str | None, Opt("--lot-size")] = None,
    as_json: Annotated[bool, Opt("--json")] = False,
    store: Annotated[Path | None, Opt("--store")] = None,
) -> None:
    """Evaluate every grid point with the numba sweep path; print the best parameters and a heatmap."""
    from traderbot.backtest.objectives import objective_values
    from traderbot.backtest.sweep import grid as expand
    from traderbot.backtest.sweep import run_sweep
    from traderbot.cli.backtest import parse_params
    from traderbot.strategies.registry import get_strategy
    from traderbot.strategies.signal_strategy import SignalStrategy

    found = get_strategy(strategy)
    if not issubclass(found, SignalStrategy):
        raise UserError(
            f"strategy {found.name} has no sweep path: use `traderbot backtest` per parameter set"
        )
    cls = found
    fixed: dict[str, Any] = parse_params(param or [])
    if long_only:
        fixed["long_only"] = True
    space = parse_grid(grid, cls)
    candidates = [{**fixed, **combo} for combo in expand(space)]
    valid, skipped = [], []
    for p in candidates:
        try:
            cls(**p)
            valid.append(p)
        except UserError as exc:
            skipped.append(str(exc))
    if not valid:
        raise UserError(f"no valid parameter set in the grid ({skipped[0] if skipped else 'empty'})")
    market = load_market([pair] if pair else [], timeframe, data, start, end, lot_size, None, store)
    inst, series = market.pairs[0]
    venue = venue_from_flags(locals())
    res = run_sweep(
        cls,
        inst,
        series,
        valid,
        venue=venue,
        sizing=sizing(sizing_text),
        cash=dec(cash, "--cash", minimum=Decimal("0.01")),
    )
    score = objective_values(objective, res.stats)
    trades = res.stats[:, 1].astype(int)
    ranked = np.where((trades >= min_trades) & ~np.isnan(score), score, -np.inf)
    best = int(np.argmax(ranked)) if np.isfinite(ranked).any() else -1
    rows = [
        {
            "params": {k: v for k, v in p.items() if k in space},
            "final_equity": float(res.stats[j, 0]),
            "trades": int(trades[j]),
            "sharpe": _num(res.stats[j, 2]),
            objective: _num(score[j]),
        }
        for j, p in enumerate(valid)
    ]
    payload = {
        "strategy": cls.name,
        "pair": inst.id,
        "bars": res.bars,
        "objective": objective,
        "min_trades": min_trades,
        "evaluated": len(valid),
        "skipped": len(skipped),
        "results": rows,
        "best": rows[best] if best >= 0 else None,
    }
    if as_json:
        sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
        return
    _print(payload, space, score, valid, skipped)


def _num(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def _print(
    payload: dict[str, Any],
    space: dict[str, list[Any]],
    score: np.ndarray,
    valid: list[dict[str, Any]],
    skipped: list[str],
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    obj = payload["objective"]
    console.print(
        f"[bold]{payload['strategy']}[/] on {payload['pair']}: {payload['evaluated']} parameter sets "
        f"x {payload['bars']:,} bars, objective {obj} (costs included)"
    )
    if skipped:
        console.print(f"skipped {len(skipped)} invalid sets, e.g.: {skipped[0]}")
    best = payload["best"]
    console.print(
        f"best: {best['params'] if best else 'none with enough trades'}"
        + (
            f" -> {obj}={best[obj]}, final equity {best['final_equity']:.2f}, trades {best['trades']}"
            if best
            else ""
        )
    )
    names = list(space)
    if len(names) == 2:
        a, b = names
        table = Table(title=f"{obj} heatmap ({a} rows x {b} columns)")
        table.add_column(a)
        for vb in space[b]:
            table.add_column(str(vb), justify="right")
        lookup = {(p[a], p[b]): score[j] for j, p in enumerate(valid)}
        for va in space[a]:
            cells = [f"{lookup[(va, vb)]:.3f}" if (va, vb) in lookup else "-" for vb in space[b]]
            table.add_row(str(va), *cells)
        console.print(table)
    else:
        table = Table(title=f"top 10 by {obj}")
        for col in ("params", obj, "final_equity", "trades"):
            table.add_column(col)
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf))[:10]
        for j in order:
            r = payload["results"][j]
            table.add_row(str(r["params"]), str(r[obj]), f"{r['final_equity']:.2f}", str(r["trades"]))
        console.print(table)
