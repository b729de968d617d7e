"""tickets.cluster: near-duplicates across senders linked to one cluster (issue 7)

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
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_cluster"), ["cluster"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_cluster"))
        batch_op.drop_column("cluster")
