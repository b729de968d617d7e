"""handoffs: conversations waiting for a person (issue 19, CONTRACT.md "Agents and the console
API"): the citizen asked for one ("转人工"), the bot stays quiet, an agent answers on the citizen's
channel and hands the conversation back.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("address_key", sa.String(64), nullable=False),
        sa.Column("address_enc", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("text_enc", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime()),
        sa.Column("released_by", sa.String(80)),
    )
    op.create_index("ix_handoffs_address_key", "handoffs", ["address_key"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_address_key", "handoffs")
    op.drop_table("handoffs")
