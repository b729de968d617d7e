"""messages_in: a native id is unique per sender, not per channel (issue 18). A second sender
reusing a Message-ID or a provider's message id was answered 250/accepted and its message dropped
as a repeat of someone else's; now it is stored as its own message.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages_in", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_in_native", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_in_sender_native", ["channel", "address_key", "native_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("messages_in", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_in_sender_native", type_="unique")
        batch_op.create_unique_constraint("uq_messages_in_native", ["channel", "native_id"])
