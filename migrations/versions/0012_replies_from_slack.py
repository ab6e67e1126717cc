"""replies written in Slack: each a row before the first call to its network (what makes it posted once), and on
the mention, who answered it from Slack and with what

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_replies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column(
            "mention_id", sa.BigInteger(),
            sa.ForeignKey("mentions.id", name="fk_outgoing_replies_mention_id_mentions", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("direct", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_id", sa.String(300), nullable=True),
        sa.Column("url", sa.String(500), server_default="", nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.UniqueConstraint("key", name="uq_outgoing_replies_key"),
    )
    op.create_index("ix_outgoing_replies_state_retry_at", "outgoing_replies", ["state", "retry_at"])
    op.create_index("ix_outgoing_replies_mention_id", "outgoing_replies", ["mention_id"])
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_from", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("answer_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("answer_text")
        batch_op.drop_column("answered_from")
    op.drop_index("ix_outgoing_replies_mention_id", "outgoing_replies")
    op.drop_index("ix_outgoing_replies_state_retry_at", "outgoing_replies")
    op.drop_table("outgoing_replies")
