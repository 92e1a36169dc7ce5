"""Provider webhooks over real HTTP (uvicorn on loopback): recorded-style payloads
signed with keys made here, the same records as bounce mails, forgeries refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Store
from sqlalchemy.engine import Engine

from m5syndicate.bounces.hooks import SnsVerifier, sns_string_to_sign
from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.config import Settings
from m5syndicate.models import utcnow
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.bounce_mail import Sent, sent_digests
from tests.digests import settings_for
from tests.integration.test_bounces_maildir import outcome
from tests.servers import UvicornThread

TOPIC = "arn:aws:sns:eu-central-1:123456789012:m5-ses-events"
CERT_URL = "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-test.pem"
MAILGUN_KEY = "key-mailgun-test-0123456789"
POSTMARK_PASSWORD = "postmark-test-password"


@dataclass
class Pki:
    """A CA the verifier trusts and an SNS signing certificate under it."""

    ca: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_pem: bytes


def certificate(
    subject: str, public_key: object, issuer: x509.Certificate | None, signer: object, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = (
            builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                critical=True,
            )
        )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]


def make_pki(leaf_name: str = "sns.amazonaws.com") -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("M5 Test Root CA", ca_key.public_key(), None, ca_key, ca=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = certificate(leaf_name, key.public_key(), ca, ca_key, ca=False)
    return Pki(ca, key, leaf.public_bytes(serialization.Encoding.PEM))


@dataclass
class FakeSns:
    """The certificate host: what a GET of the cert URL (or SubscribeURL) returns."""

    pem: bytes
    asked: list[str] = field(default_factory=list)

    def fetch(self, url: str) -> bytes:
        self.asked.append(url)
        return self.pem if url.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"


@dataclass
class Hooks:
    url: str
    engine: Engine
    sent: list[Sent]
    pki: Pki
    sns: FakeSns
    sendgrid: ec.EllipticCurvePrivateKey
    settings: Settings

    def post(self, provider: str, body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.url}/api/hooks/bounces/{provider}", content=body, headers=headers)


@pytest.fixture
def hooks(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Hooks]:
    sendgrid = ec.generate_private_key(ec.SECP256R1())
    public = sendgrid.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = settings_for(
        database_url,
        tmp_path,
        bounces={
            "ses_topic_arns": [TOPIC],
            "mailgun_signing_key": MAILGUN_KEY,
            "postmark_password": POSTMARK_PASSWORD,
            "sendgrid_public_key": base64.b64encode(public).decode(),
        },
    )
    sent = sent_digests(engine, settings, 6)
    pki = make_pki()
    sns = FakeSns(pki.cert_pem)
    runtime = Runtime(settings)
    app = create_app(runtime)
    app.state.sns_verifier = SnsVerifier(sns.fetch, Store([pki.ca]), (TOPIC,), utcnow)
    try:
        with UvicornThread(app) as server:
            yield Hooks(server.url, engine, sent, pki, sns, sendgrid, settings)
    finally:
        runtime.close()


def sns_message(pki: Pki, kind: str, message: str, **extra: str) -> dict[str, str]:
    envelope = {
        "Type": kind,
        "MessageId": f"sns-{time.time_ns()}",
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": "2026-11-28T07:02:03.456Z",
        "SignatureVersion": "1",
        "SigningCertURL": CERT_URL,
        **extra,
    }
    signature = pki.key.sign(sns_string_to_sign(envelope), padding.PKCS1v15(), hashes.SHA1())
    envelope["Signature"] = base64.b64encode(signature).decode()
    return envelope


def ses_bounce(one: Sent, token: str) -> str:
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": one.email,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2026-11-28T07:02:03.000Z",
                "feedbackId": "0100018c-feedback",
            },
            "mail": {
                "messageId": "0100018c-ses-message",
                "source": "bulten@example.org",
                "headers": [{"name": "X-M5-Delivery", "value": token}],
            },
        }
    )


def test_ses_bounce_signed_by_sns_is_recorded_for_its_delivery(hooks: Hooks) -> None:
    one = hooks.sent[0]
    token = delivery_signer(hooks.settings).token(one.delivery_id)
    # The relay reports the address it rewrote (an alias): only the header names the delivery.
    alias = Sent(one.delivery_id, one.edition_id, one.subscriber_id, "alias@relay.test", 1)
    body = json.dumps(sns_message(hooks.pki, "Notification", ses_bounce(alias, token))).encode()

    response = hooks.post("ses", body)

    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == {"hard": 1}
    assert outcome(hooks.engine, [one])[one.email] == ("unsubscribed", True, ["hard"])
    assert hooks.sns.asked == [CERT_URL]
    metrics = httpx.get(f"{hooks.url}/metrics").text
    edition = "daily/2026-11-28"  # 1 of its 6 messages bounced
    assert f'm5_edition_bounces{{edition="{edition}",kind="hard"}} 1.0' in metrics
    assert f'm5_edition_hard_bounce_rate{{edition="{edition}"}} 0.16666' in metrics
    assert f'm5_edition_complaint_rate{{edition="{edition}"}} 0.0' in metrics
    assert hooks.post("ses", body).json()["recorded"] == {}  # SNS retries: stored once


def test_the_sns_certificate_is_fetched_once_for_many_calls(hooks: Hooks) -> None:
    tokens = [delivery_signer(hooks.settings).token(one.delivery_id) for one in hooks.sent[:3]]
    for one, token in zip(hooks.sent[:3], tokens, strict=True):
        body = json.dumps(sns_message(hooks.pki, "Notification", ses_bounce(one, token)))
        response = hooks.post("ses", body.encode())
        assert response.status_code == 200, response.text
        assert response.json()["recorded"] == {"hard": 1}
    assert hooks.sns.asked == [CERT_URL]  # kept by URL: the second and third calls fetch nothing
    forged = sns_message(hooks.pki, "Notification", ses_bounce(hooks.sent[4], tokens[0]))
    forged["Message"] = forged["Message"].replace("Permanent", "Transient")
    assert hooks.post("ses", json.dumps(forged).encode()).status_code == 401  # still checked


def test_ses_forgeries_are_refused_without_fetching_from_elsewhere(hooks: Hooks) -> None:
    one = hooks.sent[1]
    good = sns_message(hooks.pki, "Notification", ses_bounce(one, ""))
    tampered = {**good, "Message": good["Message"].replace("Permanent", "Transient")}
    elsewhere = {**good, "SigningCertURL": "https://sns.eu-central-1.amazonaws.com.evil.test/x.pem"}
    other_topic = {**good, "TopicArn": "arn:aws:sns:eu-central-1:999999999999:other"}
    for forged, why in [
        (tampered, "signature does not verify"),
        (elsewhere, "is not an https URL on sns"),
        (other_topic, "not in [bounces] ses_topic_arns"),
    ]:
        response = hooks.post("ses", json.dumps(forged).encode())
        assert response.status_code == 401 and why in response.json()["error"]
    assert all(url == CERT_URL for url in hooks.sns.asked)
    assert outcome(hooks.engine, [one])[one.email] == ("confirmed", False, [])


def test_an_sns_certificate_from_an_untrusted_ca_is_refused(hooks: Hooks) -> None:
    stranger = make_pki()  # same name, a CA nobody trusts
    hooks.sns.pem = stranger.cert_pem
    body = json.dumps(sns_message(stranger, "Notification", ses_bounce(hooks.sent[1], "")))
    response = hooks.post("ses", body.encode())
    assert response.status_code == 401 and "not trusted" in response.json()["error"]


def test_an_sns_subscription_is_confirmed_at_its_subscribe_url(hooks: Hooks) -> None:
    url = "https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    message = sns_message(
        hooks.pki,
        "SubscriptionConfirmation",
        "You have chosen to subscribe",
        SubscribeURL=url,
        Token="abc",
    )
    response = hooks.post("ses", json.dumps(message).encode())
    assert response.status_code == 200 and response.json() == {"confirmed": True}
    assert hooks.sns.asked == [CERT_URL, url]


def mailgun_body(one: Sent, event: str, timestamp: int, key: str = MAILGUN_KEY) -> bytes:
    token = "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": str(timestamp), "token": token, "signature": signature},
            "event-data": {
                "id": f"mg-{event}-{one.delivery_id}",
                "event": event,
                "recipient": one.email,
                "timestamp": timestamp,
            },
        }
    ).encode()


def test_mailgun_complaint_with_its_hmac(hooks: Hooks) -> None:
    one = hooks.sent[2]
    response = hooks.post("mailgun", mailgun_body(one, "complained", int(time.time())))
    assert response.status_code == 200, response.text
    assert outcome(hooks.engine, [one])[one.email] == ("unsubscribed", True, ["complaint"])
    wrong = hooks.post("mailgun", mailgun_body(hooks.sent[3], "complained", int(time.time()), "x"))
    assert wrong.status_code == 401
    old = hooks.post("mailgun", mailgun_body(hooks.sent[3], "complained", int(time.time()) - 3600))
    assert old.status_code == 401 and "older than 15 minutes" in old.json()["error"]
    assert outcome(hooks.engine, [hooks.sent[3]])[hooks.sent[3].email][2] == []


def test_postmark_hard_bounce_with_basic_auth(hooks: Hooks) -> None:
    one = hooks.sent[3]
    body = json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": one.email,
            "Description": "The server was unable to deliver your message (ex: unknown user).",
            "BouncedAt": "2026-11-28T07:02:03Z",
        }
    ).encode()
    good = "Basic " + base64.b64encode(f"postmark:{POSTMARK_PASSWORD}".encode()).decode()
    bad = "Basic " + base64.b64encode(b"postmark:guess").decode()
    assert hooks.post("postmark", body, authorization=bad).status_code == 401
    assert hooks.post("postmark", body).status_code == 401
    response = hooks.post("postmark", body, authorization=good)
    assert response.status_code == 200 and response.json()["recorded"] == {"hard": 1}
    assert outcome(hooks.engine, [one])[one.email] == ("unsubscribed", True, ["hard"])


def test_sendgrid_signed_events(hooks: Hooks) -> None:
    bounced, complained = hooks.sent[4], hooks.sent[5]
    events = [
        {
            "email": bounced.email,
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 unknown",
            "sg_event_id": "sg-1",
            "timestamp": 1764313323,
        },
        {
            "email": complained.email,
            "event": "spamreport",
            "sg_event_id": "sg-2",
            "timestamp": 1764313324,
        },
        {
            "email": complained.email,
            "event": "delivered",
            "sg_event_id": "sg-3",
            "timestamp": 1764313325,
        },
    ]
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = hooks.sendgrid.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
        "x-twilio-email-event-webhook-timestamp": timestamp,
    }
    tampered = hooks.post("sendgrid", body.replace(b"bounce", b"blocked", 1), **headers)
    assert tampered.status_code == 401
    response = hooks.post("sendgrid", body, **headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "recorded": {"hard": 1, "complaint": 1},
        "ignored": 1,
        "unmatched": 0,
    }
    found = outcome(hooks.engine, [bounced, complained])
    assert found[bounced.email] == ("unsubscribed", True, ["hard"])
    assert found[complained.email] == ("unsubscribed", True, ["complaint"])


def test_a_provider_not_configured_is_not_there(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    runtime = Runtime(settings_for(database_url, tmp_path))
    try:
        with UvicornThread(create_app(runtime)) as server:
            for provider in ("ses", "mailgun", "postmark", "sendgrid", "other"):
                response = httpx.post(f"{server.url}/api/hooks/bounces/{provider}", content=b"{}")
                assert response.status_code == 404, provider
    finally:
        runtime.close()
