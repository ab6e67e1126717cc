"""the parts of a running replywatch that are not working (a lane stuck past its deadline, the chart uploads, the
metrics server), for `health` and `status` in another process; how many mentions an instance's filter held

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parts",
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_parts")),
    )
    with op.batch_alter_table("poll_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filtered", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("poll_cursors", schema=None) as batch_op:
        batch_op.drop_column("filtered")
    op.drop_table("parts")
