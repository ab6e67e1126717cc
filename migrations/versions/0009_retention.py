"""retention (RETENTION_DAYS): when each mention stopped being open and when its author's data was erased, indexed
for the nightly purge

A mention closed before this migration gets the latest time replywatch knew of it: when it was first seen, answered,
acted on in Slack or its alert last edited (the edit that said it closed). None is later than its closing; an
expired or deleted one that was never alerted may count from a little earlier (its first sight).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CLOSED = "mentions.status <> 'open'"
LATER = (  # each a time the mention was known closed by; the latest wins
    "mentions.answered_at",
    "(SELECT max(actions.at) FROM actions WHERE actions.mention_id = mentions.id)",
    "(SELECT alerts.updated_at FROM alerts WHERE alerts.mention_id = mentions.id)",
)


def upgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_mentions_purged_at_closed_at", ["purged_at", "closed_at"], unique=False)
    op.execute(f"UPDATE mentions SET closed_at = first_seen_at WHERE {CLOSED}")
    for later in LATER:  # SQLite keeps times as text of one form: compared as text they compare as times
        op.execute(f"UPDATE mentions SET closed_at = {later} WHERE {CLOSED} AND {later} > closed_at")


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_purged_at_closed_at")
        batch_op.drop_column("purged_at")
        batch_op.drop_column("closed_at")
