"""Moments: users.date_order and users.locale (day/month order of numeric dates), commitments.due_at (a due time)

Revision ID: 0006_moments
Revises: 0005_awaiting
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_moments"
down_revision: str | None = "0005_awaiting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("date_order", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(length=35), nullable=True))
    with op.batch_alter_table("commitments") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.drop_column("due_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
        batch.drop_column("date_order")
