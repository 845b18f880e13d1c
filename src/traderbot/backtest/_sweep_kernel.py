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
    S_OPEN,
) = range(12)
N_STATS = 12
# simulator state (float64 array)
(
    ST_BAL,
    ST_POS,
    ST_AVG,
    ST_OPEN_COST,
    ST_ENTRY_BAR,
    ST_PEND_CLOSE,
    ST_PEND_DIR,
    ST_PEND_QTY,
    ST_PEND_SL,
    ST_PEND_TP,
    ST_SL,
    ST_TP,
    ST_TRADES,
    ST_WINS,
    ST_GWIN,
    ST_GLOSS,
    ST_REJECTED,
) = range(17)
N_ST = 17


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


@njit(cache=True, inline="always")
def _entry_qty(bal: float, px: float, cfg: np.ndarray) -> float:
    """All-in/fraction sizing at the fill price, as brokers.sim.funds.size_from_equity (min fee included)."""
    total = bal * cfg[SIZE_VALUE]
    unit = px * cfg[MULT] * (1.0 + cfg[PCT]) + cfg[PER_UNIT]
    if unit <= 0:
        return 0.0
    q = (
        _floor_lot((total - max(cfg[PER_ORDER], 0.0)) / unit, cfg[LOT])
        if total > max(cfg[PER_ORDER], 0.0)
        else 0.0
    )
    if q > 0:
        fee = _fee(q, px, cfg)
        if q * px * cfg[MULT] + fee > total:
            q = _floor_lot((total - fee) / (px * cfg[MULT]), cfg[LOT]) if total > fee else 0.0
    return q


@njit(cache=True)
def _close(st: np.ndarray, px: float, t: int, record: bool, tr_out: np.ndarray, cfg: np.ndarray) -> None:
    """Close the whole position at px (state array st: see the ST_* indices)."""
    pos = st[ST_POS]
    q = abs(pos)
    fee = _fee(q, px, cfg)
    sign = 1.0 if pos > 0 else -1.0
    gross = q * (px - st[ST_AVG]) * sign * cfg[MULT]
    st[ST_BAL] += gross - fee
    pnl = gross - (st[ST_OPEN_COST] + fee)
    k = int(st[ST_TRADES])
    if record:
        tr_out[k, 0] = st[ST_ENTRY_BAR]
        tr_out[k, 1] = t
        tr_out[k, 2] = sign
        tr_out[k, 3] = q
        tr_out[k, 4] = st[ST_AVG]
        tr_out[k, 5] = px
        tr_out[k, 6] = pnl
    st[ST_TRADES] += 1
    if pnl > 0:
        st[ST_WINS] += 1
        st[ST_GWIN] += pnl
    else:
        st[ST_GLOSS] -= pnl
    st[ST_POS] = 0.0
    st[ST_AVG] = 0.0
    st[ST_OPEN_COST] = 0.0
    st[ST_SL] = np.nan
    st[ST_TP] = np.nan


@njit(cache=True)
def _fill_pending(
    st: np.ndarray, price: float, t: int, record: bool, tr_out: np.ndarray, cfg: np.ndarray
) -> None:
    """Fill the pending market orders at `price` (data side): the close first, then the entry."""
    if st[ST_PEND_CLOSE] > 0 and st[ST_POS] != 0:
        px = price + cfg[BUY_ADD] if st[ST_POS] < 0 else price - cfg[SELL_SUB]
        if cfg[SLIP] > 0:
            px = _round_tick(px + cfg[SLIP] if st[ST_POS] < 0 else px - cfg[SLIP], cfg[TICK])
        _close(st, px, t, record, tr_out, cfg)
    st[ST_PEND_CLOSE] = 0.0
    d = st[ST_PEND_DIR]
    if d != 0:
        buy = d > 0
        px = price + cfg[BUY_ADD] if buy else price - cfg[SELL_SUB]
        if cfg[SLIP] > 0:
            px = _round_tick(px + cfg[SLIP] if buy else px - cfg[SLIP], cfg[TICK])
        q = st[ST_PEND_QTY] if st[ST_PEND_QTY] != 0.0 else _entry_qty(st[ST_BAL], px, cfg)
        fee = _fee(q, px, cfg)
        if q <= 0 or q * px * cfg[MULT] * cfg[MARGIN] > st[ST_BAL] - fee + 1e-9:
            st[ST_REJECTED] += 1
        else:
            st[ST_BAL] -= fee
            st[ST_POS] = q if buy else -q
            st[ST_AVG] = px
            st[ST_OPEN_COST] = fee
            st[ST_ENTRY_BAR] = t
            st[ST_SL] = st[ST_PEND_SL]
            st[ST_TP] = st[ST_PEND_TP]
        st[ST_PEND_DIR] = 0.0


@njit(cache=True)
def _bracket_exit(st: np.ndarray, o: float, h: float, lo: float, cfg: np.ndarray) -> float:
    """Exit price of the working stop loss (checked first) or take profit on this bar, or NaN."""
    long = st[ST_POS] > 0
    sl, tp = st[ST_SL], st[ST_TP]
    if sl == sl:
        if long:
            bo, bl = o - cfg[SELL_SUB], lo - cfg[SELL_SUB]
            if bl <= sl:
                px = bo if bo <= sl else sl
                return _round_tick(px - cfg[SLIP], cfg[TICK]) if cfg[SLIP] > 0 else px
        else:
            ao, ah = o + cfg[BUY_ADD], h + cfg[BUY_ADD]
            if ah >= sl:
                px = ao if ao >= sl else sl
                return _round_tick(px + cfg[SLIP], cfg[TICK]) if cfg[SLIP] > 0 else px
    if tp == tp:
        if long:
            bo, bh = o - cfg[SELL_SUB], h - cfg[SELL_SUB]
            if bh >= tp:
                return max(bo, tp)
        else:
            ao, al = o + cfg[BUY_ADD], lo + cfg[BUY_ADD]
            if al <= tp:
                return min(ao, tp)
    return np.nan


@njit(cache=True)
def _decide(
    st: np.ndarray,
    s: int,
    t: int,
    c: np.ndarray,
    sl_px: np.ndarray,
    tp_px: np.ndarray,
    risk_dist: np.ndarray,
    cfg: np.ndarray,
) -> None:
    """The signal rule at the close of bar t: set the pending close/entry (sizes known now are fixed now)."""
    pos = st[ST_POS]
    want_close = (s > 0 and pos < 0) or (s < 0 and pos > 0)
    d = 0
    if s > 0 and pos <= 0:
        d = 1
    elif s < 0 and pos >= 0 and not cfg[LONG_ONLY]:
        d = -1
    if want_close:  # the position's own bracket goes with it
        st[ST_SL] = np.nan
        st[ST_TP] = np.nan
    q_fixed = 0.0
    if d != 0 and cfg[SIZING] == 1.0:
        q_fixed = _floor_lot(cfg[SIZE_VALUE], cfg[LOT]) if cfg[LOT] > 0 else cfg[SIZE_VALUE]
    elif d != 0 and cfg[SIZING] == 2.0:
        eq_now = st[ST_BAL] + pos * (c[t] - st[ST_AVG]) * cfg[MULT]
        dist = abs(c[t] - sl_px[t]) if sl_px[t] == sl_px[t] else risk_dist[t]
        q_fixed = (
            _floor_lot(eq_now * cfg[SIZE_VALUE] / 100.0 / (dist * cfg[MULT]), cfg[LOT]) if dist > 0 else -1.0
        )
    st[ST_PEND_CLOSE] = 1.0 if want_close else 0.0
    st[ST_PEND_DIR] = d if q_fixed >= 0 else 0
    st[ST_PEND_QTY] = max(q_fixed, 0.0)
    st[ST_PEND_SL] = sl_px[t] if d != 0 else np.nan
    st[ST_PEND_TP] = tp_px[t] if d != 0 else np.nan


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
    eq_out: np.ndarray,
) -> np.ndarray:
    """Stats of one parameter set; with `record`, trades go to tr_out; with a non-empty eq_out, the equity at
    each day end (day k's at eq_out[k]) goes there (training measures windows on it)."""
    n = len(c)
    rec_eq = len(eq_out) > 0
    cash0 = cfg[CASH]
    st = np.zeros(N_ST)
    st[ST_BAL] = cash0
    st[ST_SL] = np.nan
    st[ST_TP] = np.nan
    peak = cash0
    maxdd = 0.0
    last_day_eq = cash0
    rsum = 0.0
    rsq = 0.0
    rdown = 0.0
    ndays = 0
    fill_close = cfg[FILL_CLOSE] > 0
    mult = cfg[MULT]
    t = 0
    while t < n:
        # ---- full processing of bar t: pending fills, bracket exits, the signal, marks
        changed = False  # a fill this bar: equity may have moved even if flat now
        if not fill_close and (st[ST_PEND_CLOSE] > 0 or st[ST_PEND_DIR] != 0):
            _fill_pending(st, o[t], t, record, tr_out, cfg)
            changed = True
        pos = st[ST_POS]
        if pos != 0 and (st[ST_SL] == st[ST_SL] or st[ST_TP] == st[ST_TP]):
            px = _bracket_exit(st, o[t], h[t], lo[t], cfg)
            if px == px:
                _close(st, px, t, record, tr_out, cfg)
                changed = True
                pos = 0.0
        s = sig[t]
        if s != 0 and t < n - 1:
            _decide(st, s, t, c, sl_px, tp_px, risk_dist, cfg)
            if fill_close:
                _fill_pending(st, c[t], t, record, tr_out, cfg)
                changed = True
                pos = st[ST_POS]
        bal = st[ST_BAL]
        eq = bal
        if pos != 0 or changed:  # flat bars cannot move equity, its peak or the drawdown
            eq = bal + pos * (c[t] - st[ST_AVG]) * mult
            if eq > peak:
                peak = eq
            dd = eq / peak - 1.0
            if dd < maxdd:
                maxdd = dd
        if day_end[t]:
            ndays += 1
            if rec_eq:
                eq_out[ndays - 1] = eq
            if eq != last_day_eq:  # an unchanged day has r == 0 exactly: nothing to add
                r = eq / last_day_eq - 1.0 if last_day_eq > 0 else 0.0
                rsum += r
                rsq += r * r
                if r < 0.0:
                    rdown += r * r
                last_day_eq = eq
        t += 1
        # ---- fast-forward: with nothing pending and no working bracket, only marks change until the
        # next signal, so bars up to it get only the bookkeeping above (no event can happen on them)
        if st[ST_PEND_CLOSE] > 0 or st[ST_PEND_DIR] != 0 or st[ST_SL] == st[ST_SL] or st[ST_TP] == st[ST_TP]:
            continue
        avg = st[ST_AVG]
        while t < n and sig[t] == 0:
            eq = bal
            if pos != 0:
                eq = bal + pos * (c[t] - avg) * mult
                if eq > peak:
                    peak = eq
                dd = eq / peak - 1.0
                if dd < maxdd:
                    maxdd = dd
            if day_end[t]:
                ndays += 1
                if rec_eq:
                    eq_out[ndays - 1] = eq
                if eq != last_day_eq:
                    r = eq / last_day_eq - 1.0 if last_day_eq > 0 else 0.0
                    rsum += r
                    rsq += r * r
                    if r < 0.0:
                        rdown += r * r
                    last_day_eq = eq
            t += 1
    stats = np.zeros(N_STATS)
    final = st[ST_BAL] + st[ST_POS] * (c[n - 1] - st[ST_AVG]) * mult if n else st[ST_BAL]
    stats[S_FINAL] = final
    stats[S_TRADES] = st[ST_TRADES]
    stats[S_RETURN] = final / cash0 - 1.0
    stats[S_MAXDD] = maxdd
    stats[S_SHARPE] = np.nan
    stats[S_SORTINO] = np.nan
    if ndays > 1:
        mean = rsum / ndays
        var = (rsq - ndays * mean * mean) / (ndays - 1)
        if var > 0:
            stats[S_SHARPE] = mean / math.sqrt(var) * math.sqrt(cfg[PPY])
        dd_dev = math.sqrt(rdown / ndays)
        if dd_dev > 0:
            stats[S_SORTINO] = mean / dd_dev * math.sqrt(cfg[PPY])
    stats[S_GROSS_WIN] = st[ST_GWIN]
    stats[S_GROSS_LOSS] = st[ST_GLOSS]
    stats[S_WINS] = st[ST_WINS]
    stats[S_REJECTED] = st[ST_REJECTED]
    stats[S_CALMAR] = np.nan
    stats[S_OPEN] = 1.0 if st[ST_POS] != 0 else 0.0
    return stats


def _simulate_many(
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
    no_eq = np.zeros(0)
    for j in prange(m):
        sl = sl_px[j] if sl_px.shape[0] == m else sl_px[0]
        tp = tp_px[j] if tp_px.shape[0] == m else tp_px[0]
        out[j] = simulate(o, h, lo, c, sigs[j], sl, tp, risk_dist, day_end, cfg, False, dummy, no_eq)
    return out


# one body, two compilations: threads only pay off on large grids (thread start-up costs ~ms on 2 cores)
_many_serial = njit(cache=True)(_simulate_many)
_many_parallel = njit(cache=True, parallel=True)(_simulate_many)
PARALLEL_MIN_WORK = 2_000_000  # bars x parameter sets


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
    """Stats for each row of `sigs` (one parameter set per row); parallel across rows on large grids."""
    fn = _many_parallel if len(c) * sigs.shape[0] >= PARALLEL_MIN_WORK else _many_serial
    return fn(o, h, lo, c, sigs, sl_px, tp_px, risk_dist, day_end, cfg)
