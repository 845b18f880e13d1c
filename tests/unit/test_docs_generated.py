"""Generated documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from traderbot.risk.reasons import reason_table_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_risk_reason_table_in_the_docs_is_generated_from_the_enum() -> None:
    text = (DOCS / "risk.md").read_text()
    assert reason_table_markdown() in text
