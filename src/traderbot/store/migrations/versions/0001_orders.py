"""orders and client-order id sequences

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(64), primary_key=True),
        sa.Column("trader_id", sa.String(32), nullable=False, index=True),
        sa.Column("strategy_id", sa.String(64), nullable=False, index=True),
        sa.Column("instrument_id", sa.String(32), nullable=False, index=True),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.String(40), nullable=False),
        sa.Column("price", sa.String(40), nullable=True),
        sa.Column("trigger_price", sa.String(40), nullable=True),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("reduce_only", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("filled_qty", sa.String(40), nullable=False, server_default="0"),
        sa.Column("filled_cost", sa.String(60), nullable=False, server_default="0"),
        sa.Column("venue_order_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("ts_init", sa.BigInteger, nullable=False),
        sa.Column("ts_last", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "id_sequences",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("strategy_id", sa.String(64), primary_key=True),
        sa.Column("next_seq", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("id_sequences")
    op.drop_table("orders")
