"""What one returned mail says, read without side effects: which deliveries or addresses
bounced (hard or soft), who complained, who asked to leave by mail.

- RFC 5965 ARF (``multipart/report; report-type=feedback-report``): a complaint;
- RFC 3464 DSN (``report-type=delivery-status``): per recipient, ``Action: failed`` with
  a 5.x.x status is hard (5.2.2, mailbox full, is soft as RFC 3463 calls it a
  persistent-transient condition), 4.x.x soft; ``delayed``, ``delivered``, ``relayed``
  and ``expanded`` are no failure (the server still tries, or it arrived);
- anything else: ``flufl.bounce``'s detectors (Exim, Postfix, qmail, Exchange, Yahoo...),
  its permanent failures hard and temporary ones soft;
- mail to ``unsubscribe+<token>@``: an unsubscribe (RFC 2369 mailto);
- an auto-reply (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``...) is no bounce.

The delivery a bounce belongs to is found by our signed token (bounces/verp.py): in
the address the bounce was sent to, else anywhere in the quoted original.
"""

from __future__ import annotations

import email
import email.message
import hashlib
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from typing import Literal

from flufl.bounce import all_failures

from m5syndicate.bounces.verp import DeliverySigner

Kind = Literal["hard", "soft", "complaint", "unsubscribe"]
UNSUBSCRIBE_LOCAL = "unsubscribe+"
# Where the address the mail was delivered to is kept by the receiving server.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
MAILBOX_FULL = "5.2.2"
NO_FAILURE_ACTIONS = ("delayed", "delivered", "relayed", "expanded")
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other", "")  # not "not-spam", "auth-failure"


@dataclass(frozen=True)
class Finding:
    kind: Kind
    address: str = ""  # the failed or complaining address, when the mail says it
    delivery_id: int | None = None
    status: str = ""  # the DSN status (5.1.1) or the feedback type
    detail: str = ""
    token: str = ""  # the unsubscribe token of a mail to unsubscribe+<token>@


@dataclass(frozen=True)
class Reading:
    """One mail: what it says, or why it says nothing to act on."""

    key: str  # its Message-ID, else a hash of its bytes: what makes recording idempotent
    findings: tuple[Finding, ...] = ()
    ignored: str = ""  # why nothing is to be done (an auto-reply, a delivered DSN...)
    unreadable: str = ""  # why it could not be understood: it is kept for a person


def read_mail(data: bytes, verp: DeliverySigner) -> Reading:
    """What ``data`` (one whole mail) says; never raises on bad mail."""
    key = hashlib.sha256(data).hexdigest()
    try:
        message = email.message_from_bytes(data)
        key = (message.get("Message-ID") or "").strip()[:150] or key
        return understand(message, key, data, verp)
    except Exception as exc:  # a mail broken in a way the parsers do not survive
        return Reading(key, unreadable=f"cannot be parsed: {type(exc).__name__}: {exc}"[:300])


def understand(
    message: email.message.Message, key: str, data: bytes, verp: DeliverySigner
) -> Reading:
    envelope = delivered_to(message)
    token = unsubscribe_token(envelope)
    if token:
        return Reading(key, (Finding("unsubscribe", token=token, detail="mail to unsubscribe"),))
    named = verp.find(" ".join(envelope)) or verp.find(data.decode("latin-1"))
    delivery_id = named[0] if named else None
    report_type = report_type_of(message)
    if report_type == "feedback-report":
        return complaint(message, key, delivery_id)
    if report_type == "delivery-status":
        return delivery_status(message, key, delivery_id)
    if is_auto_reply(message) and not looks_like_a_bounce(message):
        # Bounces say Auto-Submitted too (RFC 3834); a person's autoresponder is no daemon.
        return Reading(key, ignored="an auto-reply, not a bounce")
    return other_bounce(message, key, delivery_id)


def delivered_to(message: email.message.Message) -> list[str]:
    values = [str(v) for name in ENVELOPE_HEADERS for v in message.get_all(name, [])]
    return [address for _, address in getaddresses(values) if address]


def unsubscribe_token(addresses: list[str]) -> str:
    for address in addresses:
        local = address.rpartition("@")[0]
        if local.lower().startswith(UNSUBSCRIBE_LOCAL):
            return local[len(UNSUBSCRIBE_LOCAL) :]
    return ""


def report_type_of(message: email.message.Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "multipart/report":
            return str(part.get_param("report-type", "")).lower()
    return ""


def complaint(message: email.message.Message, key: str, delivery_id: int | None) -> Reading:
    report = first_part(message, "message/feedback-report")
    fields = header_blocks(report)[0] if report is not None and header_blocks(report) else None
    kind = str(fields.get("Feedback-Type", "")).strip().lower() if fields else ""
    if kind not in COMPLAINT_TYPES:
        return Reading(key, ignored=f"a feedback report of type {kind!r}, not a complaint")
    address = ""
    if fields is not None:
        address = parseaddr(str(fields.get("Original-Rcpt-To", "")))[1]
    original = original_headers(message)
    if not address and original is not None:
        address = parseaddr(str(original.get("To", "")))[1]
    agent = str(fields.get("User-Agent", "")) if fields else ""
    detail = f"complaint ({kind or 'abuse'}) via {agent or 'a feedback loop'}"
    finding = Finding("complaint", address, delivery_id, kind or "abuse", detail[:300])
    return Reading(key, (finding,))


def delivery_status(message: email.message.Message, key: str, delivery_id: int | None) -> Reading:
    status_part = first_part(message, "message/delivery-status")
    blocks = header_blocks(status_part) if status_part is not None else []
    findings: list[Finding] = []
    actions: list[str] = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        action = str(block.get("Action", "")).strip().lower()
        actions.append(action)
        if action != "failed":
            continue
        status = str(block.get("Status", "")).strip().split(" ")[0]
        address = recipient_of(block)
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        kind: Kind = "hard" if status.startswith("5") and status != MAILBOX_FULL else "soft"
        findings.append(Finding(kind, address, delivery_id, status, diagnostic[:300]))
    if findings:
        return Reading(key, tuple(findings))
    if actions and all(action in NO_FAILURE_ACTIONS for action in actions):
        return Reading(key, ignored=f"a delivery report with no failure ({', '.join(actions)})")
    return Reading(key, unreadable="a delivery report without a failed recipient")


def recipient_of(block: email.message.Message) -> str:
    for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
        value = str(block.get(name, ""))
        kind, _, address = value.partition(";")
        if address.strip() and kind.strip().lower() == "rfc822":
            return parseaddr(address.strip())[1]
    return ""


def other_bounce(message: email.message.Message, key: str, delivery_id: int | None) -> Reading:
    temporary, permanent = all_failures(message)
    findings = [
        Finding("hard", address.decode("ascii", "replace"), delivery_id, "5.0.0", "permanent")
        for address in sorted(permanent)
    ] + [
        Finding("soft", address.decode("ascii", "replace"), delivery_id, "4.0.0", "temporary")
        for address in sorted(temporary - permanent)
    ]
    if findings:
        return Reading(key, tuple(findings))
    if looks_like_a_bounce(message) or delivery_id is not None:
        return Reading(key, unreadable="looks like a bounce, but names no failed recipient")
    return Reading(key, ignored="not a bounce, complaint or unsubscribe")


def looks_like_a_bounce(message: email.message.Message) -> bool:
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    return sender.partition("@")[0] in BOUNCE_SENDERS or not message.get("From")


def is_auto_reply(message: email.message.Message) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        submitted == "auto-replied"
        or any(message.get(name) for name in AUTO_REPLY_HEADERS)
        or precedence == "auto_reply"
    )


def first_part(message: email.message.Message, content_type: str) -> email.message.Message | None:
    return next((p for p in message.walk() if p.get_content_type() == content_type), None)


def header_blocks(part: email.message.Message) -> list[email.message.Message]:
    """The header blocks of a message/delivery-status or feedback-report part (the email
    package parses the first as a list of blocks; a feedback report as one message)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, email.message.Message)]
    if isinstance(payload, str):
        return [email.message_from_string(chunk) for chunk in payload.split("\n\n") if chunk]
    return []


def original_headers(message: email.message.Message) -> email.message.Message | None:
    """The quoted original of a report (message/rfc822 or text/rfc822-headers)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                inner = payload[0]
                return inner if isinstance(inner, email.message.Message) else None
        if kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return email.message_from_bytes(text)
    return None
