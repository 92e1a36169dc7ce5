"""Provider webhooks: each request's signature checked, then its events said as the same
findings a bounce mail gives (bounces/parse.py), so bounces/record.py acts on them alike.

- Amazon SES via SNS: the SNS message signature (SignatureVersion 1: SHA1, 2: SHA256,
  RSA PKCS#1 v1.5) under the certificate at ``SigningCertURL``, which must be an https
  URL on ``sns.<region>.amazonaws.com`` and chain to a trusted CA for the name
  ``sns.amazonaws.com``; the topic must be one of ``[bounces] ses_topic_arns``. The
  certificate is kept by URL (at most 16, for an hour): SNS signs with one for months,
  and fetching it on every call would make each webhook call an outbound request. The
  chain and its dates are checked on every call all the same;
- Mailgun: HMAC-SHA256 of timestamp + token under the webhook signing key, the timestamp
  within 15 minutes;
- Postmark: HTTP basic auth (it has no signature);
- SendGrid: the signed event webhook, ECDSA P-256 SHA-256 over timestamp + body, with
  the verification key from its settings page.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import cachetools
from cachetools import TTLCache
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from m5syndicate.bounces.parse import Finding, Kind, Reading
from m5syndicate.bounces.verp import DELIVERY_HEADER, DeliverySigner
from m5syndicate.errors import M5Error

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
SNS_CERT_NAME = "sns.amazonaws.com"
MAILGUN_MAX_AGE_SECONDS = 15 * 60
CERTIFICATES_KEPT, CERTIFICATE_TTL_SECONDS = 16, 3600.0
Fetch = Callable[[str], bytes]  # GET an https URL, the body


class HookRefused(M5Error):
    """A webhook request whose signature or origin does not check out (HTTP 401)."""


class HookInvalid(M5Error):
    """A webhook request that is not the provider's format (HTTP 400)."""


@dataclass(frozen=True)
class Parsed:
    readings: list[Reading]
    confirm_url: str = ""  # SNS: visit it to confirm the subscription


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HookInvalid(f"the body is not JSON: {exc}") from None


def event_key(provider: str, event_id: object, event: Mapping[str, Any]) -> str:
    """The provider's event id; else a hash of the event, so a retried post is one event."""
    if event_id:
        return f"{provider}:{event_id}"
    canonical = json.dumps(event, sort_keys=True, default=str).encode("utf-8")
    return f"{provider}:{hashlib.sha256(canonical).hexdigest()}"


def delivery_of(verp: DeliverySigner, headers: Iterable[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == DELIVERY_HEADER.lower():
            return verp.verify(str(value))
    return None


# --- Amazon SES over SNS ---------------------------------------------------------------

SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SNS_FIELDS["UnsubscribeConfirmation"] = SNS_FIELDS["SubscriptionConfirmation"]


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = SNS_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise HookInvalid(f"unknown SNS message type {message.get('Type')!r}")
    lines = []
    for name in fields:
        if name == "Subject" and "Subject" not in message:
            continue  # the one optional field: left out of the signed text when absent
        if not isinstance(message.get(name), str):
            raise HookInvalid(f"SNS message without {name}")
        lines += [name, message[name]]
    return ("\n".join(lines) + "\n").encode("utf-8")


def check_sns_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.fullmatch(parts.hostname or ""):
        raise HookRefused(
            f"SNS {what} {url[:120]!r} is not an https URL on sns.<region>.amazonaws.com"
        )
    return url


@functools.lru_cache(maxsize=1)
def system_trust() -> Store:
    """The system's CA certificates (Debian: /etc/ssl/certs/ca-certificates.crt)."""
    with open("/etc/ssl/certs/ca-certificates.crt", "rb") as bundle:
        return Store(x509.load_pem_x509_certificates(bundle.read()))


@dataclass(frozen=True)
class SnsVerifier:
    fetch: Fetch  # only ever given URLs that passed check_sns_url
    trust: Store
    topics: tuple[str, ...]
    now: Callable[[], datetime]
    certificates: Fetch = field(init=False)

    def __post_init__(self) -> None:
        # Kept by URL, bounded and expiring; the lock guards the cache only (the web app
        # verifies in its thread pool), and a failed fetch is not kept.
        kept = TTLCache[str, bytes](maxsize=CERTIFICATES_KEPT, ttl=CERTIFICATE_TTL_SECONDS)
        cached = cachetools.cached(kept, lock=threading.Lock())(self.fetch)
        object.__setattr__(self, "certificates", cached)  # frozen: set once, here

    def verify(self, message: Mapping[str, Any]) -> None:
        if message.get("TopicArn") not in self.topics:
            raise HookRefused(
                f"SNS topic {str(message.get('TopicArn'))[:200]!r} "
                "is not in [bounces] ses_topic_arns"
            )
        version = str(message.get("SignatureVersion", ""))
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
        if algorithm is None:
            raise HookRefused(f"SNS SignatureVersion {version!r} is not 1 or 2")
        url = check_sns_url(str(message.get("SigningCertURL", "")), "SigningCertURL")
        if not urlsplit(url).path.endswith(".pem"):
            raise HookRefused("SNS SigningCertURL does not name a .pem certificate")
        chain = x509.load_pem_x509_certificates(self.certificates(url))
        self.check_chain(chain)
        key = chain[0].public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise HookRefused("SNS signing certificate has no RSA key")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
            key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
        except (InvalidSignature, binascii.Error):
            raise HookRefused("SNS signature does not verify") from None

    def check_chain(self, chain: list[x509.Certificate]) -> None:
        verifier = (
            PolicyBuilder()
            .store(self.trust)
            .time(self.now())
            .build_server_verifier(x509.DNSName(SNS_CERT_NAME))
        )
        try:
            verifier.verify(chain[0], chain[1:])
        except VerificationError as exc:
            raise HookRefused(f"SNS signing certificate is not trusted: {exc}") from None


def parse_ses(body: bytes, sns: SnsVerifier, verp: DeliverySigner) -> Parsed:
    message = parse_json(body)
    if not isinstance(message, dict):
        raise HookInvalid("an SNS message is a JSON object")
    sns.verify(message)
    if message["Type"] == "SubscriptionConfirmation":
        return Parsed([], check_sns_url(str(message.get("SubscribeURL", "")), "SubscribeURL"))
    if message["Type"] != "Notification":
        return Parsed([])
    event = parse_json(message["Message"].encode("utf-8"))
    if not isinstance(event, dict):
        raise HookInvalid("an SES notification is a JSON object")
    return Parsed([ses_reading(event, f"ses:{message['MessageId']}", verp)])


def ses_reading(event: Mapping[str, Any], key: str, verp: DeliverySigner) -> Reading:
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    mail = event.get("mail") or {}
    headers = [(h.get("name", ""), h.get("value", "")) for h in mail.get("headers") or []]
    delivery_id = delivery_of(verp, headers)
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        hard: Kind = "hard" if bounce.get("bounceType") == "Permanent" else "soft"
        findings = tuple(
            Finding(
                hard,
                str(r.get("emailAddress", "")),
                delivery_id,
                str(r.get("status", "")),
                f"SES {bounce.get('bounceType')}/{bounce.get('bounceSubType')}: "
                f"{r.get('diagnosticCode', '')}"[:300],
            )
            for r in bounce.get("bouncedRecipients") or []
        )
        return Reading(key, findings)
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        feedback = str(complaint.get("complaintFeedbackType", "abuse"))
        if feedback == "not-spam":
            return Reading(key, ignored="a not-spam report")
        return Reading(
            key,
            tuple(
                Finding(
                    "complaint",
                    str(r.get("emailAddress", "")),
                    delivery_id,
                    feedback,
                    "SES complaint",
                )
                for r in complaint.get("complainedRecipients") or []
            ),
        )
    return Reading(key, ignored=f"an SES {kind or 'unknown'} notification")


# --- Mailgun ---------------------------------------------------------------------------


def parse_mailgun(body: bytes, signing_key: str, now: datetime, verp: DeliverySigner) -> Parsed:
    payload = parse_json(body)
    signature = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(signature, dict):
        raise HookInvalid("a Mailgun webhook has a signature object")
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), str(signature.get("signature", ""))):
        raise HookRefused("Mailgun signature does not verify")
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > MAILGUN_MAX_AGE_SECONDS:
        raise HookRefused("Mailgun signature is older than 15 minutes (a replay?)")
    event = payload.get("event-data") or {}
    return Parsed([mailgun_reading(event, verp)])


def mailgun_reading(event: Mapping[str, Any], verp: DeliverySigner) -> Reading:
    key = event_key("mailgun", event.get("id"), event)
    address = str(event.get("recipient", ""))
    variables = event.get("user-variables") or {}
    delivery_id = verp.verify(str(variables.get("m5_delivery", ""))) if variables else None
    status = event.get("delivery-status") or {}
    detail = (
        f"Mailgun {status.get('code', '')} {status.get('description') or status.get('message', '')}"
    )
    name = event.get("event")
    if name == "failed":
        kind: Kind = "hard" if event.get("severity") == "permanent" else "soft"
        return Reading(
            key, (Finding(kind, address, delivery_id, str(status.get("code", "")), detail[:300]),)
        )
    if name == "complained":
        return Reading(
            key, (Finding("complaint", address, delivery_id, "abuse", "Mailgun complaint"),)
        )
    return Reading(key, ignored=f"a Mailgun {name} event")


# --- Postmark --------------------------------------------------------------------------

POSTMARK_HARD = ("HardBounce", "BadEmailAddress", "ManuallyDeactivated")
POSTMARK_SOFT = ("SoftBounce", "Transient", "DnsError", "ChallengeVerification")


def check_basic_auth(header: str, user: str, password: str) -> None:
    scheme, _, encoded = header.partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    expected = f"{user}:{password}"
    if scheme.lower() != "basic" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HookRefused("Postmark basic auth does not match [bounces] postmark_user/password")


def parse_postmark(body: bytes, verp: DeliverySigner) -> Parsed:
    event = parse_json(body)
    if not isinstance(event, dict):
        raise HookInvalid("a Postmark webhook is a JSON object")
    key = event_key("postmark", event.get("ID"), event)
    address = str(event.get("Email") or event.get("Recipient") or "")
    metadata = event.get("Metadata") or {}
    delivery_id = verp.verify(str(metadata.get("m5_delivery", ""))) if metadata else None
    kind = str(event.get("Type", ""))
    detail = f"Postmark {kind}: {event.get('Description', '')}"[:300]
    if event.get("RecordType") == "SpamComplaint":
        finding = Finding("complaint", address, delivery_id, "abuse", "Postmark spam complaint")
        return Parsed([Reading(key, (finding,))])
    if event.get("RecordType") == "Bounce" and kind in POSTMARK_HARD + POSTMARK_SOFT:
        hard: Kind = "hard" if kind in POSTMARK_HARD else "soft"
        return Parsed([Reading(key, (Finding(hard, address, delivery_id, kind, detail),))])
    return Parsed([Reading(key, ignored=f"a Postmark {event.get('RecordType')} {kind}")])


# --- SendGrid --------------------------------------------------------------------------


def sendgrid_key(public_key: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key, validate=True))
    except (ValueError, binascii.Error):
        raise HookRefused("[bounces] sendgrid_public_key is not a base64 public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise HookRefused("[bounces] sendgrid_public_key is not an ECDSA key")
    return key


def parse_sendgrid(
    body: bytes, signature: str, timestamp: str, public_key: str, verp: DeliverySigner
) -> Parsed:
    key = sendgrid_key(public_key)
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode("utf-8") + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error):
        raise HookRefused("SendGrid signature does not verify") from None
    events = parse_json(body)
    if not isinstance(events, list):
        raise HookInvalid("a SendGrid webhook is a JSON array of events")
    return Parsed([sendgrid_reading(e, verp) for e in events if isinstance(e, dict)])


def sendgrid_reading(event: Mapping[str, Any], verp: DeliverySigner) -> Reading:
    key = event_key("sendgrid", event.get("sg_event_id"), event)
    address = str(event.get("email", ""))
    delivery_id = verp.verify(str(event.get("m5_delivery", "")))  # a custom arg, when set
    name = event.get("event")
    detail = f"SendGrid {name}: {event.get('reason', '')}"[:300]
    if name == "bounce":
        kind: Kind = "soft" if event.get("type") == "blocked" else "hard"
        return Reading(
            key, (Finding(kind, address, delivery_id, str(event.get("status", "")), detail),)
        )
    if name == "spamreport":
        return Reading(key, (Finding("complaint", address, delivery_id, "abuse", detail),))
    return Reading(key, ignored=f"a SendGrid {name} event")
