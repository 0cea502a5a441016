"""What the coach says: all coaching copy in one place, short, specific and friendly.

Drawn from PRODUCT.md "Why it exists": personal connection first, virtual trust, the online traps,
the strengths of online, framing, hard wins, the lever of links, and engaging rather than automating.
"""

from __future__ import annotations

CONNECTION_FIRST = (
    "Spend the first 5–10 minutes on the person, not the deal: how they are, what's new on their side, "
    "something you remember about them."
)
NO_RUSHING = "Don't rush the pleasantries to get to the numbers — that time is where trust is built."
VIRTUAL_TRUST = (
    "Be extra transparent about the process and share more context than you would in person. "
    "If the line drops or the video freezes, say so openly."
)
CHANNEL_TIPS: dict[str, str] = {
    "video": "Camera on; close mail and chat. Multitasking hides exactly the signals you are there to read.",
    "phone": "Good choice for the difficult points: your voice carries what text can't.",
    "email": (
        "Use the strategic pause: draft, reread, then send. Summarise commitments in writing. "
        "For a difficult point, pick up the phone instead of typing."
    ),
    "in-person": "Leave room for small talk before and after, then put the commitments in writing.",
}
FRAME_QUESTIONS = (
    "Will you deal with them again? What would you gain from a long-term partnership?",
    "Answer with `frame {number} repeat` or `frame {number} one-off`.",
)
FRAME_RELATIONSHIP = (
    "A relationship: negotiate collaboratively. Share interests, trade give for take, start with the "
    "relationship issues — and don't trade a good relationship for a bad agreement."
)
FRAME_ONE_OFF = (
    "A one-off: prepare your anchor, your walk-away point and your alternatives. But check the frame: "
    "most negotiations are not truly one-off."
)
FRAME_UNKNOWN = "Frame it first: will you deal with them again, and what would a long-term partnership bring?"
NOT_TOUGHER = "Don't be tougher behind a screen than you would be across a table."
AGREEMENT_ISSUES = (
    "price at volume break points",
    "service agreements",
    "replacement of obsolete equipment",
    "dispute resolution",
    "termination",
    "assignment of vendor responsibilities",
)
RELATIONSHIP_ISSUES = (
    "long-term goals",
    "each side's individual goals and interests",
    "future collaboration",
    "continued trust and respect",
)
LEVERAGE_QUESTIONS: dict[str, tuple[str, ...]] = {
    "procurement": (
        "Is our share of this supplier's (and this rep's) turnover high, and growing?",
        "Do we offer a gateway to the supplier's strategic goals?",
        "Does the supplier advertise us as a customer?",
        "Are there supply relationships beyond this deal (joint venture, spare parts, service)?",
    ),
    "sales": (
        "Does the customer buy strategic components from us (high value, high risk)?",
        "Shortage components (low value, high risk)?",
        "Is the collaboration intensifying (turnover, range, process integration such as EDI)?",
        "Does the customer need our know-how?",
    ),
}
LEVER_OF_LINKS = "Links beyond this deal are leverage — and a reason to keep the relationship healthy."
# What a leverage score means for the conversation (by how many of the four questions were a yes).
LEVERAGE_MEANING = {
    "low": (
        "What it means: few links beyond this deal, so either side can walk away. Negotiate this one on its "
        "merits, and look for links to build (service, spare parts, process integration) before the next round."
    ),
    "some": (
        "What it means: there are links beyond this deal. Name them in the conversation — what you build together "
        "is worth more to both sides than a point on price."
    ),
    "strong": (
        "What it means: strong links, so you both have a lot to lose. Open with the relationship issues and "
        "negotiate collaboratively; don't spend that leverage on a hard win."
    ),
}
NUDGES_OFF = "Your nudges are off, so I won't remind you of this. `settings nudges on` turns them back on."
COFFEE_SUGGESTION = (
    "No informal touchpoint with {counterpart} in the last {days} days. Propose a short coffee chat before "
    "the formal negotiation — no agenda, just to connect."
)
BACK_TO_BACK = (
    "Back-to-back: this starts {gap} after your negotiation with {other} ends — no time to prepare or reflect. "
    "Can you move one, or block 15 minutes between them?"
)
OVERLAP = "This overlaps your negotiation with {other}. Move one of them so you can give each your full attention."
FOLLOWUP_PROMPT = (
    "How did it go with {counterpart}? Log the outcome and any commitments while they are fresh, and send a "
    "personal note — an observation or something they mentioned — within a day."
)
FOLLOWUP_REMINDER = (
    "You haven't sent {counterpart} a personal follow-up yet. A short personal note beats an automated email; "
    "for anything difficult, call."
)
ENGAGE = "Negotiation is about more than price: it is about becoming the preferred partner."
HARD_WIN = (
    "A hard win can be a future loss: a client who paid more than expected may start the relationship "
    "resentful. Emphasise common ground, send a personal note, and tell the account owner."
)
COMMITMENT_OURS = {
    "before": "Due tomorrow{at}: you promised {counterpart} to {text}.",
    "due": "Due today{at}: you promised {counterpart} to {text}.",
    "overdue": "Overdue since {due}: you promised {counterpart} to {text}. Say so openly if it slips — trust "
    "survives a delay, not silence.",
}
COMMITMENT_THEIRS = {
    "before": "Due tomorrow{at}: {counterpart} promised to {text}.",
    "due": "Due today{at}: {counterpart} promised to {text}. A friendly check-in helps — ask, don't chase.",
    "overdue": "Overdue since {due}: {counterpart} promised to {text}. Check in politely: offer help, not blame.",
}
STRENGTHS_OF_ONLINE = (
    "Online has strengths too: take a strategic pause before answering, consult your team privately, "
    "and keep a paper trail of what was agreed."
)
REPAIR_NOTE = (
    "Yesterday's outcome with {counterpart} was hard on them. Send a personal note today — thank them, name "
    "something you appreciated, and show you want the relationship to work."
)
REPAIR_CHECKIN = (
    "Two weeks since the hard win with {counterpart}. Check in: how is it working out on their side? "
    "Give and take now is cheaper than a resentful partner later."
)
HANDOFF = (
    "{sender} handed you a heads-up about {counterpart} (#{number}, {when}): {reason}. "
    "They may feel they gave more than expected — emphasise common ground when you take over."
)
CONCEDING = (
    "You've given {given} concessions in a row to {counterpart} and received none. Don't keep conceding to a "
    "partner who gives nothing back: ask for something in return before you give again."
)
STAY_IN_TOUCH = "Long-term relationships due for a personal touch — a call, a note or a card, not an automated email:"
ISSUE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "price at volume break points": ("price", "volume", "discount", "pricing"),
    "service agreements": ("service", "sla", "support"),
    "replacement of obsolete equipment": ("equipment", "obsolete", "replacement"),
    "dispute resolution": ("dispute", "arbitration"),
    "termination": ("termination", "terminate", "exit", "notice"),
    "assignment of vendor responsibilities": ("vendor", "responsibilit"),
    "long-term goals": ("long-term", "goals", "roadmap"),
    "each side's individual goals and interests": ("interests", "individual"),
    "future collaboration": ("collaboration", "future", "partnership"),
    "continued trust and respect": ("trust", "respect"),
}

# Each of PRODUCT.md's eight principles, and copy that carries it (a test checks every one reaches users).
PRINCIPLES: dict[int, tuple[str, ...]] = {
    1: (CONNECTION_FIRST, COFFEE_SUGGESTION, FOLLOWUP_PROMPT),
    2: (VIRTUAL_TRUST,),
    3: (BACK_TO_BACK, NO_RUSHING, CHANNEL_TIPS["video"], NOT_TOUGHER),
    4: (STRENGTHS_OF_ONLINE, CHANNEL_TIPS["email"]),
    5: (FRAME_RELATIONSHIP, FRAME_ONE_OFF, CONCEDING),
    6: (HARD_WIN, REPAIR_CHECKIN),
    7: (LEVER_OF_LINKS,),
    8: (ENGAGE, STAY_IN_TOUCH),
}
