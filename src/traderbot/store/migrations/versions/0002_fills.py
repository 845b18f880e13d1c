"""fills: every execution applied to an order (or adopted from the broker), the source of positions on restart

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.String(80), nullable=False),
        sa.Column("strategy_id", sa.String(64), nullable=False),
        sa.Column("instrument_id", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.String(40), nullable=False),
        sa.Column("price", sa.String(40), nullable=False),
        sa.Column("commission", sa.String(40), nullable=False, server_default="0"),
        sa.Column("commission_currency", sa.String(8), nullable=False, server_default=""),
        sa.Column("venue_order_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("external", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("trader_id", "client_order_id", "trade_id", name="uq_fills_trade"),
    )
    op.create_index("ix_fills_trader_ts", "fills", ["trader_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_fills_trader_ts", "fills")
    op.drop_table("fills")
