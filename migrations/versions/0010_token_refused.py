"""whether a timeline's last read was refused its token, as a column of its own (it was a prefix of the error text)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("poll_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_refused", sa.Boolean(), server_default="0", nullable=False))
    poll_cursors = sa.table("poll_cursors", sa.column("last_error", sa.Text()), sa.column("token_refused", sa.Boolean()))
    op.execute(poll_cursors.update().where(poll_cursors.c.last_error.like("token refused%")).values(token_refused=True))


def downgrade() -> None:
    with op.batch_alter_table("poll_cursors", schema=None) as batch_op:
        batch_op.drop_column("token_refused")
