"""Which calendar meetings are negotiations, with whom, and over what channel — pure functions of a
:class:`~coaching.calendar.reading.Meeting` and what DealCoach knows about the rep.

A meeting is a candidate when someone outside the rep's own domains takes part (a free-mail address is
an outside *person*, not an organization), or — when the feed has no attendee lines, as Outlook's
published calendars often do — when its title has one of the rep's keywords. Meetings among colleagues,
stand-ups and 1:1s are never negotiations, whatever their title says.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from publicsuffixlist import PublicSuffixList

from coaching.calendar.reading import Meeting, Person

DEFAULT_KEYWORDS = ("negotiation", "pricing", "contract", "renewal", "proposal", "RFP", "QBR", "procurement")
DEFAULT_CHANNEL = "video"

# Mail services whose addresses belong to people, not to an organization (globex.com is Globex;
# gmail.com is nobody in particular).
FREE_MAIL = frozenset(
    """gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com yahoo.co.uk
    yahoo.de yahoo.fr ymail.com rocketmail.com icloud.com me.com mac.com aol.com gmx.de gmx.net gmx.com gmx.at
    gmx.ch web.de t-online.de freenet.de posteo.de mailbox.org proton.me protonmail.com pm.me mail.com
    email.com zoho.com zohomail.com yandex.com yandex.ru mail.ru inbox.ru qq.com 163.com 126.com sina.com
    naver.com fastmail.com hey.com tutanota.com tuta.io orange.fr wanadoo.fr free.fr laposte.net sfr.fr
    libero.it virgilio.it btinternet.com sky.com comcast.net verizon.net att.net sbcglobal.net
    bigpond.com seznam.cz wp.pl o2.pl onet.pl""".split()
)

_ROUTINE = re.compile(
    r"\b(stand[- ]?ups?|daily\s+scrum|scrum|retro(spective)?|sprint\s+(planning|review)|all[- ]hands|town\s*hall)\b",
    re.IGNORECASE,
)
_ONE_ON_ONE = re.compile(r"(\b1\s*[:/-]\s*1\b|\b1on1\b|\bone[- ]on[- ]one\b)", re.IGNORECASE)


class Reason(StrEnum):
    """Why a meeting is, or is not, a negotiation."""

    EXTERNAL = "external"  # someone outside the rep's domains takes part
    KEYWORD = "keyword"  # no attendee lines to go by, and the title has a keyword
    INTERNAL = "internal"  # everyone is a colleague
    ROUTINE = "routine"  # a stand-up, a retro, a 1:1 with a colleague
    UNRELATED = "unrelated"  # no one outside, no keyword


@dataclass(frozen=True)
class Rep:
    """Whose calendar it is: their own addresses, their organization's domains (a subdomain counts as
    the domain) and the title words they negotiate under. Build it with :meth:`of`."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS

    @classmethod
    def of(
        cls, *, emails: Iterable[str] = (), domains: Iterable[str] = (), keywords: Iterable[str] | None = None
    ) -> Rep:
        """``domains`` (the install's and the rep's own settings) plus the domains of ``emails`` (the
        platform profile's address) — except free-mail domains, which are never anyone's organization."""
        own = {address.strip().lower() for address in emails if "@" in address}
        names = {name.strip().lower().lstrip("@.") for name in domains if name.strip()}
        names |= {address.rpartition("@")[2] for address in own}
        words = tuple(word.strip() for word in keywords if word.strip()) if keywords is not None else DEFAULT_KEYWORDS
        return cls(emails=frozenset(own), domains=frozenset(names - FREE_MAIL), keywords=words)

    def is_colleague(self, person: Person) -> bool:
        return person.email in self.emails or _within(person.domain, self.domains)


@dataclass(frozen=True)
class Verdict:
    negotiation: bool
    reason: Reason
    outsiders: tuple[Person, ...] = ()  # for EXTERNAL: who is outside
    keyword: str | None = None  # for KEYWORD: the word the title matched


def negotiation(meeting: Meeting, rep: Rep) -> Verdict:
    """Is ``meeting`` a negotiation of ``rep``'s, and why (or why not)."""
    if _ROUTINE.search(meeting.title):
        return Verdict(False, Reason.ROUTINE)
    others = [person for person in meeting.people if person.email not in rep.emails]
    if others and rep.domains:
        outsiders = tuple(person for person in others if not rep.is_colleague(person))
        if outsiders:
            return Verdict(True, Reason.EXTERNAL, outsiders=outsiders)
        return Verdict(False, Reason.ROUTINE if _ONE_ON_ONE.search(meeting.title) else Reason.INTERNAL)
    # No attendee lines (or no own domain to tell colleagues from others): the title is all there is.
    if _ONE_ON_ONE.search(meeting.title):
        return Verdict(False, Reason.ROUTINE)
    keyword = title_keyword(meeting.title, rep.keywords)
    if keyword is not None:
        return Verdict(True, Reason.KEYWORD, keyword=keyword)
    return Verdict(False, Reason.UNRELATED)


def title_keyword(title: str, keywords: Iterable[str]) -> str | None:
    """The first of ``keywords`` that ``title`` has as a word (plurals too: "contracts", "RFPs")."""
    for keyword in keywords:
        if re.search(rf"\b{re.escape(keyword)}(s|es)?\b", title, re.IGNORECASE):
            return keyword
    return None


# --- counterparts ----------------------------------------------------------------------------------


class Source(StrEnum):
    LEARNED = "learned"  # the rep's own `counterpart <name> domain <domain>`
    KNOWN = "known"  # an existing counterpart of the rep, matching the domain or named in the title
    TITLE = "title"  # a name taken from the title
    DOMAIN = "domain"  # a name made from the organization's domain
    PERSON = "person"  # an outside person with a free-mail address


@dataclass(frozen=True)
class CounterpartGuess:
    name: str
    source: Source
    domain: str | None = None  # the organization's domain, what `counterpart <name> domain <domain>` would learn


def counterpart(
    meeting: Meeting, rep: Rep, *, learned: Mapping[str, str] | None = None, known: Iterable[str] = ()
) -> CounterpartGuess | None:
    """Who the meeting is with: the outside organization (the one most of the outsiders belong to).

    In order: the rep's learned domain→name mapping; an existing counterpart (``known``) whose name
    matches the domain (globex.com → Globex) or is named in the title; a name in the title that matches
    the domain ("GlobalTech — pricing" for globaltech.io keeps the rep's spelling); a name made from the
    domain; for free-mail people the person's name; with no one outside, a name from the title.
    None when nothing names one: the caller asks."""
    mapping = {domain.lower(): name for domain, name in (learned or {}).items()}
    names = [name for name in known if name.strip()]
    outsiders = [person for person in meeting.people if person.email not in rep.emails and not rep.is_colleague(person)]
    organizations = _organizations(outsiders, meeting.organizer)

    for domain in organizations:
        for candidate in (domain, *(person.domain for person in outsiders if _within(person.domain, {domain}))):
            if candidate in mapping:
                return CounterpartGuess(mapping[candidate], Source.LEARNED, domain)
    for domain in organizations:
        label = _squash(_label(domain))
        for name in names:
            if _squash(name) == label:
                return CounterpartGuess(name, Source.KNOWN, domain)
    in_title = _known_in_title(meeting.title, names)
    if in_title is not None:
        return CounterpartGuess(in_title, Source.KNOWN, organizations[0] if organizations else None)
    from_title = name_in_title(meeting.title, rep)
    if organizations:
        domain = organizations[0]
        label = _squash(_label(domain))
        if from_title and label and (_squash(from_title).startswith(label) or label.startswith(_squash(from_title))):
            return CounterpartGuess(from_title, Source.TITLE, domain)
        return CounterpartGuess(_name_from_label(_label(domain)), Source.DOMAIN, domain)
    if outsiders:
        return CounterpartGuess(_person_name(outsiders[0]), Source.PERSON)
    if from_title:
        return CounterpartGuess(from_title, Source.TITLE)
    return None


_SEPARATORS = re.compile(r"\s+[—–\-|/x]\s+|\s*<>\s*|[:|()\[\]]|\s+(?:with|w/|and|vs\.?|for)\s+", re.IGNORECASE)
_FILLER = frozenset(
    """call calls meeting meetings sync check in check-in checkin catch up catch-up catchup review intro
    introduction demo kickoff kick-off follow follow-up followup prep preparation discussion weekly monthly
    quarterly daily deadline session chat update touchbase touch base the a an of on re about planning
    workshop presentation internal external team new final round next first second lunch dinner coffee
    breakfast zoom teams meet webex video phone online onsite on-site visit
    hold tbc tbd fyi draft re: fw: fwd: updated""".split()
)
_NOT_A_NAME = re.compile(r"^(q[1-4]|h[12]|fy\d{2,4}|\d+|v\d+|20\d\d)$", re.IGNORECASE)


def name_in_title(title: str, rep: Rep) -> str | None:
    """The organization a title names ("Globex — pricing call", "Pricing call with Wayne Enterprises",
    "Acme / Umbrella renewal" for a rep at acme.com → Umbrella), or None."""
    own = {_squash(_label(domain)) for domain in rep.domains}
    skip = _FILLER | {keyword.lower() for keyword in rep.keywords}
    for segment in _SEPARATORS.split(title):
        words = [
            word
            for word in re.findall(r"[\w&.'’-]+", segment or "")
            if not _ignorable(word, skip) and _squash(word) not in own
        ]
        if words:
            name = " ".join(words).strip(" .-")
            return name if any(ch.isupper() for ch in name) else name.title()
    return None


def _ignorable(word: str, skip: frozenset[str]) -> bool:
    bare = word.lower().strip(".-'’")
    return not bare or bare in skip or bare.rstrip("s") in skip or bool(_NOT_A_NAME.match(bare))


def _known_in_title(title: str, names: list[str]) -> str | None:
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", title, re.IGNORECASE):
            return name
    return None


def _organizations(outsiders: list[Person], organizer: Person | None) -> list[str]:
    """The outside organizations' registrable domains, most attendees first; on a tie the organizer's,
    then the first listed."""
    counts = Counter(_registrable(p.domain) for p in outsiders if _registrable(p.domain) not in FREE_MAIL)
    hosting = _registrable(organizer.domain) if organizer else None
    order = {domain: index for index, domain in enumerate(counts)}
    return sorted(counts, key=lambda domain: (-counts[domain], domain != hosting, order[domain]))


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # ships its own copy of the Public Suffix List: no download


@cache
def _registrable(domain: str) -> str:
    """mail.globex.co.uk → globex.co.uk (the Public Suffix List knows co.uk is a suffix)."""
    return _suffixes().privatesuffix(domain) or domain


def _label(domain: str) -> str:
    """globex.co.uk → globex."""
    registrable = _registrable(domain)
    suffix = _suffixes().publicsuffix(registrable) or ""
    return registrable[: -len(suffix) - 1] if suffix and registrable.endswith("." + suffix) else registrable


def _name_from_label(label: str) -> str:
    words = [word for word in re.split(r"[-_.]+", label) if word]
    return " ".join(word.upper() if len(word) <= 3 else word.capitalize() for word in words) or label


def _person_name(person: Person) -> str:
    if person.name:
        return person.name
    local = person.email.partition("@")[0]
    return " ".join(part.capitalize() for part in re.split(r"[._+-]+", local) if part) or person.email


_LEGAL = re.compile(
    r"\b(inc|incorporated|llc|ltd|limited|gmbh|ag|sa|sas|bv|nv|plc|corp|corporation|co|company|group|kg|oy|ab)\b\.?",
    re.IGNORECASE,
)


def _squash(name: str) -> str:
    """A name compared loosely: "Globex Corp." → "globex", "Wayne-Enterprises" → "wayneenterprises"."""
    return re.sub(r"[\W_]+", "", _LEGAL.sub("", name)).lower()


def _within(domain: str, domains: Iterable[str]) -> bool:
    return any(domain == own or domain.endswith("." + own) for own in domains)


# --- channel ---------------------------------------------------------------------------------------

_VIDEO_LINK = re.compile(
    r"(teams\.microsoft\.com|teams\.live\.com|(^|[./])zoom\.us|zoomgov\.com|meet\.google\.com|webex\.com|"
    r"gotomeeting\.com|gotomeet\.me|whereby\.com|chime\.aws|bluejeans\.com|meet\.jit\.si|skype\.com)",
    re.IGNORECASE,
)
_VIDEO_WORDS = re.compile(r"\b(microsoft teams|teams meeting|zoom|google meet|webex|skype)\b", re.IGNORECASE)
_PHONE = re.compile(r"(tel:|\+)?(\(?\d[\d\s().\-/]{5,}\d)", re.IGNORECASE)
_URL_ONLY = re.compile(r"^\s*\S+://\S+\s*$")


def channel(meeting: Meeting, default: str = DEFAULT_CHANNEL) -> str:
    """video | phone | in-person, from where the meeting happens; ``default`` when the feed does not say.

    A meeting link anywhere (location, conference properties, description) means video — the dial-in
    numbers in a Teams invitation do not make it a phone call; a phone number as the location means phone;
    any other location, or a booked room, means in person."""
    texts = (meeting.location, *meeting.links, meeting.description)
    if any(_VIDEO_LINK.search(text) for text in texts) or _VIDEO_WORDS.search(meeting.location):
        return "video"
    if _is_phone(meeting.location) or any(link.lower().startswith("tel:") for link in meeting.links):
        return "phone"
    if (meeting.location and not _URL_ONLY.match(meeting.location)) or meeting.rooms:
        return "in-person"
    return default


def _is_phone(text: str) -> bool:
    """A phone number: 7–15 digits after "+" or "tel:", else at least 9 (so "Hauptstr. 12, 10115 Berlin"
    is an address)."""
    for match in _PHONE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group(2))
        if (9 if match.group(1) is None else 7) <= digits <= 15:
            return True
    return False
