"""The risk configuration is refused as a whole, naming each bad field, and nothing is applied."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.risk.config import load_risk_config, parse_risk_config
from traderbot.risk.config_sections import LimitsConfig

GOOD = """
[risk]
account_currency = "USD"
market_hours = true

[risk.limits]
max_order_notional = 100000
max_position_notional = 200000
max_portfolio_notional = 500000
currency_limits = { CHF = 50000, jpy = 80000 }

[risk.limits.pairs.EURUSD]
max_position_notional = 50000

[risk.collar]
max_deviation_pct = 3
max_age_s = 120

[risk.flow]
duplicate_window_s = 2
max_submits = 20

[risk.correlation]
max_positions = 2
threshold = 0.85
"""


def test_a_valid_file_loads_with_every_section(tmp_path: Path) -> None:
    f = tmp_path / "risk.toml"
    f.write_text(GOOD)
    cfg = load_risk_config(f)
    assert cfg.limits.max_order_notional == D(100000)
    assert cfg.limits.pair("EURUSD", "max_position_notional") == D(50000)
    assert cfg.limits.pair("GBPUSD", "max_position_notional") == D(200000)
    assert cfg.limits.currency_limits == {"CHF": D(50000), "JPY": D(80000)}
    assert cfg.collar is not None and cfg.collar.max_age_s == 120
    assert cfg.market_hours


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"limits": {"max_order_notional": -5}}, "risk.limits", "positive"),
        (
            {"limits": {"min_order_notional": 500, "max_order_notional": 100}},
            "risk.limits",
            "min_order_notional",
        ),
        ({"limits": {"max_position_notional": 9, "max_portfolio_notional": 5}}, "risk.limits", "<="),
        (
            {"limits": {"currency_limits": {"XYZ": 5}}},
            "risk.limits.currency_limits",
            "unknown currency 'XYZ'",
        ),
        ({"account_currency": "usdollar"}, "risk.account_currency", "unknown currency"),
        (
            {"limits": {"pairs": {"EURUSD": {"max_order_quantity": 0}}}},
            "risk.limits.pairs.EURUSD",
            "positive",
        ),
        ({"collar": {"max_deviation_pct": 150}}, "risk.collar", "(0, 100]"),
        ({"flow": {"max_submits": 0}}, "risk.flow", "max_submits must be a positive"),
        ({"correlation": {"threshold": 1.5}}, "risk.correlation", "threshold"),
        ({"margin": {"min_free_margin_pct": 100}}, "risk.margin.min_free_margin_pct", "[0, 100)"),
        ({"limits": {"max_order_notionl": 5}}, "risk.limits.max_order_notionl", "not a known setting"),
        ({"limits": {"max_order_notional": "lots"}}, "risk.limits.max_order_notional", "lots"),
        (
            {"account_currency": "USD", "limits": {"currency_limits": {"USD": 5}}},
            "risk",
            "account currency USD",
        ),
    ],
)
def test_an_impossible_or_contradictory_value_is_refused_naming_the_field(
    body: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(UserError) as err:
        parse_risk_config({"risk": body}, "risk.toml")
    text = str(err.value)
    assert text.startswith("risk.toml refused, nothing applied: ")
    assert field in text and words in text, text
    assert "\n" not in text


def test_a_missing_or_broken_file_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_risk_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk\nx = ")
    with pytest.raises(UserError, match="not valid TOML"):
        load_risk_config(bad)


def test_a_refused_config_leaves_the_running_chain_untouched(tmp_path: Path) -> None:
    k = Kernel()
    k.risk.configure_limits(LimitsConfig(max_order_quantity=D(10)))
    before = (k.risk.config, list(k.risk._pre), list(k.risk._sized))
    with pytest.raises(UserError):
        k.risk.apply(parse_risk_config({"limits": {"max_order_quantity": -1}}))
    assert (k.risk.config, list(k.risk._pre), list(k.risk._sized)) == before
    assert k.risk.config is not None and k.risk.config.limits.max_order_quantity == D(10)


def test_the_example_configuration_in_the_docs_is_valid() -> None:
    import tomllib

    text = (Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()
    start = text.index("```toml\n") + len("```toml\n")
    doc = tomllib.loads(text[start : text.index("```", start)])
    del doc["risk"]["news"]  # names a calendar file that only exists on the reader's machine
    cfg = parse_risk_config(doc, "docs/risk.md")
    assert cfg.protections is not None and cfg.market is not None and cfg.system is not None
