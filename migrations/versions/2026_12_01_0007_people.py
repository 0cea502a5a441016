"""People: each rep's own counterparts, team invitations, hand-off notes

Counterparts were shared by a workspace: a colleague's lookup answered in another rep's spelling, and a
colleague's ``counterpart … long-term off`` switched another rep's reminders off. From here a counterpart
belongs to one person (``owner_id``, unique per owner and case-folded name) and carries what used to sit in
``relationships`` (the lever-of-links answers and the stay-in-touch snooze), which is dropped. Today's
shared counterparts are split into one copy per person who refers to them (a negotiation, commitment,
touchpoint or relationship of theirs), and those rows are re-pointed to the owner's copy; each copy's last
touchpoint is that person's own. A counterpart nobody refers to (named only in `counterpart … long-term`)
has no known owner and is dropped.

Team memberships were made without the rep's consent, so none is kept: each current one becomes an
invitation, and the rep is asked (a ``team_invite`` nudge). Hand-off notes get a table of their own, so the
recipient reads exactly the note sent.

Revision ID: 0007_people
Revises: 0006_moments
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_people"
down_revision: str | None = "0006_moments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Who refers to which shared counterpart: (person, counterpart) pairs.
_REFERENCES = """
    SELECT owner_id AS user_id, counterpart_id FROM negotiations
    UNION SELECT owner_id, counterpart_id FROM commitments
    UNION SELECT user_id, counterpart_id FROM touchpoints
    UNION SELECT user_id, counterpart_id FROM relationships
"""
# The copy, owned by the person of the row at hand, of the shared counterpart that row points to.
_COPY_OF = """
    (SELECT mine.id FROM counterparts mine JOIN counterparts shared ON shared.id = {table}.counterpart_id
     WHERE mine.owner_id = {table}.{person} AND mine.workspace_id = shared.workspace_id
       AND mine.name_key = shared.name_key)
"""


def _counterparts_per_person() -> None:
    """Split each shared counterpart into one copy per person who refers to it, and re-point their rows.
    (On SQLite the batch operations copy the table: ``migrations/env.py`` turns foreign keys off meanwhile,
    or dropping the old copy would cascade to every negotiation pointing at it.)"""
    with op.batch_alter_table("counterparts") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("links", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint("uq_counterparts_workspace_name", type_="unique")
    # the person who first referred to it keeps the row; every other person gets a copy of their own
    op.execute(
        f"UPDATE counterparts SET owner_id = (SELECT min(r.user_id) FROM ({_REFERENCES}) r "
        "WHERE r.counterpart_id = counterparts.id)"
    )
    op.execute(
        "INSERT INTO counterparts (workspace_id, owner_id, name, name_key, long_term, created_at) "
        "SELECT c.workspace_id, r.user_id, c.name, c.name_key, c.long_term, c.created_at "
        f"FROM ({_REFERENCES}) r JOIN counterparts c ON c.id = r.counterpart_id WHERE r.user_id <> c.owner_id"
    )
    # what each rep kept about a counterpart (relationships) moves onto their own copy
    for column in ("links", "snoozed_until"):
        op.execute(
            f"UPDATE counterparts SET {column} = (SELECT r.{column} FROM relationships r "
            "JOIN counterparts shared ON shared.id = r.counterpart_id WHERE r.user_id = counterparts.owner_id "
            "AND shared.workspace_id = counterparts.workspace_id AND shared.name_key = counterparts.name_key)"
        )
    for table, person in (("negotiations", "owner_id"), ("commitments", "owner_id"), ("touchpoints", "user_id")):
        op.execute(f"UPDATE {table} SET counterpart_id = {_COPY_OF.format(table=table, person=person)}")
    op.execute(  # the last contact was anybody's; now it is the owner's own
        "UPDATE counterparts SET last_touchpoint_at = "
        "(SELECT max(t.at) FROM touchpoints t WHERE t.counterpart_id = counterparts.id)"
    )
    op.execute("DELETE FROM counterparts WHERE owner_id IS NULL")  # nobody refers to it: no known owner
    op.drop_index(op.f("ix_relationships_counterpart_id"), table_name="relationships")
    op.drop_table("relationships")
    with op.batch_alter_table("counterparts") as batch:
        batch.alter_column("owner_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_counterparts_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_counterparts_owner_name", ["owner_id", "name_key"])
        batch.drop_constraint("fk_counterparts_workspace_id_workspaces", type_="foreignkey")
        batch.drop_column("workspace_id")


def upgrade() -> None:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # how DealCoach stores moments in SQLite (coaching.models.UTCDateTime)
    _counterparts_per_person()

    # -- teams: by consent ----------------------------------------------------------------------------------
    op.create_table(
        "team_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_invitations_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_team_invitations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invitations")),
        sa.UniqueConstraint("team_id", "user_id", name="uq_team_invitations_team_user"),
    )
    op.create_index(op.f("ix_team_invitations_user_id"), "team_invitations", ["user_id"], unique=False)
    op.execute(
        "INSERT INTO team_invitations (team_id, user_id, invited_at) "
        "SELECT team_id, user_id, joined_at FROM team_members WHERE left_at IS NULL"
    )
    nudges = sa.table(
        "nudges",
        sa.column("key", sa.String()),
        sa.column("user_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String()),
        sa.column("attempts", sa.Integer()),
        sa.column("exempt_quiet", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    invitations = sa.table("team_invitations", sa.column("id", sa.Integer()), sa.column("user_id", sa.Integer()))
    op.execute(
        nudges.insert().from_select(
            ["key", "user_id", "kind", "due_at", "status", "attempts", "exempt_quiet", "created_at"],
            sa.select(
                sa.literal("team_invite:") + sa.cast(invitations.c.id, sa.String()),
                invitations.c.user_id,
                sa.literal("team_invite"),
                sa.literal(now, sa.DateTime(timezone=True)),
                sa.literal("pending"),
                sa.literal(0),
                sa.false(),
                sa.literal(now, sa.DateTime(timezone=True)),
            ),
        )
    )
    op.execute("DELETE FROM team_members")
    with op.batch_alter_table("team_members") as batch:
        batch.drop_constraint("uq_team_members_user", type_="unique")
        batch.create_unique_constraint("uq_team_members_team_user", ["team_id", "user_id"])
        batch.create_index(batch.f("ix_team_members_user_id"), ["user_id"], unique=False)

    # -- hand-off notes -------------------------------------------------------------------------------------
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("negotiation_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["negotiation_id"],
            ["negotiations.id"],
            name=op.f("fk_handoffs_negotiation_id_negotiations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_handoffs_recipient_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(op.f("ix_handoffs_negotiation_id"), "handoffs", ["negotiation_id"], unique=False)
    op.create_index(op.f("ix_handoffs_recipient_id"), "handoffs", ["recipient_id"], unique=False)


def downgrade() -> None:
    """Back to workspace-shared counterparts: one row per workspace and name (the lowest id wins), flags
    merged as the old shared row had them; invitations and hand-off notes are dropped."""
    op.drop_index(op.f("ix_handoffs_recipient_id"), table_name="handoffs")
    op.drop_index(op.f("ix_handoffs_negotiation_id"), table_name="handoffs")
    op.drop_table("handoffs")
    op.execute("DELETE FROM nudges WHERE kind IN ('team_invite', 'team_news')")
    with op.batch_alter_table("team_members") as batch:
        batch.drop_index(batch.f("ix_team_members_user_id"))
        batch.drop_constraint("uq_team_members_team_user", type_="unique")
    op.execute("DELETE FROM team_members WHERE id NOT IN (SELECT max(id) FROM team_members GROUP BY user_id)")
    with op.batch_alter_table("team_members") as batch:
        batch.create_unique_constraint("uq_team_members_user", ["user_id"])
    op.drop_index(op.f("ix_team_invitations_user_id"), table_name="team_invitations")
    op.drop_table("team_invitations")

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
    with op.batch_alter_table("counterparts") as batch:
        batch.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch.drop_constraint("uq_counterparts_owner_name", type_="unique")
    op.execute("UPDATE counterparts SET workspace_id = (SELECT u.workspace_id FROM users u WHERE u.id = owner_id)")
    op.execute(
        "INSERT INTO relationships (user_id, counterpart_id, links, snoozed_until) "
        "SELECT owner_id, id, links, snoozed_until FROM counterparts "
        "WHERE links IS NOT NULL OR snoozed_until IS NOT NULL"
    )
    keeper = (
        "(SELECT min(k.id) FROM counterparts k JOIN counterparts c ON c.workspace_id = k.workspace_id "
        "AND c.name_key = k.name_key WHERE c.id = {table}.counterpart_id)"
    )
    for table in ("negotiations", "commitments", "touchpoints", "relationships"):
        op.execute(f"UPDATE {table} SET counterpart_id = {keeper.format(table=table)}")
    op.execute(
        "UPDATE counterparts SET long_term = (SELECT max(CASE WHEN o.long_term THEN 1 ELSE 0 END) = 1 "
        "FROM counterparts o WHERE o.workspace_id = counterparts.workspace_id AND o.name_key = counterparts.name_key)"
    )
    op.execute(
        "DELETE FROM counterparts WHERE id NOT IN (SELECT min(id) FROM counterparts GROUP BY workspace_id, name_key)"
    )
    with op.batch_alter_table("counterparts") as batch:
        batch.alter_column("workspace_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_counterparts_workspace_id_workspaces"), "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_counterparts_workspace_name", ["workspace_id", "name_key"])
        batch.drop_constraint(op.f("fk_counterparts_owner_id_users"), type_="foreignkey")
        batch.drop_column("snoozed_until")
        batch.drop_column("links")
        batch.drop_column("owner_id")
