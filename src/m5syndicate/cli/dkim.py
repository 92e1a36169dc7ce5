"""`m5syndicate dkim keygen`: a DKIM key, the DNS record to publish and the config lines.

The key file is created with mode 0600 from the start (never written, then narrowed), and
an existing one is replaced only with --force, atomically: a key already published in DNS
is not lost by a mistyped command.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from m5syndicate.cli.base import main
from m5syndicate.mail.dkim import RSA_MIN_BITS, PrivateKey, public_record

# A DNS name: labels of letters, digits and inner hyphens (a selector may have dots too).
DNS_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
TXT_STRING_MAX = 255  # RFC 1035: one character-string of a TXT record


@main.group()
def dkim() -> None:
    """DKIM keys for signing the mail ([dkim] in the configuration)."""


@dkim.command("keygen")
@click.option("--domain", required=True, help="The signing domain, d= (e.g. m5dergi.com).")
@click.option("--selector", required=True, help="The selector, s= (e.g. rsa2026, ed2026).")
@click.option(
    "--type",
    "key_type",
    type=click.Choice(["rsa", "ed25519"]),
    default="rsa",
    show_default=True,
    help="RSA-2048 (verified everywhere) or Ed25519 (RFC 8463; sign with both).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to write [default: var/dkim/DOMAIN.SELECTOR.pem].",
)
@click.option("--force", is_flag=True, help="Replace the key file if it exists.")
def keygen(domain: str, selector: str, key_type: str, out: Path | None, force: bool) -> None:
    """Make a DKIM key: write the private key (mode 0600), print the DNS TXT record to
    publish and the [dkim] lines to add to the configuration."""
    domain = domain.strip().rstrip(".").lower()
    selector = selector.strip().lower()
    check_dns_name(domain, "--domain", "m5dergi.com")
    check_dns_name(selector, "--selector", "rsa2026")
    path = out or Path("var/dkim") / f"{domain}.{selector}.pem"
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_MIN_BITS)
        if key_type == "rsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    write_private_key(path, key, force)
    name = f"{selector}._domainkey.{domain}."
    value = public_record(key)
    click.echo(f"wrote the private key to {path} (mode 0600; keep it secret, back it up)\n")
    click.echo("Publish this DNS record (zone-file form):\n")
    click.echo(f"{name} IN TXT {quoted_strings(value)}\n")
    click.echo(f"In a DNS provider's web form: name {selector}._domainkey, type TXT, value:\n")
    click.echo(f"{value}\n")
    click.echo("Then sign with it: in the configuration,\n")
    click.echo(config_lines(domain, selector, str(path.resolve())))


def check_dns_name(text: str, option: str, example: str) -> None:
    if len(text) > 253 or not DNS_NAME.match(text):
        raise click.BadParameter(
            f"{text!r} is not a DNS name; use letters, digits, hyphens and dots, e.g. {example}",
            param_hint=option,
        )


def write_private_key(path: Path, key: PrivateKey, force: bool) -> None:
    """PKCS#8 PEM, mode 0600, written to a temporary file first: no reader ever sees half
    a key, and without --force a hard link puts it in place only if nothing is there."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dkim-", suffix=".tmp")
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {path}: {exc.strerror}; choose another --out"
        ) from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)  # mkstemp's mode; said whatever the umask
            stream.write(pem)
            stream.flush()
            os.fsync(stream.fileno())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file exists: never overwritten
    except FileExistsError:
        raise click.UsageError(
            f"{path} exists; keep it (its DNS record may be published) or pass --force "
            "to replace it"
        ) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {path}: {exc.strerror}; choose another --out"
        ) from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


def quoted_strings(value: str) -> str:
    """The value as quoted strings of at most 255 characters each (RFC 1035); resolvers
    hand them to verifiers joined (RFC 6376 3.6.2.2). An RSA-2048 record needs two."""
    chunks = [value[i : i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def config_lines(domain: str, selector: str, path: str) -> str:
    return (
        "[dkim]\n"
        f'domain = "{domain}"\n'
        f'selector = "{selector}"\n'
        f'private_key_file = "{path}"\n'
        "\n"
        "or, to sign with this key beside one you already have (RSA + Ed25519, RFC 8463),\n"
        "keep that one's selector and private_key_file and add:\n"
        "\n"
        f'keys = ["{selector}:{path}"]'
    )
