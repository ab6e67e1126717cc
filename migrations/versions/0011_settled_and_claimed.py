"""mentions: an index on when each stopped being open (the breaches /metrics counts are judged once each, in that
order), and when a mention was claimed (CLAIM_EXPIRES counts from it)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_mentions_closed_at", ["closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_closed_at")
        batch_op.drop_column("claimed_at")
