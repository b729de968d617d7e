"""tickets.phone_key: a keyed hash of the citizen's phone, so that agents find a caller's tickets
by the number they give (issue 20: the console's search by phone, a blind index, never the
number itself).

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
    op.add_column("tickets", sa.Column("phone_key", sa.String(64)))
    op.create_index("ix_tickets_phone_key", "tickets", ["phone_key"])


def downgrade() -> None:
    op.drop_index("ix_tickets_phone_key", "tickets")
    op.drop_column("tickets", "phone_key")
