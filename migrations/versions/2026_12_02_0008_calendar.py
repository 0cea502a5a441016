"""Calendar import: a rep's feed (its secret address sealed), the meetings imported from it, ignored series,
learned counterpart domains, and the rep's email, own domains and title keywords

Revision ID: 0008_calendar
Revises: 0007_people
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_calendar"
down_revision: str | None = "0007_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("own_domains", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("keywords", sa.JSON(), nullable=True))
    op.create_table(
        "counterpart_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("counterpart_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterpart_id"],
            ["counterparts.id"],
            name=op.f("fk_counterpart_domains_counterpart_id_counterparts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_counterpart_domains_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counterpart_domains")),
        sa.UniqueConstraint("owner_id", "domain", name="uq_counterpart_domains_owner_domain"),
    )
    op.create_index(
        op.f("ix_counterpart_domains_counterpart_id"), "counterpart_domains", ["counterpart_id"], unique=False
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sealed_url", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("etag", sa.String(length=300), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("user_id", name="uq_calendar_feeds_user"),
    )
    op.create_index("ix_calendar_feeds_status_due", "calendar_feeds", ["status", "due_at"], unique=False)
    op.create_table(
        "calendar_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("uid", sa.String(length=500), nullable=False),
        sa.Column("negotiation_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["calendar_feeds.id"],
            name=op.f("fk_calendar_imports_feed_id_calendar_feeds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["negotiation_id"],
            ["negotiations.id"],
            name=op.f("fk_calendar_imports_negotiation_id_negotiations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_imports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_imports")),
        sa.UniqueConstraint("user_id", "key", name="uq_calendar_imports_user_key"),
    )
    op.create_index(op.f("ix_calendar_imports_feed_id"), "calendar_imports", ["feed_id"], unique=False)
    op.create_index(op.f("ix_calendar_imports_negotiation_id"), "calendar_imports", ["negotiation_id"], unique=False)
    op.create_table(
        "calendar_ignored_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=500), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_ignored_series_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_ignored_series")),
        sa.UniqueConstraint("user_id", "uid", name="uq_calendar_ignored_series_user_uid"),
    )


def downgrade() -> None:
    op.drop_table("calendar_ignored_series")
    op.drop_index(op.f("ix_calendar_imports_negotiation_id"), table_name="calendar_imports")
    op.drop_index(op.f("ix_calendar_imports_feed_id"), table_name="calendar_imports")
    op.drop_table("calendar_imports")
    op.drop_index("ix_calendar_feeds_status_due", table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
    op.drop_index(op.f("ix_counterpart_domains_counterpart_id"), table_name="counterpart_domains")
    op.drop_table("counterpart_domains")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("keywords")
        batch.drop_column("own_domains")
        batch.drop_column("email")
