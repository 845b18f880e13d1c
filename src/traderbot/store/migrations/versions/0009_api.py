"""control-plane API: keys (hashed), the audit log of mutating calls, the command channel, the API's secrets

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# BIGINT ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("last_used_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "api_audit",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.Integer, nullable=True),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
    )
    op.create_index("ix_api_audit_ts", "api_audit", ["trader_id", "ts"])
    op.create_table(
        "service_commands",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("started", sa.BigInteger, nullable=True),
        sa.Column("finished", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_service_commands_status", "service_commands", ["trader_id", "status", "id"])
    op.create_table(
        "api_secrets",
        sa.Column("trader_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_secrets")
    op.drop_index("ix_service_commands_status", table_name="service_commands")
    op.drop_table("service_commands")
    op.drop_index("ix_api_audit_ts", table_name="api_audit")
    op.drop_table("api_audit")
    op.drop_table("api_keys")
