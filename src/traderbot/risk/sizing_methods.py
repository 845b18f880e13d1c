"""The formulas behind the risk, vol, kelly and drawdown sizing methods, on causal inputs only.

The strategy context passes closed bars (its bar views) and closed trades; results are raw quantities that it
multiplies by the drawdown factor and then rounds down to whole lots.

Risk (`risk:PCT,atr=M,period=P`)::

    distance = |entry - stop loss|, or without a stop loss M x ATR(P) (mean true range of the last P bars)
    quantity = equity x PCT / 100 / (distance x multiplier in account currency)

Volatility targeting (`vol:PCT,lookback=N`)::

    r_i       = ln(close_i / close_(i-1)) over the last N closed bars (needs N + 1 closes)
    sigma_ann = stdev(r, ddof=1) x sqrt(bars per year)
    quantity  = equity x PCT / 100 / sigma_ann / (price x multiplier in account currency)

    bars per year, from the instrument's calendar and the bar length s (seconds):
      fx     260 trading days x 86400 / s
      24/7   365 days x 86400 / s
      other  an exchange code (XNYS, CMES, ...): 252 sessions x ceil(session / s) for intraday bars,
             252 x 86400 / s for daily and longer bars; session 6.5 h (NYSE regular hours), CMES 23 h

Kelly (`kelly:F,cap=C,min_trades=M,window=W,fallback=B`), on the strategy's last W closed trades on the pair::

    p        = share of trades with pnl > 0;  R = mean win / mean |loss| (losses: pnl < 0)
    f*       = p - (1 - p) / R   (= p when no trade lost, 0 when none won)
    fraction = min(max(F x f*, 0), C) x confidence;  with fewer than M trades: min(B, C) x confidence
    quantity = equity x fraction / (price x multiplier in account currency)

Drawdown cut (`;dd=START:FULL:FLOOR`, on any method)::

    drawdown = (peak - equity) / peak x 100, size x DrawdownCut.factor(drawdown)

where the peak is the highest account equity the strategy has seen at its sizing calls and at each close of
one of its trades, tracked from its first sized order on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np

from traderbot.errors import UserError
from traderbot.risk.sizing import DrawdownCut, Sizing, atr_distance

if TYPE_CHECKING:
    from traderbot.core.messages import TradeClosed
    from traderbot.model.order import Bracket
    from traderbot.strategies.views import BarView

NAN = Decimal("NaN")
_DAY = 86_400
_SESSION_HOURS = {"CMES": 23.0}  # exchange codes not listed: 6.5 h, NYSE regular hours


def order_confidence(value: object) -> Decimal:
    """The `confidence=` order option as a Decimal in [0, 1]; 1 when it is not given."""
    if value is None:
        return Decimal(1)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, Real) and not isinstance(value, bool):
        d = Decimal(repr(float(value)))
    else:
        d = NAN
    if not d.is_finite() or not 0 <= d <= 1:
        raise UserError(
            f"order option confidence={value!r} is not valid: pass a number from 0 to 1 (1, the default, "
            "is full size)"
        )
    return d


def risk_distance(s: Sizing, price: Decimal, bracket: Bracket | None, bars: BarView) -> tuple[Decimal, str]:
    """The stop distance of `risk` sizing and how it was found (stop loss, else atr x ATR(period))."""
    if bracket is not None and bracket.stop_loss is not None:
        return abs(price - bracket.stop_loss), "stop loss distance"
    atr = atr_distance(bars.high, bars.low, bars.close, s.period)
    return Decimal(repr(float(s.atr) * atr)), f"{s.atr} x ATR({s.period})"


def bars_per_year(calendar: str, bar_seconds: int) -> float:
    """How many bars of `bar_seconds` a year holds on `calendar` (see the module docstring)."""
    key = calendar.strip().lower()
    if key == "fx":
        return 260 * _DAY / bar_seconds
    if key in {"24/7", "crypto", "always"}:
        return 365 * _DAY / bar_seconds
    if bar_seconds >= _DAY:
        return 252 * _DAY / bar_seconds
    session = _SESSION_HOURS.get(calendar.strip().upper(), 6.5) * 3600
    return float(252 * math.ceil(session / bar_seconds))


def realised_vol(close: np.ndarray, lookback: int, per_year: float) -> float:
    """Annualised stdev (ddof=1) of the last `lookback` log returns; NaN with fewer than lookback + 1 closes."""
    if len(close) < lookback + 1:
        return math.nan
    tail = np.asarray(close[-(lookback + 1) :], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(np.log(tail))
    return float(np.std(returns, ddof=1)) * math.sqrt(per_year)


def vol_target_quantity(
    s: Sizing, close: np.ndarray, per_year: float, equity: Decimal, unit_value: Decimal
) -> tuple[Decimal, str]:
    """Raw quantity for `vol:PCT` (NaN, with the reason, when the volatility is undefined or zero)."""
    head = f"vol:{s.value}%"
    if len(close) < s.lookback + 1:
        return NAN, f"{head} lookback={s.lookback}: needs {s.lookback + 1} closed bars, {len(close)} so far"
    vol = realised_vol(close, s.lookback, per_year)
    if not math.isfinite(vol) or vol <= 0:
        return NAN, f"{head} lookback={s.lookback}: realised volatility is {vol}, so no size follows"
    raw = equity * s.value / 100 / Decimal(repr(vol)) / unit_value
    return raw, (
        f"{head} realised={vol * 100:.4f}% lookback={s.lookback} bars/yr={per_year:.10g} equity={equity:.2f}"
    )


def recent_pnls(
    trades: Sequence[TradeClosed], strategy_id: str, instrument_id: str, window: int
) -> list[Decimal]:
    """Net P&L of the last `window` closed trades of one strategy on one pair, oldest first."""
    out: list[Decimal] = []
    for t in reversed(trades):
        if t.strategy_id == strategy_id and t.instrument_id == instrument_id:
            out.append(t.pnl)
            if len(out) == window:
                break
    out.reverse()
    return out


def kelly_quantity(
    s: Sizing, pnls: Sequence[Decimal], confidence: Decimal, equity: Decimal, unit_value: Decimal
) -> tuple[Decimal, str]:
    """Raw quantity for `kelly:F` from the trades' P&L, with every input in the note."""
    n = len(pnls)
    if n < s.min_trades:
        base = min(s.fallback, s.cap)
        head = f"kelly:{s.value} trades={n} < min_trades={s.min_trades}: fallback {s.fallback}"
    else:
        wins = [p for p in pnls if p > 0]
        losses = [-p for p in pnls if p < 0]
        win = Decimal(len(wins)) / n
        if not wins:
            f_star, payoff = Decimal(0), "none"
        elif not losses:
            f_star, payoff = win, "inf"
        else:
            ratio = (sum(wins, Decimal(0)) / len(wins)) / (sum(losses, Decimal(0)) / len(losses))
            f_star, payoff = win - (1 - win) / ratio, f"{ratio:.4f}"
        base = min(max(s.value * f_star, Decimal(0)), s.cap)
        head = f"kelly:{s.value} trades={n} win={win:.4f} payoff={payoff} f*={f_star:.4f} x{s.value}"
    fraction = base * confidence
    note = f"{head} cap {s.cap} x confidence {confidence} -> {fraction:.4f} of equity={equity:.2f}"
    return equity * fraction / unit_value, note


class EquityPeak:
    """The highest account equity one strategy has seen: at each of its sizing calls and each close of one of
    its trades (feed `on_trade` from the bus topic "trades")."""

    def __init__(self, strategy_id: str, equity: Callable[[], Decimal]) -> None:
        self.strategy_id = strategy_id
        self._equity = equity
        self.peak = equity()

    def on_trade(self, trade: TradeClosed) -> None:
        if trade.strategy_id == self.strategy_id:
            self.peak = max(self.peak, self._equity())

    def drawdown_pct(self) -> Decimal:
        """Percent below the peak now (the current equity counts as seen); 100 once the peak is not positive."""
        equity = self._equity()
        self.peak = max(self.peak, equity)
        return (self.peak - equity) / self.peak * 100 if self.peak > 0 else Decimal(100)


def drawdown_cut(cut: DrawdownCut, peak: EquityPeak) -> tuple[Decimal, str]:
    """The size factor of a `;dd=` modifier now, and its note suffix."""
    dd = peak.drawdown_pct()
    factor = cut.factor(dd)
    return factor, f" dd {dd:.2f}% from peak {peak.peak:.2f} -> x{factor:.4f}"
