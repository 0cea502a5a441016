"""bot/logs.py: secrets masked in every record the root logger's handlers write, whichever logger and
level, in text and in ``LOG_FORMAT=json`` (one object per line, with the request or nudge id)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from bot.config import ConfigError, Settings
from coaching import correlation

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CLIENT_SECRET = "3b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f"
APP_PASSWORD = "Az~8Q~pretend.app-password_value"
SECRET_KEY = "a long random string from the environment"
SETTINGS = Settings(
    slack_signing_secret=SIGNING,
    slack_client_id="111.222",
    slack_client_secret=CLIENT_SECRET,
    secret_key=SECRET_KEY,
    microsoft_app_password=APP_PASSWORD,
    database_url="postgresql+asyncpg://dealcoach:db-pass-w0rd@db.internal:5432/dealcoach",
    log_level="DEBUG",
)

GOOGLE = "https://calendar.google.com/calendar/ical/anna%40acme.com/private-8d1b7c0e4f2a9b3c/basic.ics"
OUTLOOK = "https://outlook.office365.com/owa/calendar/0f3e4a5b6c7d@acme.com/9a8b7c6d5e4f3a2b1c0d/reachcalendar.ics"
# (what is logged, the secret in it that must not come out)
LEAKS = [
    ("installed: {'access_token': 'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy'}", "pdFZKVeTuE8sk7oO"),
    ("user token xoxp-1234-5678-90ab-cdef01234567", "90ab-cdef01234567"),
    ("socket mode xapp-1-A0123-4567-89abcdef", "89abcdef"),
    ("refresh_token=xoxe-1-My0xLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkw", "My0xLTEyMzQ1Njc4"),
    ("rotated xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAxMi0", "MS0yLTEyMzQ1"),
    ("headers: {'Authorization': 'Bearer xyzzy-bearer-token-0123'}", "xyzzy-bearer-token-0123"),
    ("calling with Bearer abcdefgh.ijklmnop.qrstuvwx", "abcdefgh.ijklmnop"),
    ("Authorization: Basic MTExLjIyMjpjbGllbnQtc2VjcmV0", "MTExLjIyMjpjbGllbnQtc2VjcmV0"),
    ("token body client_id=111.222&client_secret=not-configured-but-shaped", "not-configured-but-shaped"),
    (f"verifying with {SIGNING}", SIGNING),
    (f"the client secret is {CLIENT_SECRET}", CLIENT_SECRET),
    (f"MicrosoftAppPassword={APP_PASSWORD}", APP_PASSWORD),
    (f"DEALCOACH_SECRET_KEY is {SECRET_KEY}", SECRET_KEY),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    (f"fetching {GOOGLE} failed", "private-8d1b7c0e4f2a9b3c"),
    (f"fetching {OUTLOOK}: 404", "9a8b7c6d5e4f3a2b1c0d"),
    ("feed webcal://p52-caldav.icloud.com/published/2/MTIzNDU2Nzg5MDEyMzQ1Ng", "MTIzNDU2Nzg5MDEyMzQ1Ng"),
    ("connecting to postgresql+asyncpg://dealcoach:db-pass-w0rd@db.internal/dealcoach", "db-pass-w0rd"),
    ("answering https://hooks.slack.com/commands/T0001/1234/abcdEFGHsecret", "abcdEFGHsecret"),
]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_are_masked_whichever_logger_and_level(restore_logging, log_format):
    stream = io.StringIO()
    logs.configure(Settings(**{**SETTINGS.__dict__, "log_format": log_format}), stream=stream)
    loggers = ["slack_sdk.web.async_base_client", "aiohttp.access", "botbuilder.core", "dealcoach", "sqlalchemy.x"]
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]
    for i, (line, _) in enumerate(LEAKS):
        logger, level = logging.getLogger(loggers[i % len(loggers)]), levels[i % len(levels)]
        logger.log(level, "%s", line)  # as an argument
        logger.log(level, line.replace("%", "%%"))  # in the message itself
    try:
        raise RuntimeError(f"could not fetch {GOOGLE} with xoxb-1-2-3secretsecret")
    except RuntimeError:
        logging.getLogger("coaching.calendar").exception("sync failed")
    output = stream.getvalue()
    for _, secret in LEAKS:
        assert secret not in output
    assert "3secretsecret" not in output and "Traceback" in output
    # what is not secret is still there to read
    assert "calendar.google.com" in output and "outlook.office365.com" in output and "db.internal" in output
    assert "xoxb-***" in output and "Bearer ***" in output


def test_json_lines_carry_time_level_logger_message_and_the_request_or_nudge_id(restore_logging):
    stream = io.StringIO()
    logs.configure(Settings(log_format="json", log_level="INFO"), stream=stream)
    log = logging.getLogger("dealcoach.test")
    log.info("outside")
    with correlation.request("req123"):
        log.warning("inside a request, line one\nline two")
    with correlation.nudge(42):
        try:
            raise ZeroDivisionError("no")
        except ZeroDivisionError:
            log.exception("sending failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # one object per line, newlines and tracebacks included
    outside, inside, failed = (json.loads(line) for line in lines)
    assert set(outside) == {"time", "level", "logger", "message"}
    assert outside["level"] == "INFO" and outside["logger"] == "dealcoach.test" and outside["message"] == "outside"
    assert outside["time"].endswith("+00:00")
    assert inside["request_id"] == "req123" and inside["message"].endswith("line two")
    assert failed["nudge_id"] == "42" and "ZeroDivisionError" in failed["exc"]


def test_text_lines_name_the_request(restore_logging):
    stream = io.StringIO()
    logs.configure(Settings(log_level="INFO"), stream=stream)
    with correlation.request("req456"):
        logging.getLogger("dealcoach.test").info("hello")
    assert stream.getvalue().rstrip().endswith("dealcoach.test: hello [request req456]")


def test_quiet_keeps_warnings_only(restore_logging):
    stream = io.StringIO()
    logs.configure(Settings(log_level="DEBUG"), quiet=True, stream=stream)
    logging.getLogger("dealcoach.test").info("chatter")
    logging.getLogger("dealcoach.test").warning("worth saying")
    assert "chatter" not in stream.getvalue() and "worth saying" in stream.getvalue()


def test_log_format_must_be_text_or_json():
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})


def test_a_record_whose_arguments_do_not_fit_is_still_masked(restore_logging):
    stream = io.StringIO()
    logs.configure(Settings(log_level="INFO"), stream=stream)
    logging.getLogger("dealcoach.test").info("token %s %s", "xoxb-1-2-abcdefgh")  # one argument short
    assert "abcdefgh" not in stream.getvalue() and "xoxb-***" in stream.getvalue()
