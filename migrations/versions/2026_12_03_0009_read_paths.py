"""Indexes for the reads every command makes: list's pages and a brief's history by status or counterpart, and
the daily nudge budget by the person's sent nudges (each read every row of the person's before)

Revision ID: 0009_read_paths
Revises: 0008_calendar
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_read_paths"
down_revision: str | None = "0008_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_negotiations_owner_status_starts", "negotiations", ["owner_id", "status", "starts_at"])
    op.create_index(
        "ix_negotiations_owner_counterpart_starts", "negotiations", ["owner_id", "counterpart_id", "starts_at"]
    )
    op.create_index("ix_nudges_user_status_sent", "nudges", ["user_id", "status", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_nudges_user_status_sent", table_name="nudges")
    op.drop_index("ix_negotiations_owner_counterpart_starts", table_name="negotiations")
    op.drop_index("ix_negotiations_owner_status_starts", table_name="negotiations")
