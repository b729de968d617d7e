"""tickets.place_key: a keyed hash of the normalised place, so the near-duplicate search reads
the few open tickets about the same place instead of the city's open tickets (issue 5: one
registration read and decrypted up to 200 rows)

Rows registered before this revision keep a NULL place_key; the search still reads those, and
they leave its 30-day window by themselves.

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
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("place_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_place_key"), ["place_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_place_key"))
        batch_op.drop_column("place_key")
