"""Data rights: `export` sends everything stored about me as a file; `forget-me confirm` deletes it all."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from coaching.models import Commitment, Negotiation, Nudge, TeamMember, Touchpoint, User
from tests.conftest import make_actor


async def test_export_arrives_as_a_file_with_my_data_only(coach, dispatcher, sender, anna) -> None:
    bob = make_actor("bob")
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "commit 1 theirs send the NDA by friday")
    await coach.handle_text(anna, "coffee Acme")
    await coach.handle_text(bob, "log Globex tomorrow 4pm")
    reply = await coach.handle_text(anna, "export")
    assert reply.text.startswith("Preparing your export")
    await dispatcher.tick()
    export = next(message for address, message in sender.sent if message.kind == "export")
    (attachment,) = export.attachments
    data = json.loads(attachment.data)
    assert [x["counterpart"] for x in data["negotiations"]] == ["Acme"]
    assert data["commitments"][0]["text"] == "send the NDA"
    assert data["touchpoints"][0]["kind"] == "coffee"
    assert "Globex" not in attachment.data.decode()
    assert "1 negotiations, 1 commitments, 1 touchpoints" in export.plain_text()


async def test_forget_me_asks_first_then_deletes_everything(coach, dispatcher, sessions, anna) -> None:
    lead = make_actor("lena")
    await coach.handle_text(lead, "team add anna")
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "commit 1 ours send pricing by friday")
    await coach.handle_text(anna, "followup 1 nice chat")
    asked = await coach.handle_text(anna, "forget-me")
    assert "can't be undone" in asked.text and asked.buttons[0].value == "forget-me confirm"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Negotiation)) == 1  # nothing yet
    done = await coach.handle_text(anna, "forget-me confirm")
    assert done.text.startswith("Done: DealCoach has forgotten you")
    async with sessions() as session:
        for model in (Negotiation, Commitment, Touchpoint, TeamMember):
            assert await session.scalar(select(func.count()).select_from(model)) == 0, model
        users = (await session.scalars(select(User.external_id))).all()
        kinds = (await session.scalars(select(Nudge.kind))).all()
    assert users == ["lena"]
    assert kinds == ["digest"]  # only the lead's own weekly digest is left
    assert (await coach.handle_text(anna, "list")).text.startswith("No negotiations yet")
    assert (await coach.handle_text(anna, "forget-me now")).is_error


async def test_the_export_file_can_be_built_on_demand_for_one_person(coach, anna) -> None:
    """Teams fetches the file in a second step (after the person accepts the upload)."""
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(make_actor("bob"), "log Globex tomorrow 4pm")
    attachment = await coach.export_file(anna.address)
    assert attachment is not None and attachment.content_type == "application/json"
    data = json.loads(attachment.data)
    assert [x["counterpart"] for x in data["negotiations"]] == ["Acme"]
    assert "Globex" not in attachment.data.decode()
    assert await coach.export_file(make_actor("nobody").address) is None
