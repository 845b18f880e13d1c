"""/api/v1/pairs/{pair}/bars: a pair's latest closed bars as the running service sees them (for the price chart)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query

from traderbot.api.context import ApiContext, api_context
from traderbot.api.errors import ApiError
from traderbot.api.routes_pairs import PairId, _known
from traderbot.api.views import iso

Ctx = Depends(api_context)


async def pair_bars(pair: str = PairId, limit: int = Query(300, ge=1, le=5000),
                    ctx: ApiContext = Ctx) -> dict[str, Any]:  # fmt: skip
    """The pair's latest `limit` closed bars (never a bar not yet closed), prices as exact decimals; empty
    until the service has loaded the pair. Runs on the service's loop, so it reads the kernel between events."""
    rec = _known(ctx.registry, pair)
    kernel = getattr(ctx.service, "kernel", None)
    if kernel is None:
        raise ApiError(503, "bars come from the running service and none is running here: open the "
                            "dashboard of `traderbot run` (`traderbot api` serves stored data only)")  # fmt: skip
    cache = kernel.cache
    idx = cache.primary.get(rec.pair)
    if idx is None:
        return {"pair": rec.pair, "timeframe": rec.timeframe, "bars": []}
    series, n = cache.series[idx], cache.visible[idx]
    px = cache.instruments[rec.pair].price_to_decimal
    bars = [{"time": iso(int(series.ts[i])), "open": str(px(float(series.open[i]))),
             "high": str(px(float(series.high[i]))), "low": str(px(float(series.low[i]))),
             "close": str(px(float(series.close[i])))} for i in range(max(0, n - limit), n)]  # fmt: skip
    return {"pair": rec.pair, "timeframe": str(series.timeframe), "bars": bars}
