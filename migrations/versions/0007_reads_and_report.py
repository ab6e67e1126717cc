"""what collection reads (the cost meter), the account's own posts and who answered (the report), counts by status
(/metrics)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reads",
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("posts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owned", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("network", "account", "day", "endpoint", name=op.f("pk_reads")),
    )
    op.create_table(
        "originals",
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("post_id", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", "account", "post_id", name=op.f("pk_originals")),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_handle", sa.String(200), nullable=True))
    op.create_index("ix_mentions_network_account_status", "mentions", ["network", "account", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mentions_network_account_status", table_name="mentions")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_column("author_handle")
    op.drop_table("originals")
    op.drop_table("reads")
