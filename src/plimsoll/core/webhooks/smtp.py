"""Sending an `email` webhook's message over SMTP: the delivery job's transport for `smtp://` and
`smtps://` URLs, with the guarantees of the HTTP one (delivery.py).

The connection goes to the address `targets.resolve` checked, never to the name again, while the
conversation (and TLS's server name and certificate check) uses the host the subscriber named.
`smtps://` speaks TLS from the first byte; `smtp://` upgrades with STARTTLS whenever the server
offers it. A login (`PLIMSOLL_WEBHOOKS_SMTP_*`) is used only at the host it was configured for,
and only over TLS: a server that offers no STARTTLS is not sent it. Every failure raises
`SendFailed` with a text naming the host, never the recipients or the password, so that the job
engine retries it as it retries an HTTP delivery.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage

from plimsoll.core.config import SmtpLogin
from plimsoll.core.webhooks.targets import Target, ca_bundle

TIMEOUT_S = 10.0  # to connect, and for each answer of the server
ACCEPTED = 250  # the server's answer to a message it took: what a delivery records as its status


class SendFailed(Exception):
    """An attempt failed in a way worth retrying."""


def send(
    target: Target,
    address: str,
    message: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    headers: Mapping[str, str],
    login: SmtpLogin | None,
) -> str | None:
    """Send `message` (with `headers` added) to `recipients` through the server at `address`; the
    server's word on the recipients it refused while it took the others (the message went to
    those), or None when it took them all."""
    parsed = email.message_from_bytes(message, _class=EmailMessage, policy=email.policy.SMTP)
    for name, value in headers.items():
        del parsed[name]
        parsed[name] = value
    context = ssl.create_default_context(cafile=ca_bundle())
    where = f"{target.host} ({address})"
    try:
        client: smtplib.SMTP
        if target.scheme == "smtps":
            client = _PinnedTLS(address, target.host, target.port, context)
        else:
            client = _Pinned(address, target.host, target.port)
        try:
            if target.scheme == "smtp":
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif login is not None:
                    raise SendFailed(
                        f"{where} offers no STARTTLS: the configured login is never sent in clear"
                    )
            if login is not None:
                client.login(login.username, login.password)
            refused = client.send_message(parsed, from_addr=sender, to_addrs=list(recipients))
        finally:
            _quit(client)
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()), (0, b""))
        raise SendFailed(f"{where} refused every recipient: {code} {_text(answer)}") from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(f"{where} answered {exc.smtp_code}: {_text(exc.smtp_error)}") from None
    except OSError as exc:  # smtplib's other errors, TLS's, the network's
        raise SendFailed(f"{where}: {type(exc).__name__}: {exc}") from None
    if not refused:
        return None
    code, answer = next(iter(refused.values()))
    return f"{where} refused {len(refused)} of {len(recipients)} recipients: {code} {_text(answer)}"


class _Pinned(smtplib.SMTP):
    """SMTP to `address`, speaking to `host`."""

    def __init__(self, address: str, host: str, port: int) -> None:
        self._address = address
        super().__init__(host, port, local_hostname=_local_name(), timeout=TIMEOUT_S)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


class _PinnedTLS(smtplib.SMTP_SSL):
    """SMTP over TLS to `address`; the certificate is verified for `host`."""

    def __init__(self, address: str, host: str, port: int, context: ssl.SSLContext) -> None:
        self._address, self._name = address, host
        super().__init__(host, port, local_hostname=_local_name(), timeout=TIMEOUT_S, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        connection = socket.create_connection((self._address, port), timeout, self.source_address)
        return self.context.wrap_socket(connection, server_hostname=self._name)


def _local_name() -> str:
    """The name given in EHLO: the machine's, without the DNS lookup `getfqdn` would make."""
    return socket.gethostname() or "plimsoll"


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _text(answer: bytes | str) -> str:
    text = answer.decode("utf-8", errors="replace") if isinstance(answer, bytes) else answer
    return " ".join(text.split())[:500]
