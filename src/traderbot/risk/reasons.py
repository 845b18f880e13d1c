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

    @property
    def code(self) -> str:
        return self.name


def reason_table_markdown() -> str:
    """The reason-code table for the docs, generated from the enum so docs and code cannot drift."""
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{r.name}` | {r.value} |" for r in DenyReason]
    return "\n".join(rows)
