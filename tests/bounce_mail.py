"""The golden returned mails of tests/data/bounces, filled for one delivery."""

from __future__ import annotations

from tests.conftest import REPO

BOUNCES = REPO / "tests" / "data" / "bounces"


def golden(name: str, token: str = "", rcpt: str = "", unsubscribe: str = "") -> bytes:
    text = (BOUNCES / name).read_text(encoding="utf-8")
    text = text.replace("@@TOKEN@@", token).replace("@@RCPT@@", rcpt)
    return text.replace("@@UNSUB@@", unsubscribe).replace("\n", "\r\n").encode("utf-8")
