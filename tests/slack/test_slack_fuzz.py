"""A short fuzz run against /slack/events (the long one: ``python bench/faults/fuzz_slack.py``):
mutated, mostly signed requests never get a 5xx or a logged traceback, and a refused one changes
nothing stored."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from tests.slack.fuzzing import Fuzzer, Request, drive

REQUESTS = 200


async def test_mutated_requests_get_no_5xx_and_refused_ones_change_nothing(slack, slack_api, engine, caplog):
    caplog.set_level(logging.INFO)

    async def post(request: Request) -> int:
        response = await slack.client.post("/slack/events", data=request.body, headers=request.headers)
        await response.read()
        return response.status

    fuzzer = Fuzzer(seed=15, response_url=slack_api.new_response_url)
    figures = await drive(fuzzer, post, slack.settle, engine, REQUESTS)
    assert figures.server_errors == []
    assert figures.changed_by_refusal == []
    # A display step whose Web API call Slack refused (chat.update of a message it never sent:
    # message_not_found) is logged with its traceback by handlers.Background; anything else is a bug.
    tracebacks = [r for r in caplog.records if r.exc_info and not isinstance(r.exc_info[1], SlackApiError)]
    assert not tracebacks, [f"{r.name}: {r.getMessage()}" for r in tracebacks][:5]
    # the run exercised both sides: refusals of each kind and accepted requests
    statuses = figures.statuses
    assert statuses[200] > REQUESTS // 10 and statuses[400] > REQUESTS // 10 and statuses[401] > 0, statuses
