"""Diffs between two configurations: pairs by id, nested risk values, secrets masked, nothing when equal."""

from __future__ import annotations

from traderbot.config.diff import changed_sections, diff_configs
from traderbot.config.loader import parse_config
from traderbot.config.schema import TraderbotConfig

BASE = """
[service]
port = 8080
[[pairs]]
id = "EURUSD"
params = { fast = 20, slow = 80 }
[[pairs]]
id = "USDJPY"
[risk.limits]
max_order_notional = 2000000
"""


def _cfg(text: str) -> TraderbotConfig:
    return parse_config(text, env={})


def test_equal_configs_have_no_diff() -> None:
    assert diff_configs(_cfg(BASE), _cfg(BASE)) == []
    assert changed_sections(_cfg(BASE), _cfg(BASE + "\n# a comment only\n")) == []


def test_pairs_added_removed_and_changed_are_matched_by_id() -> None:
    new = BASE.replace('id = "USDJPY"', 'id = "GBPUSD"\ntimeframe = "1h"').replace("fast = 20", "fast = 30")
    lines = diff_configs(_cfg(BASE), _cfg(new))
    assert lines == [
        "pairs: - USDJPY 15m sma_cross",
        "pairs: + GBPUSD 1h sma_cross",
        "pairs.EURUSD.params.fast: 20 -> 30",
    ]
    assert changed_sections(_cfg(BASE), _cfg(new)) == ["pairs"]


def test_a_disabled_pair_and_a_reordering_show() -> None:
    disabled = BASE.replace('id = "USDJPY"', 'id = "USDJPY"\nenabled = false')
    assert diff_configs(_cfg(BASE), _cfg(disabled)) == ["pairs.USDJPY.enabled: true -> false"]
    swapped = BASE.replace('id = "EURUSD"', 'id = "TMP"').replace('id = "USDJPY"', 'id = "EURUSD"')
    swapped = swapped.replace('id = "TMP"', 'id = "USDJPY"').replace("params = { fast = 20, slow = 80 }", "")
    swapped = swapped.replace('id = "EURUSD"', 'id = "EURUSD"\nparams = { fast = 20, slow = 80 }')
    assert diff_configs(_cfg(BASE), _cfg(swapped)) == ["pairs: order EURUSD USDJPY -> USDJPY EURUSD"]


def test_nested_risk_values_are_named_by_their_dotted_path() -> None:
    new = BASE.replace("max_order_notional = 2000000", "max_order_notional = 1000000") + (
        "[risk.collar]\nmax_deviation_pct = 3\n"
    )
    lines = diff_configs(_cfg(BASE), _cfg(new))
    assert "risk.limits.max_order_notional: 2000000 -> 1000000" in lines
    assert (
        "risk.collar.max_deviation_pct: unset -> 3" in lines
        and "risk.collar.max_age_s: unset -> 300" in lines
    )
    assert changed_sections(_cfg(BASE), _cfg(new)) == ["risk"]


def test_sections_are_listed_in_the_apply_order_and_strings_are_quoted() -> None:
    new = BASE.replace("port = 8080", 'port = 9090\nhost = "0.0.0.0"') + "[shutdown]\nflatten = true\n"
    new += "[risk]\nmarket_hours = true\n"
    assert changed_sections(_cfg(BASE), _cfg(new)) == ["service", "risk", "shutdown"]
    lines = diff_configs(_cfg(BASE), _cfg(new))
    assert 'service.host: "127.0.0.1" -> "0.0.0.0"' in lines and "service.port: 8080 -> 9090" in lines
    assert "shutdown.flatten: false -> true" in lines


def test_secrets_are_masked_in_diffs() -> None:
    old = _cfg('[service]\ndatabase_url = "postgresql+psycopg://bot:old-pw@db/tb"\n')
    new = _cfg('[service]\ndatabase_url = "postgresql+psycopg://bot:new-pw@db/tb"\n'
               '[[pairs]]\nid = "EURUSD"\nparams = { fast = 20, slow = 80 }\n')  # fmt: skip
    lines = diff_configs(old, new)
    assert lines == ['service.database_url: "postgresql+psycopg://bot:***@db/tb" -> '
                     '"postgresql+psycopg://bot:***@db/tb"']  # fmt: skip
    assert not any("pw" in line for line in lines)
