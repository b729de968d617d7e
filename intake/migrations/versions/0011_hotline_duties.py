"""The hotline's own duties (issue 21): supervision (督办) and review (回访, 甄别) as states of the
ticket, and the back-office feed's mark on each event it carries.

Events stored before this revision are not fed (``feed_pending`` stays null): the feed starts
with the events that follow, so a unit's system is not flooded with history.

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
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("supervision_opened_at", sa.DateTime()))
        batch.add_column(sa.Column("supervision_due", sa.DateTime()))
        batch.add_column(sa.Column("supervision_reason", sa.Text()))
        batch.add_column(sa.Column("supervision_by", sa.String(80)))
        batch.add_column(
            sa.Column("supervision_extended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("supervision_answered_at", sa.DateTime()))
        batch.add_column(sa.Column("review", sa.String(16)))
    op.create_index("ix_tickets_review", "tickets", ["review"])
    op.create_index("ix_tickets_supervision_opened_at", "tickets", ["supervision_opened_at"])
    op.create_index("ix_tickets_supervision_due", "tickets", ["supervision_due"])
    op.add_column("ticket_events", sa.Column("feed_pending", sa.Boolean()))
    op.create_index("ix_ticket_events_feed_pending", "ticket_events", ["feed_pending"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_feed_pending", "ticket_events")
    op.drop_column("ticket_events", "feed_pending")
    op.drop_index("ix_tickets_supervision_due", "tickets")
    op.drop_index("ix_tickets_supervision_opened_at", "tickets")
    op.drop_index("ix_tickets_review", "tickets")
    with op.batch_alter_table("tickets") as batch:
        for name in (
            "review",
            "supervision_answered_at",
            "supervision_extended",
            "supervision_by",
            "supervision_reason",
            "supervision_due",
            "supervision_opened_at",
        ):
            batch.drop_column(name)
