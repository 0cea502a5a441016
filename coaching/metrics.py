"""What the service measures, for ``GET /metrics`` (Prometheus, through ``prometheus-client``).

One process, one registry (``REGISTRY``, with the library's process, platform and GC collectors): every
metric DealCoach exports is declared here, whichever layer observes it. ``bot.web`` serves them and sets
the database gauges at scrape time. A registry of our own, not the library's global one, so importing this
module afresh (tests of the layering do) builds a fresh registry instead of clashing with the old one.
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

REGISTRY = CollectorRegistry()
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# an acknowledgement must stay far below Slack's 3 s; answers and nudges take longer
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

ACK_SECONDS = Histogram(
    "dealcoach_ack_seconds",
    "From a platform request's arrival to DealCoach's HTTP response, per surface (slack, teams)",
    ["surface"],
    buckets=_FAST,
    registry=REGISTRY,
)
COMMAND_SECONDS = Histogram(
    "dealcoach_command_seconds",
    "From a typed command's acknowledgement to its answer being accepted by the platform",
    ["surface"],
    buckets=_SLOW,
    registry=REGISTRY,
)
NUDGE_LAG_SECONDS = Histogram(
    "dealcoach_nudge_lag_seconds",
    "From a nudge's due time to the platform accepting it",
    ["platform"],
    buckets=_SLOW,
    registry=REGISTRY,
)
TICK_SECONDS = Histogram("dealcoach_tick_seconds", "Duration of one scheduler tick", buckets=_SLOW, registry=REGISTRY)

NUDGES = Counter("dealcoach_nudges", "Nudges this process handled, by outcome", ["outcome"], registry=REGISTRY)
SLACK_COMMANDS = Counter(
    "dealcoach_slack_commands", "Slack commands answered after the ack, by outcome", ["outcome"], registry=REGISTRY
)
RETRIES = Counter(
    "dealcoach_retries", "Deliveries scheduled for another attempt (nudge, command)", ["what"], registry=REGISTRY
)
FAILURES = Counter(
    "dealcoach_failures", "Deliveries given up after the last attempt (nudge, command)", ["what"], registry=REGISTRY
)
TRANSIENT_DB_ERRORS = Counter(
    "dealcoach_transient_db_errors",
    "Transient database errors (connection lost, locked, deadlock...), by where",
    ["where"],
    registry=REGISTRY,
)

INBOX_DEPTH = Gauge("dealcoach_inbox_depth", "Typed commands stored and not yet answered", registry=REGISTRY)
INBOX_OLDEST_SECONDS = Gauge(
    "dealcoach_inbox_oldest_seconds", "Age of the oldest unanswered command", registry=REGISTRY
)
OUTBOX_DEPTH = Gauge("dealcoach_outbox_depth", "Nudges due now (or claimed) and not yet sent", registry=REGISTRY)
OUTBOX_OLDEST_SECONDS = Gauge(
    "dealcoach_outbox_oldest_seconds", "How long the oldest due nudge has been due", registry=REGISTRY
)
CONNECTIONS_REFUSED = Counter(
    "dealcoach_http_connections_refused",
    "Connections answered 503 and closed: DEALCOACH_MAX_CONNECTIONS were open",
    registry=REGISTRY,
)
