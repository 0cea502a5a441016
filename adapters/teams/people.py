"""Colleagues are real people: ``team add``, ``team remove`` and ``handoff`` name Teams users.

The adapter resolves the person *before* it builds the coach's command, so the coach only ever sees a
real user id: an @mention (its entity's id, looked up with ``TeamsInfo``), a name (matched against the
members of this team or group chat, page by page), or the people picker's choice (an AAD object id,
looked up in this conversation, else by opening the 1:1 chat with them). Whoever cannot be resolved
gets a people-picker card instead, never a made-up user.

A resolved colleague's name and personal-chat reference are stored (``coach.upsert_user``), creating
the chat when there is none, so nudges and hand-off notes reach them; if Teams refuses (DealCoach is
not installed for them) the person who asked is told, and a hand-off note waits for them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity
from botframework.connector.models import ErrorResponseException
from msrest.exceptions import HttpOperationError

from adapters.teams import reach, translate
from adapters.teams.deps import Deps
from adapters.teams.reach import Person, Unreachable
from adapters.teams.render import people_picker
from adapters.teams.submissions import PersonPick, TypedText
from coaching import commands as c
from coaching.commands import Actor
from coaching.parser import ALIASES

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_PAGES = 10  # a roster larger than 2,000 people is searched with the picker instead
_MENTION = re.compile(r"<@([^|>]+)\|([^>]*)>")
_WHO = re.compile(r"(<@[^>]*>|\S+)\s*(.*)", re.DOTALL)
LOOKUP_FAILED = "I couldn't look {name} up in Teams just now. Please try again in a moment."


@dataclass(frozen=True)
class Wanted:
    """A command that names a colleague: the words without them, who was named, how to build it."""

    command: str  # "team add", "team remove", "handoff 3 the note"
    who: str  # as typed: "<@29:x|Sam Lee>", "@sam", "Sam Lee"; "" for a picker's choice
    build: Callable[[Actor, str], c.Command]  # (actor, their user id) → the coach's command


@dataclass
class Resolution:
    """What to do instead of (or besides) passing the request on to the coach."""

    request: Any = None  # the request for the coach (None: nothing for the coach)
    reply: Activity | None = None  # say this instead (the people picker, a lookup failure)
    notes: list[str] = field(default_factory=list)  # add these lines to the coach's answer


def _team(action: str) -> Callable[[Actor, str], c.Command]:
    if action == "add":
        return lambda actor, member: c.TeamAdd(actor, member=member)
    return lambda actor, member: c.TeamRemove(actor, member=member)


def wanted(text: str) -> Wanted | None:
    """The colleague-naming command in ``text``; None for other commands, or when nobody is named (the
    coach then answers with the usage line)."""
    words = text.split(None, 1)
    if words and words[0].startswith("/"):  # "/negotiation team add …"
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words:
        return None
    verb, rest = ALIASES.get(words[0].lower(), words[0].lower()), (words[1] if len(words) > 1 else "")
    if verb == "team":
        action, _, who = rest.partition(" ")
        action = {"rm": "remove", "delete": "remove"}.get(action.lower(), action.lower())
        if action not in ("add", "remove") or not who.strip():
            return None
        return Wanted(f"team {action}", who.strip(), _team(action))
    if verb == "handoff":
        number, _, tail = rest.strip().partition(" ")
        match = _WHO.fullmatch(tail.strip())
        if not number.isdigit() or len(number) > 9 or match is None:
            return None
        note = match.group(2).strip() or None
        build = lambda actor, member: c.Handoff(actor, negotiation=int(number), member=member, note=note)  # noqa: E731
        return Wanted(f"handoff {number} {note or ''}".strip(), match.group(1), build)
    return None


def _with_person(command: str, who: str) -> str:
    """The picker's command words with the chosen person put where they are typed."""
    words = command.split(None, 2)
    if words and words[0].lower() == "handoff" and len(words) > 1:
        return " ".join([*words[:2], who, *words[2:]])
    return f"{command} {who}"


def plain(text: str) -> str:
    """``text`` with mention tokens as the names they show (for commands that do not name colleagues)."""
    return _MENTION.sub(lambda m: m.group(2), text)


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status in (400, 403, 404)


async def lookup(turn: TurnContext, member_id: str) -> Person | None:
    """The member of this conversation (or its team) with this Teams or AAD id; None if there is none."""
    if not isinstance(turn.activity.channel_data, dict):
        turn.activity.channel_data = {}  # TeamsInfo reads it with **; an activity may have none
    team = translate.team_id_of(turn.activity)
    try:
        if team:  # (TeamsInfo.get_member would parse channelData again, warning about each unknown key)
            member = await TeamsInfo.get_team_member(turn, team, member_id)
        else:
            member = await TeamsInfo.get_member(turn, member_id)
    except (ErrorResponseException, HttpOperationError) as error:
        if _not_found(error):
            return None
        raise
    if not member or not member.id:
        return None
    email = member.email or member.user_principal_name
    return Person(
        teams_id=str(member.id),
        aad_object_id=member.aad_object_id or None,
        name=member.name or None,
        email=email if isinstance(email, str) and "@" in email else None,
    )


def _names(member: Any) -> set[str]:
    names = {member.name, member.given_name, f"{member.given_name or ''} {member.surname or ''}"}
    for address in (member.user_principal_name, member.email):
        if address:
            names |= {address, address.split("@")[0]}
    if member.name:
        names.add(member.name.split()[0])
    return {" ".join(str(name).split()).casefold() for name in names if name and str(name).strip()}


async def search(turn: TurnContext, name: str) -> list[Person]:
    """Members of this team or group chat whose name, first name or sign-in name is ``name``."""
    wanted_name = " ".join(name.split()).casefold()
    found: list[Person] = []
    token = None
    team = translate.team_id_of(turn.activity)
    for _ in range(MAX_PAGES):
        if team:
            page = await TeamsInfo.get_paged_team_members(turn, team, token, PAGE_SIZE)
        else:
            page = await TeamsInfo.get_paged_members(turn, token, PAGE_SIZE)
        for member in page.members or ():
            if member.id and wanted_name in _names(member):
                found.append(Person(str(member.id), member.aad_object_id or None, member.name or None))
        token = page.continuation_token
        if not token:
            break
    return found


async def find(turn: TurnContext, who: str) -> tuple[Person | None, str]:
    """(the person ``who`` names, how to call them); the person is None when nobody matches exactly."""
    mention = _MENTION.fullmatch(who)
    if mention:
        return await lookup(turn, mention.group(1)), mention.group(2) or "them"
    name = who.lstrip("@").strip()
    if translate.is_personal(turn.activity):
        return None, name  # a personal chat has no roster to search: the picker does it
    matches = await search(turn, name)
    return (matches[0] if len(matches) == 1 else None), name


async def picked(deps: Deps, turn: TurnContext, aad_object_id: str) -> tuple[Person, dict[str, Any] | None]:
    """The person chosen in the picker, and the reference of their personal chat if one could be opened."""
    person = await lookup(turn, aad_object_id)
    if person is not None:
        return person, None
    person = Person(teams_id=aad_object_id, aad_object_id=aad_object_id)
    try:
        reference = await reach.open_personal_chat(turn, person, app_id=deps.app_id)
    except Unreachable:
        return person, None  # the directory knows them; Teams will not let us write to them yet
    named = await _member_of(turn, reference, aad_object_id)
    if named is not None and named.aad_object_id == aad_object_id:
        person = named
        reference = reach.reference_to(turn.activity, person, reference["conversation"]["id"])
    return person, reference


async def _member_of(turn: TurnContext, reference: dict[str, Any], member_id: str) -> Person | None:
    """Who is in the personal chat just opened (their name and Teams id)."""
    connector = turn.turn_state.get(turn.adapter.BOT_CONNECTOR_CLIENT_KEY)
    try:
        member = await connector.conversations.get_conversation_member(reference["conversation"]["id"], member_id)
    except Exception as error:  # the chat exists; only the name is missing
        log.info("teams: no member details in a new personal chat: %s", type(error).__name__)
        return None
    extra = getattr(member, "additional_properties", None) or {}
    return Person(
        teams_id=str(member.id), aad_object_id=extra.get("aadObjectId") or member.aad_object_id, name=member.name
    )


async def make_reachable(deps: Deps, turn: TurnContext, person: Person, reference: dict[str, Any] | None) -> bool:
    """Store the colleague's name and personal-chat reference (opening the chat when none is stored);
    False when Teams will not let DealCoach write to them."""
    tenant = translate.tenant_of(turn.activity)
    address = person.address(tenant)
    if reference is None and not await deps.coach.conversation_ref(address):
        try:
            reference = await reach.open_personal_chat(turn, person, app_id=deps.app_id)
        except Unreachable:
            reference = None
        if reference is None:
            await deps.coach.upsert_user(Actor(address, display_name=person.name))
            return False
    await deps.coach.upsert_user(Actor(address, display_name=person.name), conversation_ref=reference)
    return True


def _unreachable_note(person: Person, command: str) -> str:
    who = person.name or "They"
    if command.startswith("handoff"):
        return f"{who} can't get messages from DealCoach yet (it isn't installed for them): the note waits until it is."
    return f"{who} can't get messages from DealCoach yet (it isn't installed for them); ask them to add the app."


def _picker(turn: TurnContext, want: Wanted, name: str) -> Activity:
    where = "here" if translate.is_personal(turn.activity) else "in this team"
    text = f"I can't find {name} {where} — pick them here."
    return people_picker(text, want.command, translate.user_id_of(turn.activity))


async def _resolved(deps: Deps, turn: TurnContext, actor: Actor, want: Wanted, found: Any) -> Resolution:
    person, reference = found
    notes = [] if await make_reachable(deps, turn, person, reference) else [_unreachable_note(person, want.command)]
    return Resolution(request=want.build(actor, person.user_id), notes=notes)


async def resolve(deps: Deps, turn: TurnContext, request: Any) -> Resolution:
    """Turn a request that names a colleague into the coach's command for that real person."""
    if isinstance(request, PersonPick):
        want = wanted(_with_person(request.command, f"<@{request.person}|>"))
        if want is None:
            return Resolution(request=TypedText(request.actor, request.command))
        return await _resolved(deps, turn, request.actor, want, await picked(deps, turn, request.person))
    if not isinstance(request, TypedText):
        return Resolution(request=request)
    want = wanted(request.text)
    if want is None:
        return Resolution(request=TypedText(request.actor, plain(request.text)))
    try:
        person, name = await find(turn, want.who)
    except Exception as error:  # Teams did not answer the lookup: say so, change nothing
        log.warning("teams: member lookup failed: %s", type(error).__name__)
        name = _MENTION.sub(lambda m: m.group(2), want.who).lstrip("@") or "them"
        return Resolution(
            reply=people_picker(LOOKUP_FAILED.format(name=name), want.command, request.actor.address.user)
        )
    if person is None:
        return Resolution(reply=_picker(turn, want, name or "them"))
    return await _resolved(deps, turn, request.actor, want, (person, None))
