"""Which meetings are negotiations (Deliver 4), with whom and over what (Deliver 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coaching.calendar.negotiations import (
    DEFAULT_KEYWORDS,
    Reason,
    Rep,
    Source,
    channel,
    counterpart,
    name_in_title,
    negotiation,
)
from coaching.calendar.reading import Meeting, Person, read_calendar
from tests.calendar.conftest import JANE, NOW, feed

START = datetime(2026, 6, 16, 8, tzinfo=UTC)
ACME = Rep.of(emails=[JANE])


def meeting(title: str = "Meeting", *people: str, organizer: str | None = None, **kwargs) -> Meeting:
    return Meeting(
        key=title,
        uid=title,
        title=title,
        start=START,
        end=START + timedelta(hours=1),
        organizer=Person(organizer) if organizer else None,
        attendees=tuple(Person(email) for email in people),
        **kwargs,
    )


def verdicts(name: str, rep: Rep = ACME) -> dict[str, Reason]:
    result = read_calendar(feed(name), now=NOW, zone="Europe/Berlin", me=rep.emails)
    return {m.title: negotiation(m, rep).reason for m in result.meetings}


def test_rep_domains_come_from_the_profile_email_and_settings_but_never_free_mail():
    rep = Rep.of(emails=["Jane@ACME.com", "jane.doe@gmail.com"], domains=["acme-labs.io", " @acme.de "])
    assert rep.domains == {"acme.com", "acme-labs.io", "acme.de"}
    assert rep.emails == {"jane@acme.com", "jane.doe@gmail.com"}
    assert rep.keywords == DEFAULT_KEYWORDS
    assert Rep.of(keywords=["deal", " "]).keywords == ("deal",)


def test_google_feed_external_meetings_are_candidates_internal_and_routine_never():
    assert verdicts("google.ics") == {
        "Daily stand-up": Reason.ROUTINE,
        "Globex — pricing call": Reason.EXTERNAL,
        "Lunch": Reason.EXTERNAL,  # sam.smith@gmail.com: an outside person
        "Umbrella renewal check-in": Reason.EXTERNAL,
        "Weekly check-in (moved)": Reason.EXTERNAL,
        "Weekly check-in": Reason.EXTERNAL,
        "Procurement call": Reason.EXTERNAL,
        "1:1 Jane / Tom": Reason.ROUTINE,
        "Pricing review (internal)": Reason.INTERNAL,  # a keyword, but only colleagues (eu.acme.com) and a room
    }


def test_outlook_feed_without_attendee_lines_falls_back_to_the_title():
    assert verdicts("outlook.ics") == {
        "Team meeting": Reason.UNRELATED,
        "Hooli proposal review": Reason.KEYWORD,
        "Globex QBR": Reason.KEYWORD,
        "Initech contract renewal": Reason.KEYWORD,
    }


@pytest.mark.parametrize(
    ("title", "keyword"),
    [
        ("Pricing call", "pricing"),
        ("Globex: contracts", "contract"),
        ("RFPs due", "RFP"),
        ("qbr with Hooli", "QBR"),
        ("Procurement intro", "procurement"),
        ("Negotiation round 2", "negotiation"),
        ("Renewal", "renewal"),
        ("Proposal walkthrough", "proposal"),
    ],
)
def test_each_default_keyword_makes_a_title_a_candidate(title: str, keyword: str):
    verdict = negotiation(meeting(title), ACME)
    assert (verdict.negotiation, verdict.reason, verdict.keyword) == (True, Reason.KEYWORD, keyword)


@pytest.mark.parametrize("title", ["Contractor onboarding", "Repricing tool demo", "Team lunch", ""])
def test_titles_without_a_keyword_as_a_word_are_not(title: str):
    assert negotiation(meeting(title), ACME).reason is Reason.UNRELATED


def test_the_reps_own_keywords_replace_the_defaults():
    rep = Rep.of(emails=[JANE], keywords=["tender"])
    assert negotiation(meeting("Tender clarification"), rep).negotiation
    assert not negotiation(meeting("Pricing call"), rep).negotiation


@pytest.mark.parametrize(
    "title", ["Daily standup", "Stand-up", "Sprint planning", "Retro", "1:1 Jane/Tom", "1-1", "One-on-one"]
)
def test_stand_ups_and_one_on_ones_are_never_negotiations_even_with_a_keyword(title: str):
    assert not negotiation(meeting(f"{title} (pricing)", JANE, "tom@acme.com"), ACME).negotiation
    assert not negotiation(meeting(f"{title} pricing"), ACME).negotiation


def test_a_one_on_one_with_an_outsider_is_a_candidate():
    assert negotiation(meeting("1:1 with Bob", JANE, "bob@globex.com"), ACME).reason is Reason.EXTERNAL


def test_a_stand_up_with_an_outsider_is_still_routine():
    assert negotiation(meeting("Daily stand-up", JANE, "contractor@globex.com"), ACME).reason is Reason.ROUTINE


def test_subdomains_of_own_domains_are_colleagues_lookalikes_are_not():
    assert negotiation(meeting("Sync", JANE, "tom@eu.acme.com"), ACME).reason is Reason.INTERNAL
    verdict = negotiation(meeting("Sync", JANE, "tom@acme.com.evil.io", "ann@notacme.com"), ACME)
    assert verdict.reason is Reason.EXTERNAL
    assert [p.email for p in verdict.outsiders] == ["tom@acme.com.evil.io", "ann@notacme.com"]


def test_the_organizer_counts_as_a_participant():
    assert negotiation(meeting("Sync", JANE, organizer="alice@initech.com"), ACME).reason is Reason.EXTERNAL


def test_a_meeting_with_only_the_rep_goes_by_its_title():
    assert negotiation(meeting("Globex pricing prep", JANE, organizer=JANE), ACME).reason is Reason.KEYWORD
    assert negotiation(meeting("Focus", JANE, organizer=JANE), ACME).reason is Reason.UNRELATED


def test_without_own_domains_attendees_cannot_tell_colleagues_so_the_title_decides():
    nobody = Rep.of()
    assert negotiation(meeting("Pricing call", "tom@acme.com"), nobody).reason is Reason.KEYWORD
    assert negotiation(meeting("Sync", "tom@acme.com"), nobody).reason is Reason.UNRELATED


# --- counterparts ----------------------------------------------------------------------------------


def test_a_learned_domain_mapping_comes_first():
    guess = counterpart(meeting("Pricing", "bob@mail.globex.co.uk"), ACME, learned={"globex.co.uk": "Globex Group"})
    assert guess is not None and (guess.name, guess.source, guess.domain) == (
        "Globex Group",
        Source.LEARNED,
        "globex.co.uk",
    )
    sub = counterpart(meeting("Pricing", "bob@emea.globex.com"), ACME, learned={"emea.globex.com": "Globex EMEA"})
    assert sub is not None and sub.name == "Globex EMEA"


def test_an_existing_counterpart_matching_the_domain():
    guess = counterpart(meeting("Weekly", "bob@globex.com"), ACME, known=["Initech", "Globex Corp."])
    assert guess is not None and (guess.name, guess.source, guess.domain) == (
        "Globex Corp.",
        Source.KNOWN,
        "globex.com",
    )
    hyphen = counterpart(meeting("Call", "bruce@wayne-enterprises.com"), ACME, known=["Wayne Enterprises"])
    assert hyphen is not None and hyphen.name == "Wayne Enterprises"


def test_an_existing_counterpart_named_in_the_title():
    guess = counterpart(meeting("Prep for Hooli pricing", "x@reseller.example"), ACME, known=["Hooli", "Globex"])
    assert guess is not None and (guess.name, guess.source) == ("Hooli", Source.KNOWN)


def test_a_name_in_the_title_that_matches_the_domain_keeps_the_titles_spelling():
    guess = counterpart(meeting("GlobalTech — pricing call", "ann@globaltech.io"), ACME)
    assert guess is not None and (guess.name, guess.source, guess.domain) == (
        "GlobalTech",
        Source.TITLE,
        "globaltech.io",
    )


def test_else_a_name_made_from_the_domain():
    guess = counterpart(meeting("Weekly check-in", "alice@initech.com"), ACME)
    assert guess is not None and (guess.name, guess.source) == ("Initech", Source.DOMAIN)
    assert counterpart(meeting("Call", "x@ibm.com"), ACME).name == "IBM"  # type: ignore[union-attr]
    assert counterpart(meeting("Call", "x@stark-industries.co.uk"), ACME).name == "Stark Industries"  # type: ignore[union-attr]


def test_the_organization_with_most_attendees_wins_then_the_organizers():
    many = meeting("Call", "a@small.com", "b@big.com", "c@big.com")
    assert counterpart(many, ACME).domain == "big.com"  # type: ignore[union-attr]
    tie = meeting("Call", "a@one.com", "b@two.com", organizer="o@two.com")
    assert counterpart(tie, ACME).domain == "two.com"  # type: ignore[union-attr]


def test_free_mail_people_are_people_not_organizations():
    named = counterpart(meeting("Lunch", JANE, "sam.smith@gmail.com"), ACME)
    assert named is not None and (named.name, named.source, named.domain) == ("Sam Smith", Source.PERSON, None)
    with_cn = Meeting("k", "k", "Lunch", START, START, attendees=(Person("s123@outlook.com", "Sam O'Neil"),))
    assert counterpart(with_cn, ACME).name == "Sam O'Neil"  # type: ignore[union-attr]
    # an organization beats a free-mail person in the same meeting
    mixed = meeting("Call", "sam@gmail.com", "bob@globex.com")
    assert counterpart(mixed, ACME).name == "Globex"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Globex — pricing call", "Globex"),
        ("Initech contract renewal", "Initech"),
        ("Globex QBR", "Globex"),
        ("Pricing call with Wayne Enterprises", "Wayne Enterprises"),
        ("Acme / Umbrella renewal", "Umbrella"),
        ("Acme <> Hooli: RFP Q3", "Hooli"),
        ("RFP deadline Initech", "Initech"),
        ("Stark Industries - negotiation", "Stark Industries"),
        ("pricing with globex", "Globex"),
    ],
)
def test_names_in_titles(title: str, name: str):
    assert name_in_title(title, ACME) == name
    guess = counterpart(meeting(title), ACME)
    assert guess is not None and (guess.name, guess.source) == (name, Source.TITLE)


@pytest.mark.parametrize("title", ["Renewal sync", "Q3 pricing review", "Weekly contract call", "Acme pricing"])
def test_no_name_no_guess_the_caller_asks(title: str):
    assert counterpart(meeting(title), ACME) is None


# --- channel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        {"location": "https://acme.zoom.us/j/8341234?pwd=x"},
        {"location": "Microsoft Teams Meeting"},
        {"links": ("https://meet.google.com/abc-defg-hij",)},
        {"links": ("https://teams.microsoft.com/l/meetup-join/19%3ameeting",)},
        {"description": "Join: https://globex.webex.com/meet/bob\nDial +1 415 555 0100"},
        {"location": "+49 30 1234567", "description": "https://zoom.us/j/1"},  # a link beats a number
    ],
)
def test_a_meeting_link_is_video(where: dict):
    assert channel(meeting("Call", **where)) == "video"


@pytest.mark.parametrize("location", ["+1 (555) 010-4477", "tel:+442079460958", "Call 030 12345678", "(415) 555-0100"])
def test_a_phone_number_is_phone(location: str):
    assert channel(meeting("Call", location=location)) == "phone"


@pytest.mark.parametrize(
    "where",
    [
        {"location": "Globex HQ, 5th floor, 1 Market St, San Francisco"},
        {"location": "Café Einstein, Unter den Linden 42, 10117 Berlin"},
        {"location": "Room 4.12"},
        {"rooms": ("Berlin-3-Orion (8)",)},
    ],
)
def test_a_room_or_address_is_in_person(where: dict):
    assert channel(meeting("Call", **where)) == "in-person"


def test_nothing_said_is_the_default():
    assert channel(meeting("Call")) == "video"
    assert channel(meeting("Call"), default="phone") == "phone"
    assert channel(meeting("Call", location="https://example.com/agenda"), default="phone") == "phone"
