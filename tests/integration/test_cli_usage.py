"""Usage mistakes on any command end with click's short message and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from traderbot.cli import main


def test_a_missing_argument_is_a_usage_error_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "state", "system"]) == 2
    err = capsys.readouterr().err
    assert "Missing argument" in err and "Traceback" not in err


def test_an_unknown_option_is_a_usage_error_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pairs", "--no-such-flag"]) == 2
    assert "No such option" in capsys.readouterr().err
