"""The Teams Sender: proactive messages from the stored reference, and how failures are reported."""

from __future__ import annotations

import pytest

from adapters.teams.sender import RateLimiter, TeamsSender
from coaching.messages import Button, Message, Section
from coaching.ports import Address, DeliveryError

from .fakes import TENANT, activity

ANN = Address("teams", TENANT, "aad-user-1")
PRECALL = Message(
    text="Acme in 30 minutes",
    sections=(Section(heading="Open with a personal connection", lines=("Ask about the new office.",)),),
    buttons=(Button("Prep", "negotiation.prep", "prep 4"),),
    kind="precall",
    ref="negotiation:4",
)


async def test_a_nudge_reaches_the_personal_chat_after_a_restart(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="help"))
    await client.close()  # the process stops; only the stored reference (the fake_coach's store) survives
    connector.calls.clear()

    _, teams = await make_app(fake_coach)  # a new process: new adapter, new connector pool
    await teams.sender.send(ANN, PRECALL)

    [call] = connector.calls
    assert call.path == "/v3/conversations/a:personal-conversation-1/activities"  # new message, not a reply
    assert call.body["summary"] == "Acme in 30 minutes"
    assert "Ask about the new office." in call.visible
    assert call.body["recipient"]["aadObjectId"] == "aad-user-1"


async def test_proactive_sends_are_authenticated_with_an_app_id(make_app, fake_coach, connector, issuer):
    client, teams = await make_app(fake_coach, authenticated=True)
    token = issuer.token(service_url=connector.url)
    await client.post(
        "/api/messages",
        json=activity(connector.url, text="help"),
        headers={"Authorization": f"Bearer {token}"},
    )

    await teams.sender.send(ANN, PRECALL)

    assert connector.calls[-1].authorization.startswith("Bearer outbound-token-for-")
    assert teams.pool.built == 1  # the inbound turn's client is reused for the nudge


async def test_no_reference_yet_means_waiting_not_failed(make_app, fake_coach, connector):
    _, teams = await make_app(fake_coach)

    with pytest.raises(DeliveryError) as failure:
        await teams.sender.send(ANN, PRECALL)

    assert failure.value.waiting and not failure.value.permanent
    assert failure.value.retry_after == 3600
    assert connector.calls == []
    assert connector.calls == []


@pytest.mark.parametrize(
    ("status", "headers", "retry_after", "permanent"),
    [
        (429, {"Retry-After": "7"}, 7.0, False),
        (429, {}, 1.0, False),
        (503, {"Retry-After": "2"}, 2.0, False),
        (500, {}, None, False),
        (403, {}, None, True),
        (404, {}, None, True),
    ],
)
async def test_connector_errors_become_delivery_errors(
    make_app, fake_coach, connector, status, headers, retry_after, permanent
):
    client, teams = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="help"))
    connector.fail_next.append((status, headers))

    with pytest.raises(DeliveryError) as failure:
        await teams.sender.send(ANN, PRECALL)

    assert failure.value.retry_after == retry_after
    assert failure.value.permanent is permanent
    assert len(connector.calls) == 2  # one reply, one failed attempt: no hidden retries inside the SDK


async def test_an_unreachable_connector_is_a_transient_failure(make_app, fake_coach, connector):
    client, teams = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="help"))
    ref = fake_coach.users[("teams", TENANT, "aad-user-1")]["conversation_ref"]
    ref["serviceUrl"] = "http://127.0.0.1:9/"  # nothing listens on the discard port

    with pytest.raises(DeliveryError) as failure:
        await teams.sender.send(ANN, PRECALL)

    assert not failure.value.permanent


async def test_rate_limit_paces_short_bursts_and_hands_long_waits_back_to_the_outbox(fake_coach):
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # a fake clock: waiting moves time, nothing really sleeps
        slept.append(seconds)

    sender = TeamsSender(adapter=None, store=fake_coach, app_id=None, clock=lambda: now[0], sleep=sleep)
    fake_coach.users[("teams", TENANT, "aad-user-1")] = {
        "conversation_ref": {"serviceUrl": "http://127.0.0.1:9/", "conversation": {"id": "a:1"}}
    }
    reference = await sender.reference(ANN)

    for _ in range(7):  # the burst Teams allows per conversation goes at once
        await sender._pace(reference, ANN)
    assert slept == []
    await sender._pace(reference, ANN)  # the 8th waits a seventh of a second
    assert slept == [pytest.approx(1 / 7)]
    with pytest.raises(DeliveryError) as failure:
        for _ in range(20):
            await sender._pace(reference, ANN)

    assert failure.value.retry_after is not None and failure.value.retry_after > 1.0
    assert not failure.value.permanent
    now[0] += 60  # a minute later the bucket is full again
    slept.clear()
    await sender._pace(reference, ANN)
    assert slept == []


def test_rate_limiter_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(7, clock=lambda: now[0])

    waits = [limiter.reserve("conv") for _ in range(8)]

    assert waits[:7] == [0.0] * 7
    assert waits[7] == pytest.approx(1 / 7)
    now[0] = 10.0
    assert limiter.reserve("conv") == 0.0
    assert limiter.reserve("other") == 0.0
