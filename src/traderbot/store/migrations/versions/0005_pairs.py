"""the pair registry: pairs with their lifecycle state, their audit trail and parameter versions

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pairs",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(200), nullable=False),
        sa.Column("active_version", sa.Integer, nullable=True),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.Column("row_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "pair_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("pair", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("previous", sa.String(16), nullable=True),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_pair_events_pair", "pair_events", ["trader_id", "pair", "id"])
    op.create_table(
        "pair_params",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("strategy", sa.String(200), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_pair_events_pair", table_name="pair_events")
    for name in ("pair_params", "pair_events", "pairs"):
        op.drop_table(name)
