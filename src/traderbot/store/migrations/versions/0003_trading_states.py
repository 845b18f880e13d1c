"""trading states per scope (system, strategy, pair, and the kill switch) and their audit trail

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trading_states",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("scope", sa.String(80), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trading_state_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False, index=True),
        sa.Column("scope", sa.String(80), nullable=False),
        sa.Column("old", sa.String(16), nullable=False),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trading_state_audit")
    op.drop_table("trading_states")
