"""The Teams bot: each incoming activity type → one small handler (:data:`ACTIVITIES`).

* any activity sent by this bot or another bot: acknowledged and ignored (no loops between bots);
* ``message`` in the personal chat: typed words or a card click → the coach → the answer; a click on a
  nudge about one thing redraws that card with the choice and no buttons;
* ``message`` in a channel or group chat: only when @mentioned (or a card click); answered in the thread,
  or privately when the answer shows the person's own data (:mod:`adapters.teams.private`);
* ``message`` with a file: in the personal chat, an .ics file is imported (:mod:`adapters.teams.calendars`);
  in a shared chat, advice to send it in the personal chat;
* ``message`` with no text (an image): a hint to type a command;
* ``invoke``: see :mod:`adapters.teams.invokes` — every invoke gets a 200;
* ``conversationUpdate`` adding the bot: the command list in a personal chat, a short hello in a shared one;
* ``installationUpdate`` remove in a personal chat: everything stored about that person is deleted;
* ``messageReaction``, ``typing``, ``event``, ``messageUpdate``/``messageDelete``, ``endOfConversation``
  and anything else: acknowledged and ignored.

Every activity from a personal chat refreshes the person's stored conversation reference, name and
time zone (only when they changed: :class:`~adapters.teams.deps.ReferenceMemo`), so proactive nudges
work after restarts. Handlers take the :class:`~adapters.teams.deps.Deps` and the turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from botbuilder.core import Bot, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams import answers, calendars, files, invokes, replies, translate
from adapters.teams.deps import Coach, Deps, ReferenceMemo
from adapters.teams.submissions import SubmissionError, TypedText
from coaching.commands import Actor
from coaching.messages import Message

log = logging.getLogger(__name__)

NOTHING_TO_READ = "I read typed commands. Type `help` to see them."
HELLO_SHARED = (
    "Hi, I'm DealCoach, a coach for online negotiations. @mention me with `help` to see what I can do; "
    "anything about your own deals I answer in our personal chat."
)
Handler = Callable[[Deps, TurnContext], Awaitable[None]]


def _remembers(activity: Activity) -> bool:
    """Whether this activity refreshes the sender's stored personal-chat reference."""
    if activity.from_property is None or not activity.from_property.id or not translate.is_personal(activity):
        return False
    if activity.type == ActivityTypes.installation_update:
        return not (activity.action or "").startswith("remove")
    if activity.type == ActivityTypes.invoke:
        # accepting a file must not bring back a person who has since said forget-me
        return activity.name != files.FILE_CONSENT_INVOKE
    return activity.type in (ActivityTypes.message, ActivityTypes.conversation_update)


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
            actor.locale,
            user.id if user else None,
            user.aad_object_id if user else None,
            bot.id if bot else None,
            bot.name if bot else None,
        ]
    )


async def remember(deps: Deps, activity: Activity) -> None:
    """Store the sender's personal-chat reference when it changed; a failure costs nobody their answer."""
    try:
        actor = translate.actor_of(activity)
        fingerprint = _fingerprint(activity, actor)
        if deps.memo.unchanged(actor.address, fingerprint):
            return
        reference = translate.reference_of(activity)
        await deps.coach.upsert_user(actor, channel=actor.address.channel, conversation_ref=reference)
        deps.memo.remember(actor.address, fingerprint)
    except Exception:
        log.exception("teams: could not store the conversation reference")


async def on_message(deps: Deps, turn: TurnContext) -> None:
    activity = turn.activity
    personal = translate.is_personal(activity)
    if not personal and not (translate.addressed_to_bot(activity) or translate.submitted(activity)):
        return  # a shared chat's message that is not for the bot
    if deps.seen.repeated(activity):
        log.info("teams: activity %s delivered again; already handled", activity.id)
        return
    sent = calendars.files_of(activity)
    if sent and not translate.submitted(activity):
        await calendars.on_files(deps, turn, sent)
        return
    try:
        request = translate.incoming(activity)
    except SubmissionError as problem:
        await replies.reply(turn, Message(text=str(problem), kind="error"))
        return
    if request is None:
        if personal or translate.addressed_to_bot(activity):
            await replies.reply(turn, Message(text=NOTHING_TO_READ))
        return
    answered = await answers.respond(deps, turn, request)
    click = translate.card_click(activity)
    if click is not None and answered.ran and not answered.message.is_error:
        await replies.show_choice(turn, click)


async def on_conversation_update(deps: Deps, turn: TurnContext) -> None:
    """The bot was added: the command list in a personal chat, a short hello in a shared one."""
    activity = turn.activity
    bot_id = activity.recipient.id if activity.recipient else None
    if not any(member.id == bot_id for member in activity.members_added or ()):
        return
    if not translate.is_personal(activity):
        await replies.reply(turn, Message(text=HELLO_SHARED))
    elif activity.from_property is not None and activity.from_property.id:
        welcome = await answers.ask(deps, TypedText(translate.actor_of(activity), "help"))
        await replies.reply(turn, welcome)


async def on_installation_update(deps: Deps, turn: TurnContext) -> None:
    """Removed from someone's personal scope: their data goes; from a team or group chat: nothing to do."""
    activity = turn.activity
    if not (activity.action or "").startswith("remove"):
        return
    if not translate.is_personal(activity) or activity.from_property is None:
        log.info("teams: app removed from a %s; no personal data to delete", translate.conversation_type(activity))
        return
    address = translate.address_of(activity)
    await deps.coach.forget_user(address)
    deps.memo.forget(address)
    log.info("teams: app uninstalled by a user in tenant %s; their data was deleted", address.workspace)


async def ignored(_deps: Deps, turn: TurnContext) -> None:
    log.debug("teams: %s activity ignored", turn.activity.type)


# activity type → handler; any other type is acknowledged and ignored
ACTIVITIES: dict[str, Handler] = {
    ActivityTypes.message: on_message,
    ActivityTypes.invoke: invokes.on_invoke,
    ActivityTypes.conversation_update: on_conversation_update,
    ActivityTypes.installation_update: on_installation_update,
    ActivityTypes.message_reaction: ignored,
}


async def on_turn(deps: Deps, turn: TurnContext) -> None:
    activity = turn.activity
    if translate.from_a_bot(activity, deps.app_id):
        log.info("teams: a %s activity from a bot (%s) ignored", activity.type, activity.from_property.id)
        if activity.type == ActivityTypes.invoke:
            await turn.send_activity(Activity(type=ActivityTypes.invoke_response, value=invokes.ok()))
        return
    if _remembers(activity):
        await remember(deps, activity)
    await ACTIVITIES.get(activity.type, ignored)(deps, turn)


class TeamsBot(Bot):
    """botbuilder's ``Bot``: the adapter calls :meth:`on_turn` for every authenticated activity."""

    def __init__(
        self,
        coach: Coach,
        *,
        private: object = None,
        app_id: str | None = None,
        emulator: bool = False,
        memo: ReferenceMemo | None = None,
    ) -> None:
        self.deps = Deps(coach=coach, sender=private, app_id=app_id or None, emulator=emulator)
        if memo is not None:
            self.deps.memo = memo

    async def on_turn(self, context: TurnContext) -> None:
        await on_turn(self.deps, context)
