"""work found by what is due: due times on mentions and alerts, pending edits, reminder counts; state indexes

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
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_mentions_status_due_at", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_mentions_version_id", ["version_id"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminders", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("edit_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_alerts_state_follow_up_at", ["state", "follow_up_at"], unique=False)
        batch_op.create_index("ix_alerts_state_edit_at", ["state", "edit_at"], unique=False)
    op.create_index("ix_digests_state", "digests", ["state"], unique=False)
    op.create_table(
        "rules_seen",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rules_seen")),
    )
    op.create_index("ix_notices_state", "notices", ["state"], unique=False)
    # What the sweep used to work out on every tick, stored once: which open mentions wait for an alert (their
    # exact due time is worked out by the next sweep) and which alerts show less than they should.
    op.execute(
        "UPDATE mentions SET due_at = created_at WHERE status = 'open' "
        "AND NOT EXISTS (SELECT 1 FROM alerts WHERE alerts.mention_id = mentions.id)"
    )
    op.execute(
        "UPDATE alerts SET revision = revision + 1 WHERE state = 'sent' "
        "AND EXISTS (SELECT 1 FROM mentions WHERE mentions.id = alerts.mention_id AND mentions.status <> 'open')"
    )
    op.execute("UPDATE alerts SET edit_at = COALESCE(sent_at, created_at) WHERE state = 'sent' AND revision > rendered")


def downgrade() -> None:
    op.drop_table("rules_seen")
    op.drop_index("ix_notices_state", table_name="notices")
    op.drop_index("ix_digests_state", table_name="digests")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_state_edit_at")
        batch_op.drop_index("ix_alerts_state_follow_up_at")
        batch_op.drop_column("edit_at")
        batch_op.drop_column("reminders")
        batch_op.drop_column("follow_up_at")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_version_id")
        batch_op.drop_index("ix_mentions_status_due_at")
        batch_op.drop_column("due_at")
