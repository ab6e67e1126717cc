"""signal rules, Slack actions, escalations, digests

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
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_protected", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("priority", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("snoozed_by", sa.String(length=32), nullable=True))
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("rendered", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_digest_id"), ["digest_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_digest_id_digests"), "digests", ["digest_id"], ["id"], ondelete="CASCADE"
        )
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mention_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"], name=op.f("fk_actions_mention_id_mentions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
    )
    op.create_index(op.f("ix_actions_mention_id"), "actions", ["mention_id"], unique=False)
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_ts", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("thread_ts")
    op.drop_index(op.f("ix_actions_mention_id"), table_name="actions")
    op.drop_table("actions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_digest_id_digests"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_digest_id"))
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("rendered")
        batch_op.drop_column("revision")
        batch_op.drop_column("digest_id")
    op.drop_table("digests")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_column("author_id")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("snoozed_by")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("priority")
        batch_op.drop_column("author_protected")
