"""Webhooks: an admin subscribes a URL to event types; each matching event is POSTed to it by a
background job, signed, retried with backoff, and never to a private network unless the
configuration allows it (docs/webhooks.md).

Modules: entities (values, pattern rules), targets (URL rules, the private-network check),
signatures (signing, and `verify_signature` for Python receivers), formats (bodies by format
name: Plimsoll's JSON, Alertmanager, PagerDuty, Slack, email), store (tables and SQL), service
(the rules, the event consumer, delivery bookkeeping), delivery (the job: the HTTP request) and
smtp (its other transport, for the email format), api and permissions (the routes, site admins
only).
"""

from __future__ import annotations

from plimsoll.core.capability import Capability, CliGroup, Consumer, JobKind
from plimsoll.core.webhooks.signatures import verify_signature

CAPABILITY = Capability(
    name="webhooks",
    title="Webhooks",
    tables="plimsoll.core.webhooks.store:TABLES",
    service="plimsoll.core.webhooks.service:WebhookService",
    router="plimsoll.core.webhooks.api:router",
    permissions="plimsoll.core.webhooks.permissions:PERMISSIONS",
    cli=(CliGroup("webhooks", "plimsoll.cli.webhooks:app"),),
    events="plimsoll.core.webhooks.events:EVENTS",
    # Ten attempts, the first retry after 5-10 s, doubling to at most an hour between attempts:
    # a receiver may be down for 45 to 85 minutes before a delivery fails.
    jobs=(
        JobKind(
            "webhooks.deliver",
            "plimsoll.core.webhooks.delivery:deliver",
            max_attempts=10,
            timeout_s=60.0,
            backoff_base_s=10.0,
            backoff_max_s=3600.0,
        ),
    ),
    consumers=(Consumer("webhooks", "on_event", before_batch="read_subscriptions"),),
)

__all__ = ["CAPABILITY", "verify_signature"]
