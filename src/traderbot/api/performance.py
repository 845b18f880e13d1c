"""GET /trading/performance: the account, its daily P&L and drawdown from the equity curve, and P&L per pair.

The curve is the account snapshots the service stores (one per hour of market time, and at each stop), plus
the live point when the service serves the call. Formulas:
- daily P&L = equity now - equity of the last curve point at or before 00:00 UTC of the current (market) day
  (the first point when the record starts later that day; the starting cash when there is no point at all);
- drawdown now = peak - equity now, as a percentage of the peak (the highest equity on the curve);
  max drawdown % = the largest (running peak - equity) / running peak over the curve;
- realized P&L = the sum of the closed round trips' net P&L; unrealized = equity - cash.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from traderbot.api.trading_views import ZERO, dec
from traderbot.api.views import iso

DAY_NS = 86_400 * 10**9
Point = tuple[int, Decimal, Decimal]  # (ts, equity, cash)


def distinct(points: list[Point]) -> list[Point]:
    """One point per time (the last written): a stop's final snapshot may repeat the live point."""
    return [p for i, p in enumerate(points) if i + 1 == len(points) or points[i + 1][0] != p[0]]


def sample(points: list[Point], most: int) -> list[Point]:
    """At most `most` points, evenly spaced, the first and the last always kept."""
    n = len(points)
    if n <= most:
        return points
    return [points[round(i * (n - 1) / (most - 1))] for i in range(most)]


def _pct(part: Decimal, whole: Decimal) -> str | None:
    return dec((part / whole * 100).quantize(Decimal("0.0001"))) if whole > 0 else None


def drawdown(points: list[Point]) -> dict[str, Any]:
    if not points:
        return {"current": None, "current_pct": None, "max_pct": None, "peak_equity": None}
    peak, worst = points[0][1], ZERO
    for _, equity, _ in points:
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    now = points[-1][1]
    return {"current": dec(peak - now), "current_pct": _pct(peak - now, peak),
            "max_pct": dec((worst * 100).quantize(Decimal("0.0001"))), "peak_equity": dec(peak)}  # fmt: skip


def daily_reference(
    points: list[Point], now_ns: int, starting_cash: Decimal | None
) -> tuple[Decimal | None, int]:
    """The equity the current day is measured from, and the day's start (UTC ns)."""
    day_start = now_ns - now_ns % DAY_NS
    before = [p for p in points if p[0] <= day_start]
    if before:
        return before[-1][1], day_start
    return (points[0][1] if points else starting_cash), day_start


def performance_json(source: str, account: dict[str, Any] | None, curve: list[Point],
                     by_pair: dict[str, tuple[int, int, Decimal]], unrealized_by_pair: dict[str, Decimal | None],
                     most: int) -> dict[str, Any]:  # fmt: skip
    """`account`: the account now (trading_live.account or trading_stored.latest_account), None when nothing
    is stored yet; `curve`: the equity curve oldest first, the account's own point last."""
    curve = distinct(curve)
    realized = sum((total for _, _, total in by_pair.values()), ZERO)
    n_trades = sum(n for n, _, _ in by_pair.values())
    wins = sum(w for _, w, _ in by_pair.values())
    pairs = []
    for pair in sorted(set(by_pair) | set(unrealized_by_pair)):
        n, w, total = by_pair.get(pair, (0, 0, ZERO))
        unreal = unrealized_by_pair.get(pair, ZERO)
        whole = None if unreal is None else total + unreal
        pairs.append({"pair": pair, "trades": n, "wins": w, "realized_pnl": dec(total),
                      "unrealized_pnl": dec(unreal), "total_pnl": dec(whole)})  # fmt: skip
    shown = sample(curve, most)
    out: dict[str, Any] = {
        "source": source, "currency": None, "as_of": None, "as_of_ns": None, "equity": None, "cash": None,
        "margin_used": None, "free_margin": None, "starting_cash": None, "commissions": None, "financing": None,
        "realized_pnl": dec(realized), "unrealized_pnl": None, "daily_pnl": None, "day_start": None,
        "drawdown": drawdown(curve), "trades": n_trades, "wins": wins, "pairs": pairs,
        "equity_curve": {"points": [{"time": iso(ts), "ts_ns": ts, "equity": dec(eq), "cash": dec(cash)}
                                    for ts, eq, cash in shown], "total_points": len(curve)},
    }  # fmt: skip
    if account is None:
        return out
    now = account["now_ns"]
    reference, day_start = daily_reference(curve, now, account["starting_cash"])
    out.update({"currency": account["currency"], "as_of": iso(now), "as_of_ns": now})
    for name in ("equity", "cash", "margin_used", "free_margin", "starting_cash", "commissions", "financing"):
        out[name] = dec(account[name])
    out.update({"unrealized_pnl": dec(account["unrealized"]), "day_start": iso(day_start),
                "daily_pnl": dec(None if reference is None else account["equity"] - reference)})  # fmt: skip
    return out
