"""The stored domain: workspaces, people, their counterparts, negotiations, commitments, touchpoints, teams
and the nudge outbox. All times are stored in UTC. Everything a person typed hangs off their user row
(``ondelete="CASCADE"``), so forgetting a person forgets it all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite has no time zones; PostgreSQL has timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def _now() -> datetime:
    return datetime.now(UTC)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_workspaces_platform_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id", name="uq_users_workspace_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    timezone_set_by_user: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(16), default="sales")
    lead_minutes: Mapped[int] = mapped_column(Integer, default=30)
    quiet_start: Mapped[str | None] = mapped_column(String(5), default="19:00")  # local HH:MM
    quiet_end: Mapped[str | None] = mapped_column(String(5), default="08:00")
    nudges_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    dm_channel: Mapped[str | None] = mapped_column(String(128))
    conversation_ref: Mapped[dict[str, Any] | None]  # Teams: where proactive messages go
    awaiting: Mapped[dict[str, Any] | None]  # the question the coach awaits an answer to (coaching.questions)
    date_order: Mapped[str | None] = mapped_column(String(3))  # dmy | mdy | ymd, as set with `settings dates`
    locale: Mapped[str | None] = mapped_column(String(35))  # the platform's locale ("en-US"), for date_order's default
    email: Mapped[str | None] = mapped_column(String(320))  # the platform profile's email: its domain is the rep's own
    own_domains: Mapped[list[str] | None] = mapped_column(JSON)  # `settings domains …`: colleagues' email domains
    keywords: Mapped[list[str] | None] = mapped_column(JSON)  # `settings keywords …`; None: the defaults
    created_at: Mapped[datetime] = mapped_column(default=_now)

    # joined for the scheduler's batches; a person found by ``store.user_at`` has it unloaded: ``store.workspace_of``
    workspace: Mapped[Workspace] = relationship(lazy="joined")


class Counterpart(Base):
    """The other side of a negotiation (a company or a person) in one rep's own directory: what they typed,
    their flags (long-term, the stay-in-touch snooze, the lever-of-links answers). Nobody else sees it; a
    colleague who deals with the same company has a counterpart of their own."""

    __tablename__ = "counterparts"
    __table_args__ = (UniqueConstraint("owner_id", "name_key", name="uq_counterparts_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # case-folded name, for lookups
    long_term: Mapped[bool] = mapped_column(Boolean, default=False)
    last_touchpoint_at: Mapped[datetime | None]
    links: Mapped[dict[str, Any] | None]  # {"procurement": [true, false, ...]} lever-of-links answers, per role
    snoozed_until: Mapped[datetime | None]  # off the stay-in-touch list until then
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Negotiation(Base):
    __tablename__ = "negotiations"
    __table_args__ = (
        UniqueConstraint("owner_id", "number", name="uq_negotiations_owner_number"),
        Index("ix_negotiations_owner_starts", "owner_id", "starts_at"),
        # list's pages (upcoming, awaiting an outcome, recent) and a brief's history with one counterpart read
        # only the rows they show, not every negotiation the rep ever logged
        Index("ix_negotiations_owner_status_starts", "owner_id", "status", "starts_at"),
        Index("ix_negotiations_owner_counterpart_starts", "owner_id", "counterpart_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # the owner's own numbering: "#3"
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("counterparts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    channel: Mapped[str] = mapped_column(String(16), default="video")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|done|cancelled
    back_to_back: Mapped[bool] = mapped_column(Boolean, default=False)
    # Frame: will we interact again? what would a long-term partnership bring?
    repeat: Mapped[bool | None] = mapped_column(Boolean)
    long_term_value: Mapped[str | None] = mapped_column(Text)
    # Outcome
    outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    opened_with_connection: Mapped[bool | None] = mapped_column(Boolean)
    sentiment: Mapped[int | None] = mapped_column(Integer)
    hard_win: Mapped[bool | None] = mapped_column(Boolean)
    concessions_given: Mapped[int | None] = mapped_column(Integer)
    concessions_received: Mapped[int | None] = mapped_column(Integer)
    observations: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    followup_sent_at: Mapped[datetime | None]
    followup_on_time: Mapped[bool | None] = mapped_column(Boolean)  # within 24 h of the end (for digests)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    counterpart: Mapped[Counterpart] = relationship(lazy="joined")


class Team(Base):
    """A team lead and the reps they follow in the weekly digest; one team per lead."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("lead_id", name="uq_teams_lead"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    lead: Mapped[User] = relationship(lazy="joined")


class TeamMember(Base):
    """A rep who accepted a lead's invitation (or whom a workspace admin added). A rep is on at most one team
    at a time; ``left_at`` closes a membership, and a rep who left counts for the weeks before they left.
    Once a rep is a member, their history counts for past weeks too: that is what they agreed to share."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime]  # when they accepted (or an admin added them)
    left_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class TeamInvitation(Base):
    """A lead asked a rep to join their team; the rep accepts or declines (``team accept|decline <lead>``)."""

    __tablename__ = "team_invitations"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_invitations_team_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invited_at: Mapped[datetime]

    team: Mapped[Team] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("owner_id", "number", name="uq_commitments_owner_number"),
        # Covers the digest's aggregates, so they read the index alone, not one heap page per commitment.
        Index(
            "ix_commitments_digest",
            "owner_id",
            "created_at",
            "resolved_at",
            "due_on",
            "status",
            "side",
            "counterpart_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id", ondelete="CASCADE"), index=True)
    # The negotiation's counterpart, kept here so "what is owed to/by Globex" needs no join.
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("counterparts.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(8))  # ours | theirs
    text: Mapped[str] = mapped_column(Text)
    owner_text: Mapped[str | None] = mapped_column(String(200))  # who on that side is on the hook
    due_on: Mapped[date | None] = mapped_column(Date)  # a local calendar day of the rep
    due_at: Mapped[datetime | None]  # the due moment, when a time was given ("by tomorrow 5pm"); on due_on
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | kept | missed
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    negotiation: Mapped[Negotiation] = relationship(lazy="joined")


class Handoff(Base):
    """A hand-off note a rep sent a colleague (the account owner) about one of their negotiations: the
    colleague gets exactly this note and the negotiation's headline, nothing else the rep keeps."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class NegotiationIssue(Base):
    """What is on the table: an agreement or a relationship issue, settled or carried to the next round."""

    __tablename__ = "negotiation_issues"
    __table_args__ = (UniqueConstraint("negotiation_id", "name", name="uq_negotiation_issues_negotiation_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # agreement | relationship
    name: Mapped[str] = mapped_column(String(200))
    settled: Mapped[bool] = mapped_column(Boolean, default=False)


class Touchpoint(Base):
    """Relationship upkeep outside the negotiation itself: coffee chats, calls, personal notes."""

    __tablename__ = "touchpoints"
    __table_args__ = (Index("ix_touchpoints_user_counterpart_at", "user_id", "counterpart_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("counterparts.id", ondelete="CASCADE"))
    negotiation_id: Mapped[int | None] = mapped_column(ForeignKey("negotiations.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # coffee | call | note
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Nudge(Base):
    """The outbox. A row is a message due to a person; the scheduler tick sends it.

    ``due_at`` is the next time anyone should act on the row: the send time while pending, the lease
    expiry while a worker holds it, the retry time after a failure. One index on (status, due_at)
    then serves every claim, and a row whose worker died is claimable again once its lease passes.
    """

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("key", name="uq_nudges_key"),
        Index("ix_nudges_status_due", "status", "due_at"),
        # the daily budget: a person's nudges sent since a moment (log and every send count them)
        Index("ix_nudges_user_status_sent", "user_id", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # the same nudge is never enqueued twice
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    negotiation_id: Mapped[int | None] = mapped_column(ForeignKey("negotiations.id", ondelete="CASCADE"), index=True)
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    exempt_quiet: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CounterpartDomain(Base):
    """``counterpart Globex domain globex.com``: a rep's own rule that meetings with people at a domain are
    with one of their counterparts (calendar import looks here first)."""

    __tablename__ = "counterpart_domains"
    __table_args__ = (UniqueConstraint("owner_id", "domain", name="uq_counterpart_domains_owner_domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("counterparts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    counterpart: Mapped[Counterpart] = relationship(lazy="joined")


class CalendarFeed(Base):
    """A rep's calendar subscription (one per rep). The address is a secret: stored sealed (Fernet, with
    ``DEALCOACH_SECRET_KEY``), shown only as ``host``. ``due_at`` works like a nudge's: the next sync while
    active, the lease's end while a worker holds the feed (``claimed_by``); a paused feed (the provider
    refused it) waits for ``calendar sync``."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        UniqueConstraint("user_id", name="uq_calendar_feeds_user"),
        Index("ix_calendar_feeds_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sealed_url: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(300))  # coaching.calendar.address.redact: what may be shown
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    synced_at: Mapped[datetime | None]  # the last fetch that reached the provider
    found: Mapped[int] = mapped_column(Integer, default=0)  # negotiations the last read found in the window
    last_error: Mapped[str | None] = mapped_column(Text)  # plain words; never the address
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CalendarImport(Base):
    """One meeting of a rep's calendar DealCoach knows, keyed by the event's UID + RECURRENCE-ID (``key``):
    imported as a negotiation, linked to a hand-logged one, ignored by the rep, or cancelled by the calendar.
    ``announced_at``: when the rep was told about it (the first sync's list, or a later day's batch)."""

    __tablename__ = "calendar_imports"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_calendar_imports_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_feeds.id", ondelete="SET NULL"), index=True)
    key: Mapped[str] = mapped_column(String(600))
    uid: Mapped[str] = mapped_column(String(500))
    negotiation_id: Mapped[int | None] = mapped_column(ForeignKey("negotiations.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # imported | linked | ignored | cancelled
    start: Mapped[datetime]
    end: Mapped[datetime]
    title: Mapped[str | None] = mapped_column(String(300))
    announced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)


class IgnoredSeries(Base):
    """``calendar ignore <id> series``: no meeting of this series (by its UID) becomes a negotiation."""

    __tablename__ = "calendar_ignored_series"
    __table_args__ = (UniqueConstraint("user_id", "uid", name="uq_calendar_ignored_series_user_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=_now)
