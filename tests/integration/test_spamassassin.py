"""Every kind of mail, checked like a mailbox provider would: Debian's SpamAssassin
(local tests only, `-L`: no DNS, no network) must score each at 0 or below.

Kinds: confirm, welcome, goodbye (always HTML and text), and the instant, daily and
weekly digests, each as HTML and as text, in Turkish and English; all DKIM-signed, as
they leave with [dkim] set. The recipient is on another domain than the sender, as a
subscriber is (a To on the brand's own domain with a subject starting with the brand
trips PDS_BRAND_SUBJ_NAKED_TO, a phishing rule, whatever the mail).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from m5syndicate.config import LANGUAGES
from m5syndicate.digest.notices import Notices
from m5syndicate.digest.templates import email_environment
from m5syndicate.mail.dkim import DkimSigner, SigningKey
from m5syndicate.models import Subscriber
from m5syndicate.subscribers.subscriptions import Confirmation
from tests.digests import SECRET
from tests.unit.test_links_and_dkim import ed25519_key
from tests.unit.test_render import NOW, SETTINGS, compose, edition, recipient

SPAMASSASSIN = shutil.which("spamassassin")
pytestmark = pytest.mark.skipif(
    SPAMASSASSIN is None, reason="Debian's spamassassin is not installed (apt-get install it)"
)
READER = "okur@example.net"
DIGESTS = {"instant": "20261127T060000Z", "daily": "2026-11-28", "weekly": "2026-W48"}
SCORE = re.compile(rb"^X-Spam-Status: \w+, score=(-?\d+(?:\.\d+)?)", re.MULTILINE)
RULES = re.compile(rb"^ *(-?\d+\.\d+) ([A-Z][A-Z0-9_]+) ", re.MULTILINE)


def account_mails(language: str) -> dict[str, Callable[[], bytes]]:
    settings = SETTINGS.with_changes(web=SETTINGS.web.with_changes(secret_key=SECRET))
    notices = Notices(email_environment(), settings)
    reader = Subscriber(READER, language, "daily", id=7, status="confirmed")
    return {
        f"confirm-{language}": lambda: (
            notices.confirmation(Confirmation(7, READER, language, "7.tok"), NOW).data
        ),
        f"welcome-{language}": lambda: notices.account("welcome", reader, NOW).data,
        f"goodbye-{language}": lambda: notices.account("goodbye", reader, NOW).data,
    }


def digests(language: str) -> dict[str, Callable[[], bytes]]:
    made: dict[str, Callable[[], bytes]] = {}
    for cadence, key in DIGESTS.items():
        for fmt in ("html", "text"):
            who = replace(recipient(language, fmt), email=READER)
            made[f"{cadence}-{language}-{fmt}"] = lambda cadence=cadence, key=key, who=who: compose(
                edition(cadence, key), who
            )
    return made


MAILS: dict[str, Callable[[], bytes]] = {}
for _language in LANGUAGES:
    MAILS |= account_mails(_language) | digests(_language)


def spamassassin(data: bytes, home: Path) -> bytes:
    """SpamAssassin's test report (`-t`) of one message, local tests only (`-L`)."""
    assert SPAMASSASSIN is not None
    done = subprocess.run(
        [SPAMASSASSIN, "-L", "-t", "-x"],  # -x: no per-user preferences file
        input=data,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(home)},
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every kind scored at once: each run is about a second of Perl start-up."""
    home = tmp_path_factory.mktemp("spamassassin-home")
    key, _ = ed25519_key()
    sign = DkimSigner("m5.test", [SigningKey("mail", key)])
    messages = {name: sign(make()) for name, make in MAILS.items()}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        scored = pool.map(lambda data: spamassassin(data, home), messages.values())
        return dict(zip(messages, scored, strict=True))


def test_every_kind_is_covered() -> None:
    kinds = {name.split("-")[0] for name in MAILS}
    assert kinds == {"confirm", "welcome", "goodbye", *DIGESTS}
    assert len(MAILS) == 2 * (3 + 3 * 2)  # both languages; digests in html and text


@pytest.mark.parametrize("name", sorted(MAILS))
def test_scores_zero_or_below(reports: dict[str, bytes], name: str) -> None:
    report = reports[name]
    found = SCORE.search(report)
    assert found is not None, report[-2000:]
    score = float(found.group(1))
    hits = [
        f"{rule.decode()} {points.decode()}"
        for points, rule in RULES.findall(report)
        if float(points) != 0
    ]
    assert score <= 0, f"{name} scores {score}: {', '.join(hits)}"


def test_the_check_can_fail(tmp_path: Path) -> None:
    """The same check on a message built to look like spam scores above 0."""
    spam = (
        b"From: winner@m5.test\r\nTo: okur@example.net\r\nSubject: FREE MONEY!!! ACT NOW\r\n"
        b"Date: Sat, 28 Nov 2026 07:00:00 +0000\r\nMessage-ID: <x@m5.test>\r\n"
        b'Content-Type: text/html; charset="utf-8"\r\n\r\n'
        b"<html><body><font size=7><b>100% FREE!!! CLICK HERE to claim your $1,000,000 "
        b"PRIZE. Viagra, casino, no credit check. Unsubscribe impossible.</b></font>"
        b"</body></html>\r\n"
    )
    found = SCORE.search(spamassassin(spam, tmp_path))
    assert found is not None and float(found.group(1)) > 0
