"""Machine-readable reasons for denied orders. docs/risk.md's table is generated from this enum."""

from enum import StrEnum


class DenyReason(StrEnum):
    TRADING_HALTED = "no new orders while trading is halted"
    REDUCE_ONLY_STATE = "only risk-reducing orders pass while trading is reducing"
    UNKNOWN_INSTRUMENT = "the instrument is not known to the kernel"
    INVALID_QUANTITY = "quantity is NaN, infinite, zero or negative"
    INVALID_PRICE = "a limit/stop price is NaN, infinite, zero or negative"
    QUANTITY_PRECISION = "quantity is not a whole number of lots"
    BELOW_MIN_QUANTITY = "quantity is below the instrument's minimum"
    PRICE_PRECISION = "price is not a multiple of the tick size"
    QUANTITY_EXCEEDS_MAX = "quantity exceeds the maximum per order"
    NOTIONAL_EXCEEDS_MAX = "notional exceeds the maximum per order"
    REDUCE_ONLY_VIOLATION = "a reduce-only order would open or increase a position"
    DUPLICATE_CLIENT_ORDER_ID = "the client order id was used before"
    RECONCILING = "no new orders until reconciliation with the broker has finished (or after it failed)"
    PROTECTION_LOCK = (
        "a protection (daily loss, trades per day, losing streak, cooldown, drawdown) locked the scope"
    )
    CIRCUIT_BREAKER = (
        "a circuit breaker (gap, stale data, spread, broker errors, latency) tripped for the scope"
    )
    GUARD_LOCK = "a trading guard (volatility spike, spread) locked the scope"
    MANUAL_LOCK = "a person locked the scope for a while (traderbot risk lock)"
    KILL_SWITCH_ENGAGED = (
        "the kill switch is engaged: only its own flattening orders and protective exits pass"
    )
    MARKET_CLOSED = "the instrument's market is closed now (exchange calendar, FX weekend)"
    NEWS_BLACKOUT = (
        "inside the blackout window around a high-impact economic event for one of the pair's currencies"
    )
    NO_REFERENCE_PRICE = "there is no reference price to check the order against"
    STALE_REFERENCE_PRICE = "the reference price is older than the collar allows"
    PRICE_COLLAR = "the limit/stop price is too far from the reference price"
    BELOW_MIN_NOTIONAL = "notional is below the minimum per order"
    POSITION_LIMIT = "the pair's position would exceed its limit (open orders included)"
    OPEN_POSITIONS_LIMIT = "a new position would exceed the maximum number of open positions"
    STRATEGY_EXPOSURE_LIMIT = "the strategy's gross exposure would exceed its limit"
    PORTFOLIO_EXPOSURE_LIMIT = "the portfolio's gross exposure would exceed its limit"
    CURRENCY_EXPOSURE_LIMIT = (
        "the net exposure to one currency would exceed its limit (FX pairs count both currencies)"
    )
    INSUFFICIENT_MARGIN = "free margin does not cover the order and the open orders"
    CORRELATION_LIMIT = (
        "too many open positions would be the same bet (rolling return correlation above the cap)"
    )
    DUPLICATE_ORDER = "the same order was sent moments ago (duplicate-order window)"
    REPEATED_EXECUTION = "too many orders on the same pair and side in the throttle window"
    SUBMIT_RATE_LIMIT = "too many orders submitted in the rate window"
    CANCEL_RATE_LIMIT = "too many cancels in the rate window"

    @property
    def code(self) -> str:
        return self.name


def deny(reason: DenyReason, context: str) -> str:
    """A denial text: the reason code, then its context, e.g. `NOTIONAL_EXCEEDS_MAX: max=100000 USD, ...`."""
    return f"{reason.name}: {context}"


def reason_table_markdown() -> str:
    """The reason-code table for the docs, generated from the enum so docs and code cannot drift."""
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{r.name}` | {r.value} |" for r in DenyReason]
    return "\n".join(rows)
