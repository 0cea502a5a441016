"""Answering inside a turn: replies (with a couple of short retries) and redrawing a clicked card."""

from __future__ import annotations

import asyncio
import logging

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.render import activities, after_click
from adapters.teams.sender import delivery_error
from adapters.teams.submissions import CardClick
from coaching.messages import Message

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 3
MAX_REPLY_WAIT = 3.0  # seconds; Teams waits ~15 s for the whole turn
UPDATE_TIMEOUT = 5.0  # seconds for redrawing a clicked card; the answer has been sent by then


async def reply(turn: TurnContext, message: Message) -> None:
    """``message`` into the conversation the activity came from (file offers: for its sender only)."""
    sender = turn.activity.from_property
    recipient = translate.user_id_of(turn.activity) if sender is not None and sender.id else ""
    for activity in activities(message, recipient):
        await send(turn, activity)


async def send(turn: TurnContext, activity: Activity) -> None:
    """Send one activity; a throttled or failing connector gets a couple of short retries."""
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        try:
            await turn.send_activity(activity)
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


async def show_choice(turn: TurnContext, click: CardClick) -> None:
    """Redraw the clicked card with the choice and no buttons; a failure only costs the redraw."""
    try:
        await asyncio.wait_for(turn.update_activity(after_click(click)), UPDATE_TIMEOUT)
    except TimeoutError:
        log.warning("teams: card %s not updated after the click: no answer in %.0fs", click.activity_id, UPDATE_TIMEOUT)
    except Exception as error:
        log.warning("teams: card %s not updated after the click: %s", click.activity_id, delivery_error(error))
