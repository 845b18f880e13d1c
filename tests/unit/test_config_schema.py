"""traderbot.toml: defaults, the starter file, one clear sentence (file, line, field) per bad input, env
overrides and masked secrets."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from traderbot.config.diff import config_data, mask_text
from traderbot.config.loader import ConfigError, load_config, parse_config
from traderbot.config.schema import TraderbotConfig, default_config, json_schema_text
from traderbot.config.starter import starter_text
from traderbot.errors import UserError
from traderbot.risk.config import parse_risk_config

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "traderbot.toml", env or {})
    return str(info.value)


def test_defaults_are_valid_and_an_empty_file_means_defaults() -> None:
    cfg = default_config()
    assert cfg.service.mode == "paper" and cfg.account.starting_cash == Decimal(100000)
    assert [p.id for p in cfg.pairs] == ["EURUSD"] and cfg.pairs[0].params == {"fast": 20, "slow": 80}
    assert parse_config("", env={}) == cfg
    assert parse_config("# only a comment\n", env={}) == cfg


def test_the_starter_file_loads_back_with_the_answers(tmp_path: Path) -> None:
    text = starter_text(broker="oanda", currency="EUR", pairs=["EURUSD", "gbpusd"],
                        max_position_notional=Decimal(50000))  # fmt: skip
    path = tmp_path / "traderbot.toml"
    path.write_text(text)
    cfg = load_config(path, env={})
    assert [p.id for p in cfg.pairs] == ["EURUSD", "GBPUSD"]
    assert cfg.broker.name == "oanda" and cfg.account.currency == "EUR" and cfg.risk.account_currency == "EUR"
    assert cfg.risk.limits.max_position_notional == Decimal(50000)
    for section in ("[service]", "[account]", "[replay]", "[broker]", "[[pairs]]", "[risk]", "[training]",
                    "[cache]", "[shutdown]"):  # fmt: skip
        assert section in text


def test_a_bad_starter_answer_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ConfigError, match=r"broker.name = \"bogus\" is not a broker"):
        starter_text(broker="bogus")


PAIRS2 = '[[pairs]]\nid = "EURUSD"\n\n[[pairs]]\nid = "GBPUSD"\n'

BAD_INPUTS = [
    ("syntax", '[service]\nmode = \n', r"^traderbot.toml line 2, column 8: not valid TOML: invalid value"),
    ("unknown nested key", "[risk]\n\n[risk.limits]\nmax_order_notionl = 5\n",
     r"^traderbot.toml line 4: risk.limits.max_order_notionl is not a known setting; valid keys in "
     r"\[risk.limits\] are: max_order_quantity, max_order_notional"),
    ("unknown section", "[servce]\nport = 1\n", r"^traderbot.toml line 1: servce is not a known setting; "
     r"valid keys in the file are: service, account"),
    ("wrong type in pair 2", PAIRS2 + 'enabled = "yes"\n',
     r'^traderbot.toml line 6: pairs\[1\].enabled = "yes" should be a valid boolean$'),
    ("unknown pair id", PAIRS2.replace("GBPUSD", "XXXYYY"),
     r'^traderbot.toml line 5: pairs\[1\].id = "XXXYYY" is not a known instrument \(known instruments are '),
    ("unknown strategy", PAIRS2 + 'strategy = "foo"\n',
     r'^traderbot.toml line 6: pairs\[1\].strategy = "foo" is not a strategy \(built-ins: qfh, sma_cross'),
    ("bad strategy param", PAIRS2 + "params = { fast = 1, slow = 80 }\n",
     r"^traderbot.toml line 6: pairs\[1\].params = .* is refused by sma_cross: parameter fast=1 is out of "
     r"range"),
    ("bad param relation in a sub-table", PAIRS2 + "[pairs.params]\nfast = 90\nslow = 80\n",
     r"^traderbot.toml line 6: pairs\[1\].params = .* sma_cross needs fast < slow"),
    ("bad timeframe", PAIRS2 + 'timeframe = "7q"\n',
     r'^traderbot.toml line 6: pairs\[1\].timeframe = "7q" is not a timeframe \(use e.g. 1m, 15m, 1h\)$'),
    ("bad sizing", PAIRS2 + 'sizing = "lots"\n', r'^traderbot.toml line 6: pairs\[1\].sizing = "lots" is not a'),
    ("negative cash", '[account]\ncurrency = "USD"\nstarting_cash = "-5"\n',
     r'^traderbot.toml line 3: account.starting_cash = "-5" must be a positive amount'),
    ("speed 0", "[replay]\nspeed = 0\n", r"^traderbot.toml line 2: replay.speed = 0 is not a speed"),
    ("duplicate pair", PAIRS2.replace("GBPUSD", "eurusd"),
     r'^traderbot.toml line 5: pairs\[1\].id = "eurusd" is listed twice \(also pairs\[0\]\)'),
    ("live without broker", '[service]\nmode = "live"\n',
     r"^traderbot.toml line 2: broker.name must name a broker in live mode"),
    ("bad risk value", "[risk]\naccount_currency = \"USD\"\n\n[risk.limits]\nmax_order_quantity = 5\n"
     "max_order_notional = -5\n", r"^traderbot.toml line 6: risk.limits.max_order_notional: a limit must be a "
     r"positive number, got -5; remove it to switch the limit off$"),
    ("risk per-pair table", "[risk.limits.pairs.EURUSD]\nmax_order_notional = -1\n",
     r"^traderbot.toml line 2: risk.limits.pairs.EURUSD.max_order_notional: a limit must be a positive"),
    ("inline risk table", "risk = { limits = { max_order_notional = 0 } }\n",
     r"^traderbot.toml line 1: risk.limits.max_order_notional: a limit must be a positive number, got 0"),
    ("bad literal", '[service]\nmode = "demo"\n',
     r"^traderbot.toml line 2: service.mode = \"demo\" should be 'paper' or 'live'$"),
    ("bad port", "[service]\nport = 70000\n", r"^traderbot.toml line 2: service.port = 70000 is not a TCP port"),
    ("pairs as a table", '[pairs]\nid = "EURUSD"\n', r"^traderbot.toml line 1: pairs = .* should be a list of "),
    ("bad objective", '[training]\nobjective = "luck"\n', r'training.objective = "luck" is not an objective'),
    ("bad cache value", "[cache]\nmax_missing_pct = 150\n", r"line 2: cache.max_missing_pct = 150 must be a "),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_a_bad_input_is_one_sentence_naming_the_file_line_and_field(
    case: str, text: str, expected: str
) -> None:
    message = _error(text)
    assert "\n" not in message
    assert re.search(expected, message), message


def test_the_risk_section_is_exactly_the_risk_configuration() -> None:
    cfg = parse_config("[risk.limits]\nmax_order_quantity = 5000\n[risk.flow]\nmax_submits = 3\n", env={})
    assert cfg.risk == parse_risk_config({"limits": {"max_order_quantity": 5000}, "flow": {"max_submits": 3}})
    with pytest.raises(UserError, match="a limit must be a positive number, got -5"):
        parse_risk_config({"limits": {"max_order_notional": -5}})


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"config file .*nope.toml not found: create one with `traderbot init"
    ):
        load_config(tmp_path / "nope.toml", env={})


def test_more_problems_are_counted_after_the_first() -> None:
    assert _error("[service]\nport = 0\nmode = 1\n").endswith("(1 more problem after this one)")


def test_an_environment_variable_overrides_the_file() -> None:
    text = '[service]\nport = 8080\ndatabase_url = "sqlite:///a.db"\n[shutdown]\nflatten = false\n'
    env = {"TRADERBOT__SERVICE__PORT": "9000", "TRADERBOT__SHUTDOWN__FLATTEN": "true",
           "TRADERBOT__SERVICE__DATABASE_URL": "postgresql+psycopg://bot:pw@db/tb",
           "TRADERBOT__RISK__LIMITS__MAX_ORDER_NOTIONAL": "250000", "TRADERBOT_DB_URL": "ignored"}  # fmt: skip
    cfg = parse_config(text, env=env)
    assert cfg.service.port == 9000 and cfg.shutdown.flatten is True
    assert cfg.service.database_url == "postgresql+psycopg://bot:pw@db/tb"
    assert cfg.risk.limits.max_order_notional == Decimal(250000)
    assert parse_config("", env={"TRADERBOT__SERVICE__TRADER_ID": "123"}).service.trader_id == "123"


def test_a_bad_environment_value_names_the_variable_not_a_line() -> None:
    msg = _error("[service]\nport = 8080\n", {"TRADERBOT__SERVICE__PORT": "abc"})
    assert msg == ('traderbot.toml: environment variable TRADERBOT__SERVICE__PORT: service.port = "abc" should be '
                   "a valid integer")  # fmt: skip
    assert "is not a known setting" in _error("", {"TRADERBOT__SERVIC__PORT": "1"})
    assert "pairs are set in the file" in _error("", {"TRADERBOT__PAIRS__ID": "X"})


def test_secrets_are_never_printed() -> None:
    msg = _error("", {"TRADERBOT__BROKER__API_KEY": "sk-live-123"})
    assert "sk-live-123" not in msg and "broker.api_key is not a known setting" in msg
    cfg = parse_config("", env={"TRADERBOT__SERVICE__DATABASE_URL": "postgresql+psycopg://bot:hunter2@db/tb"})
    assert config_data(cfg)["service"]["database_url"] == "postgresql+psycopg://bot:***@db/tb"
    assert config_data(cfg, masked=False)["service"]["database_url"].endswith("hunter2@db/tb")
    masked = mask_text('url = "redis://:s3cret@h:6379/0"\napi_key = "abc"\nx = { my_token = "t", n = 1 }\n')
    assert "s3cret" not in masked and "abc" not in masked and '"t"' not in masked and "n = 1" in masked


def test_the_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(ValueError):
        cfg.service.port = 1  # type: ignore[misc]
    assert isinstance(cfg, TraderbotConfig)


def test_the_json_schema_in_the_docs_is_generated_from_the_model() -> None:
    committed = (DOCS / "config.schema.json").read_text()
    assert committed == json_schema_text(), (
        "docs/config.schema.json is out of date: regenerate it with "
        "`.venv/bin/python -m traderbot.config.schema > docs/config.schema.json`"
    )
