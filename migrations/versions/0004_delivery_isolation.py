"""delivery isolation: refusals, retry times and parking per message; Slack channel health

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("alerts", "digests", "notices")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("refusals", sa.Integer(), server_default="0", nullable=False))
            batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("parked", sa.Text(), nullable=True))
    op.create_table(
        "slack_channels",
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_slack_channels")),
    )


def downgrade() -> None:
    op.drop_table("slack_channels")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("parked")
            batch_op.drop_column("retry_at")
            batch_op.drop_column("refusals")
