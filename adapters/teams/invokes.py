"""Invoke activities: each answered with HTTP 200 and a body its sender understands (:data:`INVOKES`).

* ``adaptiveCard/action`` — a click on an ``Action.Execute`` (Universal Actions): handled like the same
  click arriving as an ``Action.Submit`` message, and answered with the updated card for the person who
  clicked (a nudge about one thing shows its choice and loses its buttons) or with a short message.
* ``fileConsent/invoke`` — *Allow* / *Decline* on the export's file-upload consent card
  (:mod:`adapters.teams.files`), honoured only from the person the card was sent to.
* ``signin/*`` — DealCoach never signs anyone in: acknowledged.
* ``task/*``, ``composeExtension/*`` — DealCoach has no dialogs or message extensions: "not supported here"
  in the shape each expects.
* anything else, or an invoke with no name: 200 with "not supported here".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams import answers, files, private, replies, translate
from adapters.teams.deps import Deps
from adapters.teams.render import after_click_card
from adapters.teams.submissions import SubmissionError, clip, is_ours
from coaching.messages import Message

log = logging.getLogger(__name__)

NOT_SUPPORTED = "DealCoach doesn't do that here: chat with it instead (type help)."
NOT_OURS = "This card isn't one of DealCoach's."
DONE = "Done."
NOTHING_STORED = "DealCoach stores nothing about you, so there is no file to upload."
EXPORT_DECLINED = "OK, no file was uploaded; type `export` again whenever you like."
UPLOAD_FAILED = "Sorry, I couldn't upload your export to OneDrive. Please type `export` to try again."
NOT_YOURS = "That file offer was for someone else (or has expired): type `export` for your own."
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"

Handler = Callable[[Deps, TurnContext], Awaitable[InvokeResponse]]


def ok(body: Any = None) -> InvokeResponse:
    return InvokeResponse(status=200, body=body)


def card_response(card: dict[str, Any]) -> InvokeResponse:
    return ok({"statusCode": 200, "type": CARD, "value": card})


def message_response(text: str) -> InvokeResponse:
    return ok({"statusCode": 200, "type": MESSAGE, "value": clip(text, 300) or DONE})


async def card_action(deps: Deps, turn: TurnContext) -> InvokeResponse:
    """An ``Action.Execute`` click: the same request as its ``Action.Submit`` fallback would be."""
    activity = turn.activity
    data = translate.execute_data(activity)
    if data is None or not is_ours(data):
        return message_response(NOT_OURS)
    click = translate.card_click(activity)
    if deps.seen.repeated(activity):  # delivered again: it ran already
        return card_response(after_click_card(click)) if click else message_response(DONE)
    try:
        request = translate.incoming(activity)
    except SubmissionError as problem:
        return message_response(str(problem))
    answered = await answers.respond(deps, turn, request)
    if click is not None and answered.ran and not answered.message.is_error:
        await replies.show_choice(turn, click)  # every device the person uses shows it, not only this one
        return card_response(after_click_card(click))
    return message_response(private.SENT_PRIVATELY if answered.privately else answered.message.text)


async def _upload_export(deps: Deps, turn: TurnContext, consent: files.Consent) -> None:
    address = translate.address_of(turn.activity)
    try:
        export = await deps.coach.export_file(address)
    except Exception:
        log.exception("teams: the coach failed to build an export")
        await replies.reply(turn, Message(text=answers.SORRY, kind="error"))
        return
    if export is None:
        await replies.reply(turn, Message(text=NOTHING_STORED))
        return
    try:
        await files.upload(consent.upload_url, export.data)
    except files.UploadFailed as error:
        log.warning("teams: export upload for a user in tenant %s failed: %s", address.workspace, error)
        await replies.reply(turn, Message(text=UPLOAD_FAILED, kind="error"))
        return
    log.info("teams: export uploaded (%d bytes) for a user in tenant %s", len(export.data), address.workspace)
    await replies.send(turn, files.file_info_card(consent))


async def file_consent(deps: Deps, turn: TurnContext) -> InvokeResponse:
    """*Allow* or *Decline* on the export's consent card; always 200 (Teams shows an error otherwise)."""
    activity = turn.activity
    try:
        consent = files.consent_of(activity.value, translate.user_id_of(activity), plain_http=deps.emulator)
    except files.NotTheirs:
        log.warning("teams: a fileConsent/invoke for a card sent to someone else; ignored")
        await replies.reply(turn, Message(text=NOT_YOURS))
        return ok()
    if consent is None:
        log.info("teams: a fileConsent/invoke not about a DealCoach export; ignored")
    elif translate.is_personal(activity) and not deps.seen.repeated(activity):
        if consent.accepted:
            await _upload_export(deps, turn, consent)
        else:
            await replies.reply(turn, Message(text=EXPORT_DECLINED))
    return ok()


async def acknowledged(_deps: Deps, _turn: TurnContext) -> InvokeResponse:
    return ok()


async def no_dialogs(_deps: Deps, _turn: TurnContext) -> InvokeResponse:
    return ok({"task": {"type": "message", "value": NOT_SUPPORTED}})


async def no_search(_deps: Deps, _turn: TurnContext) -> InvokeResponse:
    return ok({"composeExtension": {"type": "message", "text": NOT_SUPPORTED}})


async def no_link_preview(_deps: Deps, _turn: TurnContext) -> InvokeResponse:
    return ok({"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": []}})


async def not_supported(_deps: Deps, _turn: TurnContext) -> InvokeResponse:
    return ok({"message": NOT_SUPPORTED})


# invoke name → handler; then by prefix; anything else (or no name): not_supported
INVOKES: dict[str, Handler] = {
    "adaptiveCard/action": card_action,
    files.FILE_CONSENT_INVOKE: file_consent,
    "composeExtension/query": no_search,
    "composeExtension/queryLink": no_link_preview,
    "composeExtension/anonymousQueryLink": no_link_preview,
    "composeExtension/fetchTask": no_dialogs,
    "composeExtension/submitAction": no_dialogs,
    "healthCheck": acknowledged,
}
PREFIXES: dict[str, Handler] = {
    "signin/": acknowledged,
    "task/": no_dialogs,
    "composeExtension/": no_search,
}


def handler_for(name: Any) -> Handler:
    if not isinstance(name, str) or not name:
        return not_supported
    if name in INVOKES:
        return INVOKES[name]
    return next((handler for prefix, handler in PREFIXES.items() if name.startswith(prefix)), not_supported)


async def on_invoke(deps: Deps, turn: TurnContext) -> None:
    """Answer the invoke; whatever happens inside, its sender gets a 200."""
    try:
        response = await handler_for(turn.activity.name)(deps, turn)
    except Exception:
        log.exception("teams: the %s invoke failed", turn.activity.name or "nameless")
        response = ok({"message": answers.SORRY})
    await turn.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))
