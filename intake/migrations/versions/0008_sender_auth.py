"""messages_in.sender_auth: what the mail relay in front of the SMTP listener found of the sender
(its Authentication-Results: dkim, spf, dmarc), recorded with each mail (issue 18).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages_in", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_auth", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages_in", schema=None) as batch_op:
        batch_op.drop_column("sender_auth")
