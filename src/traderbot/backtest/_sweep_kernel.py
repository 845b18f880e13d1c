"""The numba simulator behind the fast sweep path. It mirrors the event engine's rules exactly:

per bar t: (1) the market orders sent at t-1 fill at open[t] (close first, then the entry sized from equity),
then a new entry's bracket is matched in the same bar (stop loss before take profit; gaps fill at the open);
or working brackets are matched (stop first); (2) the signal at t (ignored on the last bar) sends orders.
With fill_close, market orders fill at close[t] when sent. Buys trade at the ask (data + buy_add),
sells at the bid (data - sell_sub). Money is float64 here; the event engine's Decimal books agree to ~1e-12.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# cfg indices (float64 array)
(
    FILL_CLOSE,
    BUY_ADD,
    SELL_SUB,
    SLIP,
    TICK,
    LOT,
    PER_UNIT,
    PCT,
    PER_ORDER,
    MIN_FEE,
    MULT,
    MARGIN,
    SIZING,
    SIZE_VALUE,
    LONG_ONLY,
    CASH,
    PPY,
) = range(17)
N_CFG = 17
# stats indices
(
    S_FINAL,
    S_TRADES,
    S_SHARPE,
    S_SORTINO,
    S_MAXDD,
    S_RETURN,
    S_GROSS_WIN,
    S_GROSS_LOSS,
    S_WINS,
    S_CALMAR,
    S_REJECTED,
) = range(11)
N_STATS = 11


@njit(cache=True, inline="always")
def _round_tick(x: float, tick: float) -> float:
    return np.round(x / tick) * tick


@njit(cache=True, inline="always")
def _floor_lot(q: float, lot: float) -> float:
    if lot > 0:
        return math.floor(q / lot + 1e-9) * lot
    return math.floor(q * 1e12) / 1e12


@njit(cache=True, inline="always")
def _fee(q: float, px: float, cfg: np.ndarray) -> float:
    f = cfg[PER_UNIT] * q + cfg[PCT] * q * px * cfg[MULT] + cfg[PER_ORDER]
    if f > 0 or cfg[MIN_FEE] > 0:
        return max(f, cfg[MIN_FEE])
    return 0.0


@njit(cache=True)
def simulate(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    sig: np.ndarray,
    sl_px: np.ndarray,
    tp_px: np.ndarray,
    risk_dist: np.ndarray,
    day_end: np.ndarray,
    cfg: np.ndarray,
    record: bool,
    tr_out: np.ndarray,
) -> np.ndarray:
    n = len(c)
    mult = cfg[MULT]
    cash0 = cfg[CASH]
    bal = cash0
    pos = 0.0
    avg = 0.0
    open_cost = 0.0
    entry_bar = 0
    pend_close = False
    pend_dir = 0  # entry to make at the next fill: +1 buy, -1 sell
    pend_qty = 0.0  # 0: size from equity at fill
    pend_sl = np.nan
    pend_tp = np.nan
    w_sl = np.nan  # working bracket of the open position
    w_tp = np.nan
    trades = 0
    wins = 0
    gwin = 0.0
    gloss = 0.0
    rejected = 0
    peak = cash0
    maxdd = 0.0
    last_day_eq = cash0
    rsum = 0.0
    rsq = 0.0
    rdown = 0.0
    ndays = 0
    stats = np.zeros(N_STATS)

    for t in range(n):
        if not cfg[FILL_CLOSE] and (pend_close or pend_dir != 0):
            # ---- market orders at the open
            if pend_close and pos != 0:
                px = o[t] + cfg[BUY_ADD] if pos < 0 else o[t] - cfg[SELL_SUB]
                if cfg[SLIP] > 0:
                    px = _round_tick(px + cfg[SLIP] if pos < 0 else px - cfg[SLIP], cfg[TICK])
                q = abs(pos)
                fee = _fee(q, px, cfg)
                bal -= fee
                gross = q * (px - avg) * (1.0 if pos > 0 else -1.0) * mult
                bal += gross
                pnl = gross - (open_cost + fee)
                if record:
                    tr_out[trades, 0] = entry_bar
                    tr_out[trades, 1] = t
                    tr_out[trades, 2] = 1.0 if pos > 0 else -1.0
                    tr_out[trades, 3] = q
                    tr_out[trades, 4] = avg
                    tr_out[trades, 5] = px
                    tr_out[trades, 6] = pnl
                trades += 1
                if pnl > 0:
                    wins += 1
                    gwin += pnl
                else:
                    gloss -= pnl
                pos = 0.0
                avg = 0.0
                open_cost = 0.0
            pend_close = False
            if pend_dir != 0:
                buy = pend_dir > 0
                px = o[t] + cfg[BUY_ADD] if buy else o[t] - cfg[SELL_SUB]
                if cfg[SLIP] > 0:
                    px = _round_tick(px + cfg[SLIP] if buy else px - cfg[SLIP], cfg[TICK])
                q = pend_qty
                if q == 0.0:
                    budget = bal * cfg[SIZE_VALUE] - max(cfg[PER_ORDER], 0.0)
                    unit = px * mult * (1.0 + cfg[PCT]) + cfg[PER_UNIT]
                    q = _floor_lot(budget / unit, cfg[LOT]) if budget > 0 and unit > 0 else 0.0
                fee = _fee(q, px, cfg)
                need = q * px * mult * cfg[MARGIN]
                if q <= 0 or need > bal - fee + 1e-9:
                    rejected += 1
                else:
                    bal -= fee
                    pos = q if buy else -q
                    avg = px
                    open_cost = fee
                    entry_bar = t
                    w_sl = pend_sl
                    w_tp = pend_tp
                pend_dir = 0
        # ---- working bracket: stop loss first, then take profit
        if pos != 0 and (w_sl == w_sl or w_tp == w_tp):
            long = pos > 0
            exit_px = np.nan
            if w_sl == w_sl:
                if long:
                    bo, bl = o[t] - cfg[SELL_SUB], lo[t] - cfg[SELL_SUB]
                    if bl <= w_sl:
                        exit_px = bo if bo <= w_sl else w_sl
                else:
                    ao, ah = o[t] + cfg[BUY_ADD], h[t] + cfg[BUY_ADD]
                    if ah >= w_sl:
                        exit_px = ao if ao >= w_sl else w_sl
                if exit_px == exit_px and cfg[SLIP] > 0:
                    exit_px = _round_tick(exit_px - cfg[SLIP] if long else exit_px + cfg[SLIP], cfg[TICK])
            if exit_px != exit_px and w_tp == w_tp:
                if long:
                    bo, bh = o[t] - cfg[SELL_SUB], h[t] - cfg[SELL_SUB]
                    if bh >= w_tp:
                        exit_px = max(bo, w_tp)
                else:
                    ao, al = o[t] + cfg[BUY_ADD], lo[t] + cfg[BUY_ADD]
                    if al <= w_tp:
                        exit_px = min(ao, w_tp)
            if exit_px == exit_px:
                q = abs(pos)
                fee = _fee(q, exit_px, cfg)
                bal -= fee
                gross = q * (exit_px - avg) * (1.0 if long else -1.0) * mult
                bal += gross
                pnl = gross - (open_cost + fee)
                if record:
                    tr_out[trades, 0] = entry_bar
                    tr_out[trades, 1] = t
                    tr_out[trades, 2] = 1.0 if long else -1.0
                    tr_out[trades, 3] = q
                    tr_out[trades, 4] = avg
                    tr_out[trades, 5] = exit_px
                    tr_out[trades, 6] = pnl
                trades += 1
                if pnl > 0:
                    wins += 1
                    gwin += pnl
                else:
                    gloss -= pnl
                pos = 0.0
                avg = 0.0
                open_cost = 0.0
                w_sl = np.nan
                w_tp = np.nan
        # ---- the strategy's decision at the close of bar t
        s = sig[t]
        if s != 0 and t < n - 1:
            want_close = (s > 0 and pos < 0) or (s < 0 and pos > 0)
            d = 0
            if s > 0 and pos <= 0:
                d = 1
            elif s < 0 and pos >= 0 and not cfg[LONG_ONLY]:
                d = -1
            if want_close:
                w_sl = np.nan
                w_tp = np.nan
            q_fixed = 0.0
            if d != 0 and cfg[SIZING] == 1.0:
                q_fixed = _floor_lot(cfg[SIZE_VALUE], cfg[LOT]) if cfg[LOT] > 0 else cfg[SIZE_VALUE]
            elif d != 0 and cfg[SIZING] == 2.0:
                eq_now = bal + pos * (c[t] - avg) * mult
                dist = abs(c[t] - sl_px[t]) if sl_px[t] == sl_px[t] and d != 0 else risk_dist[t]
                q_fixed = (
                    _floor_lot(eq_now * cfg[SIZE_VALUE] / 100.0 / (dist * mult), cfg[LOT])
                    if dist > 0
                    else -1.0
                )
            if cfg[FILL_CLOSE]:
                pend_close = want_close
                pend_dir = d
                pend_qty = q_fixed
                pend_sl = sl_px[t] if d != 0 else np.nan
                pend_tp = tp_px[t] if d != 0 else np.nan
                # fill immediately at this close (same code path as the open, with close prices)
                if pend_close and pos != 0:
                    px = c[t] + cfg[BUY_ADD] if pos < 0 else c[t] - cfg[SELL_SUB]
                    if cfg[SLIP] > 0:
                        px = _round_tick(px + cfg[SLIP] if pos < 0 else px - cfg[SLIP], cfg[TICK])
                    q = abs(pos)
                    fee = _fee(q, px, cfg)
                    bal -= fee
                    gross = q * (px - avg) * (1.0 if pos > 0 else -1.0) * mult
                    bal += gross
                    pnl = gross - (open_cost + fee)
                    if record:
                        tr_out[trades, 0] = entry_bar
                        tr_out[trades, 1] = t
                        tr_out[trades, 2] = 1.0 if pos > 0 else -1.0
                        tr_out[trades, 3] = q
                        tr_out[trades, 4] = avg
                        tr_out[trades, 5] = px
                        tr_out[trades, 6] = pnl
                    trades += 1
                    if pnl > 0:
                        wins += 1
                        gwin += pnl
                    else:
                        gloss -= pnl
                    pos = 0.0
                    avg = 0.0
                    open_cost = 0.0
                pend_close = False
                if pend_dir != 0:
                    buy = pend_dir > 0
                    px = c[t] + cfg[BUY_ADD] if buy else c[t] - cfg[SELL_SUB]
                    if cfg[SLIP] > 0:
                        px = _round_tick(px + cfg[SLIP] if buy else px - cfg[SLIP], cfg[TICK])
                    q = pend_qty
                    if q == 0.0:
                        budget = bal * cfg[SIZE_VALUE] - max(cfg[PER_ORDER], 0.0)
                        unit = px * mult * (1.0 + cfg[PCT]) + cfg[PER_UNIT]
                        q = _floor_lot(budget / unit, cfg[LOT]) if budget > 0 and unit > 0 else 0.0
                    fee = _fee(q, px, cfg)
                    need = q * px * mult * cfg[MARGIN]
                    if q <= 0 or need > bal - fee + 1e-9:
                        rejected += 1
                    else:
                        bal -= fee
                        pos = q if buy else -q
                        avg = px
                        open_cost = fee
                        entry_bar = t
                        w_sl = pend_sl
                        w_tp = pend_tp
                    pend_dir = 0
            else:
                pend_close = want_close
                pend_dir = d
                pend_qty = q_fixed if q_fixed >= 0 else 0.0
                if q_fixed < 0:
                    pend_dir = 0
                pend_sl = sl_px[t] if d != 0 else np.nan
                pend_tp = tp_px[t] if d != 0 else np.nan
        # ---- marks for risk-adjusted statistics
        eq = bal + pos * (c[t] - avg) * mult
        if eq > peak:
            peak = eq
        dd = eq / peak - 1.0
        if dd < maxdd:
            maxdd = dd
        if day_end[t]:
            r = eq / last_day_eq - 1.0 if last_day_eq > 0 else 0.0
            rsum += r
            rsq += r * r
            rdown += min(r, 0.0) ** 2
            ndays += 1
            last_day_eq = eq
    final = bal + pos * (c[n - 1] - avg) * mult if n else bal
    stats[S_FINAL] = final
    stats[S_TRADES] = trades
    stats[S_RETURN] = final / cash0 - 1.0
    stats[S_MAXDD] = maxdd
    if ndays > 1:
        mean = rsum / ndays
        var = (rsq - ndays * mean * mean) / (ndays - 1)
        stats[S_SHARPE] = mean / math.sqrt(var) * math.sqrt(cfg[PPY]) if var > 0 else np.nan
        dd_dev = math.sqrt(rdown / ndays)
        stats[S_SORTINO] = mean / dd_dev * math.sqrt(cfg[PPY]) if dd_dev > 0 else np.nan
    else:
        stats[S_SHARPE] = np.nan
        stats[S_SORTINO] = np.nan
    stats[S_GROSS_WIN] = gwin
    stats[S_GROSS_LOSS] = gloss
    stats[S_WINS] = wins
    stats[S_REJECTED] = rejected
    stats[S_CALMAR] = np.nan
    return stats


@njit(cache=True, parallel=True)
def simulate_many(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    sigs: np.ndarray,
    sl_px: np.ndarray,
    tp_px: np.ndarray,
    risk_dist: np.ndarray,
    day_end: np.ndarray,
    cfg: np.ndarray,
) -> np.ndarray:
    """Stats for each row of `sigs` (one parameter set per row), run in parallel across rows."""
    m = sigs.shape[0]
    out = np.empty((m, N_STATS))
    dummy = np.zeros((1, 7))
    for j in prange(m):
        sl = sl_px[j] if sl_px.shape[0] == m else sl_px[0]
        tp = tp_px[j] if tp_px.shape[0] == m else tp_px[0]
        out[j] = simulate(o, h, lo, c, sigs[j], sl, tp, risk_dist, day_end, cfg, False, dummy)
    return out
