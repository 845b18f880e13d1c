"""the live service's record: append-only event log, account snapshots, current positions

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# BIGINT ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key
LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("id", LOG_ID, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_event_log_trader", "event_log", ["trader_id", "id"])
    op.create_index("ix_event_log_topic", "event_log", ["trader_id", "topic", "id"])
    op.create_table(
        "account_snapshots",
        sa.Column("id", LOG_ID, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("balance", sa.String(60), nullable=False),
        sa.Column("equity", sa.String(60), nullable=False),
        sa.Column("margin_used", sa.String(60), nullable=False),
        sa.Column("free_margin", sa.String(60), nullable=False),
        sa.Column("open_positions", sa.Integer, nullable=False),
    )
    op.create_index("ix_account_snapshots_ts", "account_snapshots", ["trader_id", "ts"])
    op.create_table(
        "positions",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("strategy_id", sa.String(64), primary_key=True),
        sa.Column("instrument_id", sa.String(32), primary_key=True),
        sa.Column("quantity", sa.String(40), nullable=False),
        sa.Column("avg_price", sa.String(60), nullable=False),
        sa.Column("realized_pnl", sa.String(60), nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("positions")
    op.drop_index("ix_account_snapshots_ts", table_name="account_snapshots")
    op.drop_table("account_snapshots")
    op.drop_index("ix_event_log_topic", table_name="event_log")
    op.drop_index("ix_event_log_trader", table_name="event_log")
    op.drop_table("event_log")
