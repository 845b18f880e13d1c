"""backtests run through the API: request, status, summary and HTML report, and the process that ran each

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "backtest_jobs",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("started", sa.BigInteger, nullable=True),
        sa.Column("finished", sa.BigInteger, nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("report_html", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("heartbeat", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_backtest_jobs_trader", "backtest_jobs", ["trader_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_backtest_jobs_trader", table_name="backtest_jobs")
    op.drop_table("backtest_jobs")
