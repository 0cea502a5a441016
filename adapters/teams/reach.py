"""Reaching a person in their personal chat with DealCoach, creating that chat when there is none yet.

``CloudAdapter.create_conversation`` (``POST /v3/conversations`` with the tenant, on the ``serviceUrl``
of the conversation the request came from) opens — or finds again — the 1:1 chat between the bot and a
person. Teams allows it when the app is installed for that person, or in a team they are a member of;
otherwise it refuses (403), and the person is :class:`Unreachable` until they install DealCoach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationParameters, ConversationReference

from adapters.teams import translate
from adapters.teams.sender import delivery_error
from coaching.ports import Address

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    """A real Teams user, as a member lookup (or the sender's own activity) describes them."""

    teams_id: str  # what Teams addresses them by: the "29:" id, or the AAD object id
    aad_object_id: str | None = None
    name: str | None = None
    email: str | None = None  # the member lookup's email (else sign-in name): the domain is one of their own

    @property
    def user_id(self) -> str:
        """The id DealCoach keys people by (as ``translate.user_id_of``): AAD object id, else Teams id."""
        return self.aad_object_id or self.teams_id

    def address(self, tenant: str) -> Address:
        return Address(translate.PLATFORM, tenant, self.user_id)


class Unreachable(Exception):  # noqa: N818 - a state of the person, not a bug
    """Teams would not open a personal chat with this person; the text is for the log."""


def sender_of(activity: Any) -> Person:
    account = activity.from_property
    return Person(teams_id=str(account.id), aad_object_id=account.aad_object_id or None, name=account.name or None)


async def open_personal_chat(turn: TurnContext, person: Person, *, app_id: str | None) -> dict[str, Any]:
    """The stored-reference JSON of the personal chat with ``person``, created (or found) now."""
    activity = turn.activity
    tenant = translate.tenant_of(activity)
    parameters = ConversationParameters(
        is_group=False,
        bot=activity.recipient,
        members=[ChannelAccount(id=person.teams_id)],
        tenant_id=tenant,
        channel_data={"tenant": {"id": tenant}},
    )
    created: dict[str, str] = {}

    async def remember(new_turn: TurnContext) -> None:
        created["id"] = new_turn.activity.conversation.id

    try:
        await turn.adapter.create_conversation(
            app_id or "", remember, parameters, activity.channel_id, activity.service_url, None
        )
    except Exception as error:
        failure = delivery_error(error)
        log.info("teams: no personal chat with a user in tenant %s: %s", tenant, failure)
        raise Unreachable(str(failure)) from error
    if not created.get("id"):
        raise Unreachable("Teams created no conversation")
    return reference_to(activity, person, created["id"])


def reference_to(activity: Any, person: Person, conversation_id: str) -> dict[str, Any]:
    """A conversation reference for ``person``'s personal chat, on the service URL of ``activity``."""
    tenant = translate.tenant_of(activity)
    reference = ConversationReference(
        user=ChannelAccount(id=person.teams_id, name=person.name, aad_object_id=person.aad_object_id),
        bot=activity.recipient,
        conversation=ConversationAccount(
            id=conversation_id, conversation_type=translate.PERSONAL, tenant_id=None if tenant == "default" else tenant
        ),
        channel_id=activity.channel_id,
        locale=activity.locale,
        service_url=activity.service_url,
    )
    return reference.serialize()
