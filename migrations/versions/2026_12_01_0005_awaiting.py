"""users.awaiting: the question the coach awaits an answer to (coaching.questions)

Revision ID: 0005_awaiting
Revises: 0004_slack_inbox
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_awaiting"
down_revision: str | None = "0004_slack_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("awaiting", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("awaiting")
