"""qfh: trades the QFH engine's BUY/SELL signals (../shared/specs/qfh.md), computed causally per bar.

Exits: the opposite signal, and with `spec_exits` the original's live-path bracket: stop loss
20 * (2 - coherence) pips and take profit 60 * confidence pips from the signal bar's close.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traderbot.indicators.qfh import QFH_PARAMS, qfh
from traderbot.strategies.params import BoolParam, ChoiceParam, FloatParam, IntParam
from traderbot.strategies.signal_strategy import SignalStrategy


class Qfh(SignalStrategy):
    name = "qfh"
    description = "QFH pattern engine signals (causal), optional spec stop-loss/take-profit"
    window = IntParam(11, low=3, high=64, doc="bits in the pattern window W")
    tie_rule = ChoiceParam("zero", ("zero", "repeat_prev"), doc="bit for an unchanged close")
    min_move_pips = FloatParam(0.0, low=0.0, high=10.0, step=0.5, doc="moves within +/- this are ties")
    buy_threshold = FloatParam(0.50, low=0.3, high=0.9, step=0.02, doc="buy score threshold")
    sell_threshold = FloatParam(0.52, low=0.3, high=0.9, step=0.02, doc="sell score threshold")
    conf_min = FloatParam(0.0, low=0.0, high=1.5, step=0.05, doc="minimum confidence to trade")
    coh_min = FloatParam(0.0, low=0.0, high=1.0, step=0.05, doc="minimum coherence C'")
    stab_min = FloatParam(0.0, low=0.0, high=1.0, step=0.05, doc="minimum stability S")
    volatility_adaptation = BoolParam(True, doc="scale thresholds with the recent range")
    spec_exits = BoolParam(False, doc="use the spec's stop loss / take profit brackets")
    sl_pips_base = FloatParam(20.0, low=1.0, high=200.0, doc="stop loss = base * (2 - coherence) pips")
    tp_pips_base = FloatParam(60.0, low=1.0, high=400.0, doc="take profit = base * confidence pips")

    pip_size: float = 0.0001

    def on_start(self) -> None:
        self.pip_size = float(self.ctx.k.cache.instruments[self.instrument_id].pip_size)
        super().on_start()

    def _qfh_params(self) -> dict[str, Any]:
        keys = (
            "window",
            "tie_rule",
            "min_move_pips",
            "buy_threshold",
            "sell_threshold",
            "conf_min",
            "coh_min",
            "stab_min",
            "volatility_adaptation",
        )
        return {k: self.params[k] for k in keys if k in QFH_PARAMS}

    def features(self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> Any:
        return qfh(o, h, low, c, pip_size=self.pip_size, **self._qfh_params())

    def signals(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray
    ) -> np.ndarray:
        return np.asarray(self.features(o, h, low, c).signal, dtype=np.int8)

    def exit_distances(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.spec_exits:
            return None
        if len(c) <= 1:
            return np.zeros(len(c)), np.zeros(len(c))
        f = self.features(o, h, low, c)
        coh = np.nan_to_num(np.asarray(f.coherence, dtype=np.float64), nan=0.0)
        conf = np.nan_to_num(np.asarray(f.confidence, dtype=np.float64), nan=0.0)
        sl = self.sl_pips_base * (2.0 - coh) * self.pip_size
        tp = self.tp_pips_base * conf * self.pip_size
        return sl, tp
