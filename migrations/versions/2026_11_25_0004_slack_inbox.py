"""Slack adapter: the durable command inbox (slack_inbox)

Revision ID: 0004_slack_inbox
Revises: 0003_slack
Create Date: 2026-11-25 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_slack_inbox"
down_revision: str | None = "0003_slack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_inbox")),
    )
    op.create_index("ix_slack_inbox_status_due", "slack_inbox", ["status", "due_at"], unique=False)
    op.create_index("ix_slack_inbox_team", "slack_inbox", ["team"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slack_inbox_team", table_name="slack_inbox")
    op.drop_index("ix_slack_inbox_status_due", table_name="slack_inbox")
    op.drop_table("slack_inbox")
