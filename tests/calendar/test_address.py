"""The feed address as a rep pastes it (Deliver 1 and 8): checked once, shown only redacted."""

from __future__ import annotations

import pytest

from coaching.calendar.address import FeedAddressError, feed_url, redact

GOOGLE = "https://calendar.google.com/calendar/ical/jane%40acme.com/private-5f2a9c0d1e8b7a6f/basic.ics"
OUTLOOK = "https://outlook.office365.com/owa/calendar/0a1b2c3d@acme.com/9f8e7d6c5b4a/calendar.ics"


@pytest.mark.parametrize(
    ("pasted", "fetched"),
    [
        (GOOGLE, GOOGLE),
        (f"  {OUTLOOK}\n", OUTLOOK),
        ("webcal://p58-caldav.icloud.com/published/2/MTIz", "https://p58-caldav.icloud.com/published/2/MTIz"),
        ("WEBCALS://example.com/a.ics", "https://example.com/a.ics"),
        ("http://intranet.example:8080/cal.ics", "http://intranet.example:8080/cal.ics"),
        (f"<{GOOGLE}>", GOOGLE),  # Slack's link wrapping
        (f"<{GOOGLE}|calendar.google.com/…>", GOOGLE),
        ("https://example.com/a.ics#fragment", "https://example.com/a.ics"),
    ],
)
def test_feed_urls(pasted: str, fetched: str):
    assert feed_url(pasted) == fetched


@pytest.mark.parametrize(
    "pasted",
    [
        "",
        "   ",
        "ftp://example.com/a.ics",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://",
        "example.com/a.ics",
        "https://exa mple.com/a.ics",
        "https://example.com:99999/a.ics",
        "https://example.com:0/",
        "https://x/" + "a" * 3000,
    ],
)
def test_what_is_not_a_feed_url_gets_a_plain_reason_without_the_url(pasted: str):
    with pytest.raises(FeedAddressError) as raised:
        feed_url(pasted)
    assert str(raised.value)
    assert "example.com" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (GOOGLE, "https://calendar.google.com/…"),
        (OUTLOOK, "https://outlook.office365.com/…"),
        ("https://user:secret@example.com:8443/x.ics?token=abc", "https://example.com/…"),
        ("http://[fd00::1]/x", "http://[fd00::1]/…"),
        ("not a url", "(a calendar address)"),
    ],
)
def test_redacted_addresses_keep_scheme_and_host_only(url: str, shown: str):
    assert redact(url) == shown
