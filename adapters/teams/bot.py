"""The Teams bot: incoming activities → the coach → replies.

Every incoming activity from a personal chat refreshes the user's stored conversation reference, name
and time zone (only when they changed: a small in-memory memo skips identical writes), so proactive
nudges work after restarts. In group chats and channels the @mention is stripped and the answer goes
to the user's personal chat — a user's negotiations are never shown to the rest of a chat.

A click on a nudge about one thing in the personal chat is answered as before, and then the card itself
is updated (``updateActivity``) to show what was chosen, without its buttons, so it cannot be clicked
twice (lists and cards with forms stay: see ``render.collapses_after_click``). An error answer leaves
the card as it was, so the person can try again.

The data export arrives as a file-upload consent card; the person's *Allow* comes back as a
``fileConsent/invoke``, answered here by building the export, uploading it to the URL Teams gave and
showing the file (see :mod:`adapters.teams.files`). Every such invoke is answered 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Protocol

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount

from adapters.teams import files, translate
from adapters.teams.render import activities, after_click
from adapters.teams.sender import delivery_error
from adapters.teams.translate import CardClick, SubmissionError, TypedText
from coaching.commands import Actor, Command
from coaching.messages import Attachment as MessageAttachment
from coaching.messages import Message
from coaching.ports import Address, DeliveryError, Sender
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side and nothing was changed. Please try again in a moment."
PRIVATE_ONLY = (
    "I keep your negotiations private, so I only answer in our personal chat. "
    "Open DealCoach from the Teams app bar (or search for it under Chat) and say `help` there."
)
SENT_PRIVATELY = "I've answered you in our personal chat."
NOTHING_TO_READ = "I read typed commands. Type `help` to see them."
REPLY_ATTEMPTS = 3
MAX_REPLY_WAIT = 3.0  # seconds; Teams waits ~15 s for the whole turn
UPDATE_TIMEOUT = 5.0  # seconds for redrawing a clicked card; the answer has been sent by then
NOTHING_STORED = "DealCoach stores nothing about you, so there is no file to upload."
EXPORT_DECLINED = "OK, no file was uploaded; type `export` again whenever you like."
UPLOAD_FAILED = "Sorry, I couldn't upload your export to OneDrive. Please type `export` to try again."


class Coach(Protocol):
    async def handle(self, command: Command) -> Message: ...

    async def handle_text(self, actor: Actor, text: str) -> Message: ...

    async def upsert_user(
        self, actor: Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> Any: ...

    async def conversation_ref(self, address: Address) -> dict[str, Any] | None: ...

    async def forget_user(self, address: Address) -> None: ...

    async def export_file(self, address: Address) -> MessageAttachment | None: ...


class ReferenceMemo:
    """What was last written per user, so unchanged references are not rewritten on every message."""

    def __init__(self, *, ttl: float = 60.0, size: int = 50_000) -> None:
        self._seen: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._ttl = ttl
        self._size = size

    @staticmethod
    def _key(address: Address) -> tuple[str, str, str]:
        return (address.platform, address.workspace, address.user)

    def unchanged(self, address: Address, fingerprint: str) -> bool:
        seen = self._seen.get(self._key(address))
        return seen is not None and seen[0] == fingerprint and seen[1] > time.monotonic()

    def remember(self, address: Address, fingerprint: str) -> None:
        if len(self._seen) >= self._size:
            self._seen.clear()
        self._seen[self._key(address)] = (fingerprint, time.monotonic() + self._ttl)

    def forget(self, address: Address) -> None:
        self._seen.pop(self._key(address), None)


class SeenActivities:
    """Recently handled (conversation, activity id) pairs: a redelivered message does not run twice."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size

    def repeated(self, activity: Activity) -> bool:
        if not activity.id or activity.conversation is None:
            return False
        key = (activity.conversation.id, activity.id)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


def _user_key(address: Address) -> Address:
    return Address(address.platform, address.workspace, address.user)


class TeamsBot(ActivityHandler):
    def __init__(self, coach: Coach, *, private: Sender | None = None, memo: ReferenceMemo | None = None):
        self._coach = coach
        self._private = private  # delivers answers to group-chat questions in the personal chat
        self._memo = memo or ReferenceMemo()
        self._seen = SeenActivities()

    # --- every turn -----------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if self._remembers(activity):
            try:
                await self._remember(activity)
            except Exception:  # a failed bookkeeping write must not cost the user their answer
                log.exception("teams: could not store the conversation reference")
        await super().on_turn(turn_context)

    @staticmethod
    def _remembers(activity: Activity) -> bool:
        if activity.from_property is None or not activity.from_property.id:
            return False
        removed = (activity.action or "").startswith("remove")
        if activity.type == ActivityTypes.installation_update and removed:
            return False
        if activity.type == ActivityTypes.invoke and activity.name == files.FILE_CONSENT_INVOKE:
            return False  # accepting a file must not bring back a person who has since said forget-me
        if activity.type not in (
            ActivityTypes.message,
            ActivityTypes.conversation_update,
            ActivityTypes.installation_update,
            ActivityTypes.invoke,
        ):
            return False
        return translate.is_personal(activity)

    async def _remember(self, activity: Activity) -> None:
        actor = translate.actor_of(activity)
        fingerprint = _fingerprint(activity, actor)
        if self._memo.unchanged(actor.address, fingerprint):
            return
        reference = translate.reference_of(activity)
        await self._coach.upsert_user(actor, channel=actor.address.channel, conversation_ref=reference)
        self._memo.remember(actor.address, fingerprint)

    # --- messages -------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if self._seen.repeated(activity):
            log.info("teams: activity %s delivered again; already handled", activity.id)
            return
        try:
            request = translate.incoming(activity)
        except SubmissionError as error:
            await self._reply(turn_context, Message(text=str(error), kind="error"))
            return
        if request is None:
            if translate.is_personal(activity):
                await self._reply(turn_context, Message(text=NOTHING_TO_READ))
            return
        if translate.is_personal(activity):
            answer = await self._answer(request)
            if answer.kind == FORGOTTEN:  # the stored reference went too: the next activity must store it again
                self._memo.forget(translate.address_of(activity))
            await self._reply(turn_context, answer)
            click = translate.card_click(activity)
            if click is not None and not answer.is_error:
                await self._show_choice(turn_context, click)
            return
        await self._answer_privately(turn_context, request)

    async def _show_choice(self, turn_context: TurnContext, click: CardClick) -> None:
        """Redraw the clicked card with the choice and no buttons; a failure only costs the redraw."""
        try:
            await asyncio.wait_for(turn_context.update_activity(after_click(click)), UPDATE_TIMEOUT)
        except TimeoutError:
            log.warning(
                "teams: card %s not updated after the click: no answer in %.0fs", click.activity_id, UPDATE_TIMEOUT
            )
        except Exception as error:
            log.warning("teams: card %s not updated after the click: %s", click.activity_id, delivery_error(error))

    async def _answer(self, request: TypedText | Command) -> Message:
        try:
            if isinstance(request, TypedText):
                return await self._coach.handle_text(request.actor, request.text)
            return await self._coach.handle(request)
        except Exception:
            log.exception("teams: the coach failed on %s", type(request).__name__)
            return Message(text=SORRY, kind="error")

    async def _answer_privately(self, turn_context: TurnContext, request: TypedText | Command) -> None:
        address = _user_key(translate.address_of(turn_context.activity))
        personal = await self._coach.conversation_ref(address)
        if not personal or self._private is None:
            await self._reply(turn_context, Message(text=PRIVATE_ONLY))
            return
        conversation_id = (personal.get("conversation") or {}).get("id")
        private_address = Address(address.platform, address.workspace, address.user, conversation_id)
        request = _readdressed(request, private_address)
        answer = await self._answer(request)
        try:
            await self._private.send(private_address, answer)
        except DeliveryError as error:
            log.warning("teams: private answer not delivered: %s", error)
            await self._reply(turn_context, Message(text=PRIVATE_ONLY))
            return
        await self._reply(turn_context, Message(text=SENT_PRIVATELY))

    async def _reply(self, turn_context: TurnContext, message: Message) -> None:
        for activity in activities(message):
            await self._send(turn_context, activity)

    async def _send(self, turn_context: TurnContext, activity: Activity) -> None:
        """Send one activity; a throttled or failing connector gets a couple of short retries."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await turn_context.send_activity(activity)
                return
            except Exception as error:
                failure = delivery_error(error)
                wait = failure.retry_after if failure.retry_after is not None else 0.25 * attempt
                if failure.permanent or attempt == REPLY_ATTEMPTS or wait > MAX_REPLY_WAIT:
                    # The command already ran: answering 5xx could make the channel deliver it again.
                    log.error("teams: reply not delivered (%s); giving up", failure)
                    return
                log.info("teams: reply attempt %d failed (%s); retrying in %.2fs", attempt, failure, wait)
                await asyncio.sleep(wait)

    # --- invokes: the export's file-upload consent ----------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        if turn_context.activity.name != files.FILE_CONSENT_INVOKE:
            return await super().on_invoke_activity(turn_context)
        try:
            await self._on_file_consent(turn_context)
        except Exception:  # the person got an apology or nothing; the channel must not see a 500
            log.exception("teams: the file consent answer failed")
        return InvokeResponse(status=200)

    async def _on_file_consent(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        consent = files.consent_of(activity.value)
        if consent is None:
            log.info("teams: a fileConsent/invoke not about a DealCoach export; ignored")
            return
        if not translate.is_personal(activity) or self._seen.repeated(activity):
            return  # consent cards only go to the personal chat; a redelivered invoke ran already
        if not consent.accepted:
            await self._reply(turn_context, Message(text=EXPORT_DECLINED))
            return
        address = _user_key(translate.address_of(activity))
        try:
            export = await self._coach.export_file(address)
        except Exception:
            log.exception("teams: the coach failed to build an export")
            await self._reply(turn_context, Message(text=SORRY, kind="error"))
            return
        if export is None:
            await self._reply(turn_context, Message(text=NOTHING_STORED))
            return
        try:
            await files.upload(consent.upload_url, export.data)
        except files.UploadFailed as error:
            log.warning("teams: export upload for a user in tenant %s failed: %s", address.workspace, error)
            await self._reply(turn_context, Message(text=UPLOAD_FAILED, kind="error"))
            return
        log.info("teams: export uploaded (%d bytes) for a user in tenant %s", len(export.data), address.workspace)
        await self._send(turn_context, files.file_info_card(consent))

    # --- install, uninstall, welcome -------------------------------------------------------------

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext):
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not translate.is_personal(activity) or not any(m.id == bot_id for m in members_added or ()):
            return
        if activity.from_property is None or not activity.from_property.id:
            return
        welcome = await self._answer(TypedText(translate.actor_of(activity), "help"))
        await self._reply(turn_context, welcome)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not translate.is_personal(activity) or activity.from_property is None:
            log.info(
                "teams: app removed from a %s; no personal data to delete",
                translate.conversation_type(activity),
            )
            return
        address = translate.address_of(activity)
        await self._coach.forget_user(address)
        self._memo.forget(address)
        log.info("teams: app uninstalled by a user in tenant %s; their data was deleted", address.workspace)


def _fingerprint(activity: Activity, actor: Actor) -> str:
    """What the stored user row and reference depend on (cheaper than serialising the reference)."""
    user, bot = activity.from_property, activity.recipient
    return json.dumps(
        [
            activity.service_url,
            activity.channel_id,
            activity.locale,
            actor.address.workspace,
            actor.address.channel,
            actor.display_name,
            actor.timezone,
            user.id if user else None,
            user.aad_object_id if user else None,
            bot.id if bot else None,
            bot.name if bot else None,
        ]
    )


def _readdressed(request: TypedText | Command, address: Address) -> TypedText | Command:
    actor = replace(request.actor, address=address)
    return replace(request, actor=actor)
