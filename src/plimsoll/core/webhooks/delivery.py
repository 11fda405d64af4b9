"""The `webhooks.deliver` job: one signed POST of one event to one subscription's URL (or, for
the `email` format, one message through the mail server its `smtp://` URL names: smtp.py).

Each attempt resolves the host once, checks the addresses (targets.resolve), and connects to the
address it checked, with the original host in the `Host` header and as the TLS server name, so
the certificate is verified for the name the subscriber gave. No redirect is followed (a 3xx is
a failure like any non-2xx). A 2xx answer is success; any other answer, a connection error or a
timeout raises, so the job engine retries with backoff and, after the last attempt, the job is
dead and the delivery `failed`. A refused target (a private address) fails the delivery at once:
retrying would only be refused again. Error texts name the host, never the URL's path or query,
which may hold a receiver's token and end up in the job's error (readable on the jobs page).
The query parameters that are the format's own (PagerDuty's `routing_key`, email's `to` and
`from`) are read by Plimsoll and never sent on in the URL requested.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError as ConnectionProblem

from plimsoll.core.jobs import JobContext
from plimsoll.core.webhooks import smtp
from plimsoll.core.webhooks.formats import FORMATS, Destination, destination, mail, render, request_url
from plimsoll.core.webhooks.service import PendingDelivery, WebhookService
from plimsoll.core.webhooks.signatures import sign
from plimsoll.core.webhooks.targets import (
    SMTP_SCHEMES,
    ResolutionFailed,
    Target,
    TargetRefused,
    ca_bundle,
    parse_url,
    resolve,
)

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an answer: enough for an error message
ERROR_SNIPPET_CHARS = 500
USER_AGENT = "plimsoll-webhooks"


class DeliveryFailed(Exception):
    """An attempt failed in a way worth retrying."""


def deliver(service: WebhookService, payload: Any, context: JobContext) -> dict[str, Any]:
    """The job handler: `payload` is `{"delivery_id": ...}`; the result says what happened."""
    delivery_id = str(payload["delivery_id"])
    pending = service.start_attempt(delivery_id, context.attempt)
    if pending is None:
        return {"delivered": False, "skipped": "the delivery ended already, or its webhook was deleted"}
    subscription = pending.subscription
    target = parse_url(
        request_url(subscription.format, subscription.url), FORMATS[subscription.format].schemes
    )
    final = context.attempt >= context.job.max_attempts
    try:
        address = resolve(target, allow_private=service.allow_private)
    except TargetRefused as exc:
        service.record_failure(delivery_id, f"refused: {exc}", status_code=None, final=True)
        return {"delivered": False, "refused": str(exc)}
    except ResolutionFailed as exc:
        service.record_failure(delivery_id, str(exc), status_code=None, final=final)
        raise DeliveryFailed(str(exc)) from None
    to = destination(subscription.format, subscription.name, subscription.url, service.public_url)
    body, content_type = render(subscription.format, pending.event, to)
    if target.scheme in SMTP_SCHEMES:
        return _send_mail(service, pending, target, address, body, to, final=final)
    timestamp = int(time.time())
    headers = {
        "Host": target.host_header,
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-Plimsoll-Event": pending.event.type,
        "X-Plimsoll-Delivery": delivery_id,
        "X-Plimsoll-Timestamp": str(timestamp),
        "X-Plimsoll-Signature": sign(pending.secret, timestamp, body),
    }
    try:
        status, answer = post(target, address, body, headers)
    except DeliveryFailed as exc:
        service.record_failure(delivery_id, str(exc), status_code=None, final=final)
        raise
    if 200 <= status < 300:
        service.record_delivered(delivery_id, status)
        return {"delivered": True, "status_code": status}
    error = f"{target.host} answered HTTP {status}: {answer}"
    service.record_failure(delivery_id, error, status_code=status, final=final)
    raise DeliveryFailed(error)


def _send_mail(
    service: WebhookService,
    pending: PendingDelivery,
    target: Target,
    address: str,
    message: bytes,
    to: Destination,
    *,
    final: bool,
) -> dict[str, Any]:
    """The `email` format's attempt: the rendered message, with this delivery's headers, through
    the mail server at `address`. Not signed: a message's authenticity is its mail system's
    (SPF, DKIM); the delivery's id is in `X-Plimsoll-Delivery` and its Message-ID."""
    delivery_id = pending.delivery.id
    sender = mail.sender(to.params)
    headers = {
        "Date": formatdate(usegmt=True),
        # The same on every retry: a mailbox that sees a retry of a message it got drops it.
        "Message-ID": f"<{delivery_id}.plimsoll@{sender.rpartition('@')[2] or 'plimsoll'}>",
        "X-Plimsoll-Event": pending.event.type,
        "X-Plimsoll-Delivery": delivery_id,
    }
    login = service.smtp_login
    try:
        refused = smtp.send(
            target,
            address,
            message,
            sender=sender,
            recipients=mail.recipients(to.params),
            headers=headers,
            login=login if login is not None and login.is_for(target.host) else None,
        )
    except smtp.SendFailed as exc:
        service.record_failure(delivery_id, str(exc), status_code=None, final=final)
        raise DeliveryFailed(str(exc)) from None
    service.record_delivered(delivery_id, smtp.ACCEPTED, note=refused)
    return {"delivered": True, "status_code": smtp.ACCEPTED}


def post(target: Target, address: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body` to `target` over a connection to `address`; the status and the start of the
    answer's body. DeliveryFailed for a connection error or a timeout."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=1, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            answer = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.release_conn()
    except ConnectionProblem as exc:
        # The exception's text, not its chain: it names the address, never the URL's path.
        raise DeliveryFailed(f"{target.host} ({address}): {type(exc).__name__}: {exc}") from None
    finally:
        pool.close()
    return response.status, _snippet(answer)


def _snippet(answer: bytes) -> str:
    text = answer.decode("utf-8", errors="replace").strip()
    return text if len(text) <= ERROR_SNIPPET_CHARS else text[:ERROR_SNIPPET_CHARS] + "… (truncated)"
