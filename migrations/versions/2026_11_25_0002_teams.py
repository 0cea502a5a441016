"""teams and digests, relationships (lever of links, stay-in-touch snooze), issues on the table

Revision ID: 0002_teams
Revises: 0001_initial
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_teams"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["users.id"], name=op.f("fk_teams_lead_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_teams_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("lead_id", name="uq_teams_lead"),
    )
    op.create_index(op.f("ix_teams_workspace_id"), "teams", ["workspace_id"], unique=False)
    op.create_table(
        "team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_team_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint("user_id", name="uq_team_members_user"),
    )
    op.create_index(op.f("ix_team_members_team_id"), "team_members", ["team_id"], unique=False)
    with op.batch_alter_table("negotiations") as batch_op:
        batch_op.add_column(sa.Column("followup_on_time", sa.Boolean(), nullable=True))
    op.create_table(
        "relationships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("counterpart_id", sa.Integer(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["counterpart_id"],
            ["counterparts.id"],
            name=op.f("fk_relationships_counterpart_id_counterparts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_relationships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationships")),
        sa.UniqueConstraint("user_id", "counterpart_id", name="uq_relationships_user_counterpart"),
    )
    op.create_index(op.f("ix_relationships_counterpart_id"), "relationships", ["counterpart_id"], unique=False)
    op.create_table(
        "negotiation_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("negotiation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["negotiation_id"],
            ["negotiations.id"],
            name=op.f("fk_negotiation_issues_negotiation_id_negotiations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_negotiation_issues")),
        sa.UniqueConstraint("negotiation_id", "name", name="uq_negotiation_issues_negotiation_name"),
    )
    op.create_index(
        op.f("ix_negotiation_issues_negotiation_id"), "negotiation_issues", ["negotiation_id"], unique=False
    )
    with op.batch_alter_table("commitments") as batch_op:
        batch_op.add_column(sa.Column("counterpart_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE commitments SET counterpart_id = "
        "(SELECT negotiations.counterpart_id FROM negotiations WHERE negotiations.id = commitments.negotiation_id)"
    )
    with op.batch_alter_table("commitments") as batch_op:
        batch_op.alter_column("counterpart_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_commitments_counterpart_id_counterparts"),
            "counterparts",
            ["counterpart_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_commitments_digest",
            ["owner_id", "created_at", "resolved_at", "due_on", "status", "side", "counterpart_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_negotiation_issues_negotiation_id"), table_name="negotiation_issues")
    op.drop_table("negotiation_issues")
    op.drop_index(op.f("ix_relationships_counterpart_id"), table_name="relationships")
    op.drop_table("relationships")
    with op.batch_alter_table("commitments") as batch_op:
        batch_op.drop_index("ix_commitments_digest")
        batch_op.drop_constraint(op.f("fk_commitments_counterpart_id_counterparts"), type_="foreignkey")
        batch_op.drop_column("counterpart_id")
    with op.batch_alter_table("negotiations") as batch_op:
        batch_op.drop_column("followup_on_time")
    op.drop_index(op.f("ix_team_members_team_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_index(op.f("ix_teams_workspace_id"), table_name="teams")
    op.drop_table("teams")
