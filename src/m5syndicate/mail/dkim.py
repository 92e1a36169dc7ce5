"""DKIM signatures (RFC 6376; Ed25519 per RFC 8463) over exactly the bytes sent.

Canonicalization ``relaxed/relaxed``: a relay that re-folds a header, adds a trailing
space or re-wraps whitespace does not break the signature (``simple`` bodies break on
one added space). Signing uses the ``cryptography`` package (about 0.3 ms for RSA-2048,
far less for Ed25519); dkimpy's pure-Python RSA takes about 11 ms and is used only by
the tests, to verify.

``h=`` covers From, To, Subject, Date, Message-ID, Reply-To, MIME-Version, the
top-level Content-Type and Content-Transfer-Encoding, List-Id, List-Unsubscribe,
List-Unsubscribe-Post (RFC 8058 requires the last two signed), Feedback-ID and
Auto-Submitted. The headers a receiver acts on are oversigned: each is listed once more
than it occurs, so a copy prepended on the way (a second List-Unsubscribe-Post, a second
From, a List-Unsubscribe added to a mail that had none) breaks the signature.

With two keys (RSA-2048 beside Ed25519, RFC 8463's dual signing) each message gets one
DKIM-Signature per key; the headers are parsed and the body hashed once for all of them,
so one key costs what it always did and a second only its own signature.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from m5syndicate.config import DkimSettings
from m5syndicate.errors import ConfigError

SIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "auto-submitted",
)
# Listed once more than present: what mail clients and receivers act on.
OVERSIGNED = frozenset(
    (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
    )
)
WSP_RUN = re.compile(rb"[ \t]+")
TRAILING_WSP = re.compile(rb"[ \t]+\r\n")
# A space before a space or a line end: where relaxed body canonicalization changes bytes.
SPACE_TO_FIX = re.compile(rb" [ \r]")
PKCS1V15, SHA256 = padding.PKCS1v15(), hashes.SHA256()
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
RSA_MIN_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """One selector and its private key."""

    selector: str
    key: PrivateKey

    @property
    def algorithm(self) -> str:
        return (
            "ed25519-sha256" if isinstance(self.key, ed25519.Ed25519PrivateKey) else ("rsa-sha256")
        )

    def signature(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(hashlib.sha256(data).digest())  # RFC 8463: sign the hash
        return self.key.sign(data, PKCS1V15, SHA256)


class DkimSigner:
    """Signs for one domain with one or more keys, in the order given."""

    def __init__(
        self,
        domain: str,
        keys: Sequence[SigningKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("a DkimSigner needs at least one key")
        self.domain, self.keys, self.clock = domain, tuple(keys), clock

    def __call__(self, message: bytes) -> bytes:
        return self.sign(message)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header per key in front."""
        split = message.index(b"\r\n\r\n") + 2
        head, body = message[:split], message[split + 2 :]
        headers = parse_headers(head)
        names = signed_names(headers)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        common = (
            f"c=relaxed/relaxed; d={self.domain}; t={int(self.clock())}; "
            f"h={':'.join(names)}; bh={body_hash}; b="
        )
        # Bottom-up per name (RFC 6376 5.4.2); an oversigned name with none left adds nothing.
        signed = b"".join(relaxed(name, headers[name].pop()) for name in names if headers.get(name))
        return b"".join(self.header(key, common, signed) for key in self.keys) + message

    def header(self, key: SigningKey, common: str, signed: bytes) -> bytes:
        tags = f"v=1; a={key.algorithm}; s={key.selector}; {common}"
        data = signed + relaxed("dkim-signature", tags.encode("ascii")).rstrip(b"\r\n")
        signature = base64.b64encode(key.signature(data)).decode("ascii")
        return ("DKIM-Signature: " + tags.replace("; ", ";\r\n ") + signature + "\r\n").encode(
            "ascii"
        )


def parse_headers(head: bytes) -> dict[str, list[bytes]]:
    """Header name -> raw values (unfolded later), the last occurrence last.

    Signing takes values from the bottom up, as RFC 6376 5.4.2 says."""
    found: dict[str, list[bytes]] = {}
    name = ""
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and name:
            found[name][-1] += b"\r\n" + line
            continue
        raw_name, _, value = line.partition(b":")
        name = raw_name.decode("ascii").strip().lower()
        found.setdefault(name, []).append(value)
    return found


@functools.lru_cache(maxsize=4096)
def relaxed(name: str, value: bytes) -> bytes:
    """One header, relaxed (RFC 6376 3.4.2). Cached: most headers of a digest (From,
    Subject, Date, List-Id, the boundary...) are the same for a whole variant."""
    unfolded = value.replace(b"\r\n", b"")
    return name.encode("ascii") + b":" + WSP_RUN.sub(b" ", unfolded).strip(b" \t") + b"\r\n"


def signed_names(headers: dict[str, list[bytes]]) -> list[str]:
    """The h= list: each signed header as often as it occurs, oversigned ones once more."""
    names: list[str] = []
    for name in SIGNED:
        count = len(headers.get(name, ())) + (name in OVERSIGNED)
        names += [name] * count
    return names


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: no whitespace at line ends, runs of it one space, no trailing
    empty lines; an empty body stays empty.

    Our bodies are quoted-printable (trailing whitespace is encoded), with no tabs and
    no runs of spaces (``email.css`` is not indented), so the substitutions that cost
    ~200 us per 13 KB run only when a search (~17 us) finds something for them to do.
    (Two bytes searches for "  " and " \r" instead were measured slower: the body is
    full of single spaces.)"""
    if b"\t" in body or SPACE_TO_FIX.search(body):
        body = WSP_RUN.sub(b" ", TRAILING_WSP.sub(b"\r\n", body))
    stripped = body.rstrip(b"\r\n")
    return stripped + b"\r\n" if stripped else b""


def load_signer(settings: DkimSettings) -> DkimSigner | None:
    """The configured signer, or None when [dkim] domain is empty."""
    if not settings.domain:
        return None
    pairs = configured_keys(settings)
    return DkimSigner(settings.domain, [SigningKey(s, read_key(path)) for s, path in pairs])


def configured_keys(settings: DkimSettings) -> list[tuple[str, str]]:
    """(selector, key file) of every key: selector + private_key_file, then each of keys."""
    if bool(settings.selector) != bool(settings.private_key_file):
        raise ConfigError(
            "config: [dkim]: selector and private_key_file go together; set both, or "
            'neither and list the keys in keys = ["SELECTOR:FILE", ...]'
        )
    pairs = [(settings.selector, settings.private_key_file)] if settings.selector else []
    for entry in settings.keys:
        selector, colon, path = entry.partition(":")
        if not colon or not selector.strip() or not path.strip():
            raise ConfigError(
                f"config: [dkim] keys: {entry!r} is not SELECTOR:FILE; write e.g. "
                '"ed2026:/etc/m5syndicate/dkim-ed2026.pem"'
            )
        pairs.append((selector.strip(), path.strip()))
    if not pairs:
        raise ConfigError(
            "config: [dkim]: domain is set but no key is; set selector and "
            "private_key_file (or keys), or empty domain to send unsigned"
        )
    selectors = [selector for selector, _ in pairs]
    twice = sorted({s for s in selectors if selectors.count(s) > 1})
    if twice:
        raise ConfigError(
            f"config: [dkim]: selector {', '.join(twice)} is given twice; each key needs "
            "its own selector (its own DNS record)"
        )
    return pairs


def read_key(path: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(
            f"config: [dkim] private_key_file: cannot read {path}: {exc.strerror}; check the path"
        ) from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"config: [dkim] private_key_file: {path} is not an unencrypted PEM private key "
            f"({exc}); make one with `m5syndicate dkim keygen`"
        ) from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= RSA_MIN_BITS:
        return key
    raise ConfigError(
        f"config: [dkim] private_key_file: {path} holds a {type(key).__name__}; use RSA "
        f"({RSA_MIN_BITS} bits or more) or Ed25519 (`m5syndicate dkim keygen`)"
    )


def public_record(key: PrivateKey) -> str:
    """The TXT record value that publishes this key's public half (RFC 6376 3.6.1)."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode("ascii")
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
