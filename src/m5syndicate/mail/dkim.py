"""DKIM signatures (RFC 6376; Ed25519 per RFC 8463) over exactly the bytes sent.

Canonicalization ``relaxed/simple``: headers relaxed, body as sent (our bodies are
already CRLF, 7-bit, with no trailing blank lines to strip). Signing uses the
``cryptography`` package (about 0.4 ms for RSA-2048, far less for Ed25519); dkimpy's
pure-Python RSA takes about 11 ms and is used only by the tests, to verify.

``h=`` covers From, To, Subject, Date, Message-ID, MIME-Version, the top-level
Content-Type, List-Id, List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 requires the
last two to be signed), and From once more so no second From can be added.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
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
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)
WSP_RUN = re.compile(rb"[ \t]+")
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class DkimSigner:
    def __init__(
        self, domain: str, selector: str, key: PrivateKey, clock: Callable[[], float] = time.time
    ) -> None:
        self.domain, self.selector, self.key, self.clock = domain, selector, key, clock
        self.algorithm = (
            "ed25519-sha256" if isinstance(key, ed25519.Ed25519PrivateKey) else ("rsa-sha256")
        )

    def __call__(self, message: bytes) -> bytes:
        return self.sign(message)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front."""
        split = message.index(b"\r\n\r\n") + 2
        head, body = message[:split], message[split + 2 :]
        headers = parse_headers(head)
        names = [name for name in SIGNED if name in headers] + ["from"]
        body_hash = base64.b64encode(hashlib.sha256(simple_body(body)).digest()).decode()
        tags = (
            f"v=1; a={self.algorithm}; c=relaxed/simple; d={self.domain}; s={self.selector}; "
            f"t={int(self.clock())}; h={':'.join(names)}; bh={body_hash}; b="
        )
        signed = b"".join(relaxed(name, headers[name].pop()) for name in names if headers[name])
        signed += relaxed("dkim-signature", tags.encode("ascii")).rstrip(b"\r\n")
        signature = base64.b64encode(self.signature(signed)).decode("ascii")
        header = "DKIM-Signature: " + tags.replace("; ", ";\r\n ") + signature + "\r\n"
        return header.encode("ascii") + message

    def signature(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(hashlib.sha256(data).digest())
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


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


def relaxed(name: str, value: bytes) -> bytes:
    unfolded = value.replace(b"\r\n", b"")
    return name.encode("ascii") + b":" + WSP_RUN.sub(b" ", unfolded).strip(b" \t") + b"\r\n"


def simple_body(body: bytes) -> bytes:
    stripped = body.rstrip(b"\r\n")
    return stripped + b"\r\n" if stripped else b"\r\n"


def load_signer(settings: DkimSettings) -> DkimSigner | None:
    """The configured signer, or None when [dkim] domain is empty."""
    if not settings.domain:
        return None
    if not settings.selector or not settings.private_key_file:
        raise ConfigError(
            "config: [dkim]: domain is set but selector or private_key_file is empty; set "
            "both, or empty domain to send unsigned"
        )
    return DkimSigner(settings.domain, settings.selector, read_key(settings.private_key_file))


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
            f"({exc}); write it with `openssl genpkey -algorithm ed25519` or RSA 2048"
        ) from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key
    raise ConfigError(
        f"config: [dkim] private_key_file: {path} holds a {type(key).__name__}; use RSA "
        "(2048 bits or more) or Ed25519"
    )
