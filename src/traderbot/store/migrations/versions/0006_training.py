"""training queue: jobs (priority queue with retries, progress and heartbeats) and runs (one row per attempt)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pair", sa.String(32), nullable=False, index=True),
        sa.Column("active_pair", sa.String(32), nullable=True, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fn", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("timeout_s", sa.Float, nullable=False),
        sa.Column("not_before", sa.BigInteger, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("started", sa.BigInteger, nullable=True),
        sa.Column("finished", sa.BigInteger, nullable=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("eta_s", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("heartbeat", sa.BigInteger, nullable=True),
        sa.Column("notified", sa.Integer, nullable=False),
    )
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, nullable=False, index=True),
        sa.Column("pair", sa.String(32), nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started", sa.BigInteger, nullable=True),
        sa.Column("finished", sa.BigInteger, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=True),
        sa.Column("in_sample", sa.Text, nullable=True),
        sa.Column("out_of_sample", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("training_runs")
    op.drop_table("training_jobs")
