"""The bounce mailbox: IMAP (imaplib; TLS or STARTTLS, login) or a local Maildir.

A mail is only ever moved, never deleted: once acted on it goes to the ``Processed``
folder (IMAP ``MOVE``; Maildir ``.Processed/cur``); a mail that cannot be understood
stays where it is, marked (IMAP keyword ``M5Unreadable``; Maildir flag F) so the next
poll skips it and a person can look.
"""

from __future__ import annotations

import imaplib
import mailbox
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from m5syndicate.errors import ConfigError, M5Error

PROCESSED = "Processed"
UNREADABLE_KEYWORD = "M5Unreadable"
UNREADABLE_FLAG = "F"
PLACE = "[bounces] mailbox"


class Mailbox(Protocol):
    def messages(self) -> Iterator[tuple[str, bytes]]: ...
    def processed(self, key: str) -> None: ...
    def kept(self, key: str) -> None: ...
    def close(self) -> None: ...


class MailboxError(M5Error):
    """The bounce mailbox could not be reached or refused a command."""


@dataclass(frozen=True)
class ImapTarget:
    tls: bool  # True: TLS from the start (imaps); False: STARTTLS, required
    host: str
    port: int
    user: str
    folder: str
    ca_file: str | None


def open_mailbox(url: str, password: str, timeout: float = 30.0) -> Mailbox:
    if url.startswith("maildir:"):
        return MaildirBox(Path(url.removeprefix("maildir:").removeprefix("//")))
    return ImapBox(parse_imap_url(url), password, timeout)


def parse_imap_url(url: str) -> ImapTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ConfigError(f"{PLACE}: {url!r} is not imaps://user@host/INBOX or maildir:/path")
    if not parts.username:
        raise ConfigError(f"{PLACE}: {url!r} names no user; write imaps://USER@host/INBOX")
    if parts.password:
        raise ConfigError(f"{PLACE}: put no password in the URL; set M5_BOUNCES_PASSWORD instead")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"ca_file"})
    if unknown:
        raise ConfigError(f"{PLACE}: unknown option(s) {', '.join(unknown)}; known: ca_file")
    ca_file = query.get("ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"{PLACE}: ca_file={ca_file!r} is not a readable file")
    tls = parts.scheme == "imaps"
    return ImapTarget(
        tls=tls,
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        user=unquote(parts.username),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        ca_file=ca_file,
    )


class ImapBox:
    def __init__(self, target: ImapTarget, password: str, timeout: float) -> None:
        if not password:
            raise ConfigError(f"{PLACE}: IMAP needs a password; set M5_BOUNCES_PASSWORD")
        self.target = target
        context = ssl.create_default_context(cafile=target.ca_file)
        where = f"{PLACE}: {target.host}:{target.port}"
        try:
            if target.tls:
                self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    target.host, target.port, ssl_context=context, timeout=timeout
                )
            else:
                self.imap = imaplib.IMAP4(target.host, target.port, timeout=timeout)
                self.imap.starttls(ssl_context=context)  # no password in clear text
            self.imap.login(target.user, password)
            # What the server offers once logged in (the greeting's list is the pre-login one).
            self.offers = b" ".join(self.check(self.imap.capability(), "list capabilities"))
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise MailboxError(f"{where}: cannot log in as {target.user}: {exc}") from None
        self.check(self.imap.select(quote(target.folder)), f"open folder {target.folder}")
        self.check_folder()

    def check(self, reply: tuple[str, list[Any]], what: str) -> list[Any]:
        status, data = reply
        if status != "OK":
            raise MailboxError(f"{PLACE}: cannot {what}: {data!r}")
        return data

    def check_folder(self) -> None:
        self.imap.create(quote(PROCESSED))  # "NO" when it exists already: fine

    def messages(self) -> Iterator[tuple[str, bytes]]:
        data = self.check(
            self.imap.uid("SEARCH", "UNDELETED", "UNKEYWORD", UNREADABLE_KEYWORD),
            "search the folder",
        )
        uids = data[0].decode("ascii").split() if data and isinstance(data[0], bytes) else []
        for uid in uids:
            fetched = self.check(self.imap.uid("FETCH", uid, "(BODY.PEEK[])"), f"fetch {uid!r}")
            body = next(
                (part[1] for part in fetched if isinstance(part, tuple) and len(part) == 2), None
            )
            if isinstance(body, bytes):
                yield uid, body

    def processed(self, key: str) -> None:
        if b"MOVE" in self.offers.split():
            self.check(self.imap.uid("MOVE", key, quote(PROCESSED)), f"move {key} to {PROCESSED}")
            return
        self.check(self.imap.uid("COPY", key, quote(PROCESSED)), f"copy {key} to {PROCESSED}")
        self.check(self.imap.uid("STORE", key, "+FLAGS", r"(\Deleted)"), f"mark {key}")
        if b"UIDPLUS" in self.offers.split():  # expunge only this mail, not others marked
            self.check(self.imap.uid("EXPUNGE", key), f"expunge {key}")

    def kept(self, key: str) -> None:
        self.check(self.imap.uid("STORE", key, "+FLAGS", f"({UNREADABLE_KEYWORD})"), f"mark {key}")

    def close(self) -> None:
        """Leave without CLOSE: CLOSE expunges every mail marked \\Deleted in the folder,
        also mail another client marked, which the COPY fallback promises not to do."""
        try:
            if b"UNSELECT" in self.offers.split():
                self.imap.unselect()
            self.imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass  # the server went away; nothing is left to save


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MaildirBox:
    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise ConfigError(
                f"{PLACE}: {path} is not a Maildir (no new/ and cur/ in it); "
                "point it at the folder your MTA delivers bounces to"
            )
        self.box = mailbox.Maildir(path, factory=None, create=False)
        names = self.box.list_folders()
        self.done = (
            self.box.get_folder(PROCESSED) if PROCESSED in names else self.box.add_folder(PROCESSED)
        )

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for key in sorted(self.box.keys()):
            message = self.box.get_message(key)
            if UNREADABLE_FLAG not in message.get_flags():
                yield key, self.box.get_bytes(key)

    def processed(self, key: str) -> None:
        message = self.box.get_message(key)
        message.set_subdir("cur")
        message.add_flag("S")
        self.done.add(message)  # written before it leaves the inbox: never lost
        self.box.remove(key)

    def kept(self, key: str) -> None:
        message = self.box.get_message(key)
        message.set_subdir("cur")
        message.add_flag(UNREADABLE_FLAG)
        self.box[key] = message

    def close(self) -> None:
        self.box.close()
