"""Debian's Dovecot as a test IMAP server: its own config in a temp dir, passwd-file
auth, Maildir storage, TLS with a certificate made on the spot, a free loopback port.

Run as root (CI), the mail processes run as ``nobody`` (Dovecot refuses uid 0) and the
login processes as Debian's ``dovenull``; run as anyone else, everything is that user.
"""

from __future__ import annotations

import grp
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.tls import self_signed

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "dovecot-test-password"


@dataclass(frozen=True)
class Dovecot:
    port: int
    ca_file: Path
    maildir: Path  # the user's INBOX
    uid: int
    gid: int

    @property
    def url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/INBOX?ca_file={self.ca_file}"

    def deliver(self, data: bytes) -> None:
        """Write a mail into the INBOX's new/ as a local MDA would."""
        box = mailbox.Maildir(self.maildir, create=True)
        box.add(mailbox.MaildirMessage(data))
        for folder, dirs, files in os.walk(self.maildir):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, self.uid, self.gid)

    def folder(self, name: str) -> mailbox.Maildir:
        path = self.maildir if name == "INBOX" else self.maildir / f".{name}"
        return mailbox.Maildir(path, create=False)


def users() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, me, os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
"""


# Dovecot 2.3's capabilities once logged in, less MOVE (RFC 6851): a server that has
# only COPY, STORE \Deleted and (with UIDPLUS, RFC 4315) UID EXPUNGE.
WITHOUT_MOVE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY LITERAL+"
)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from temporary_dovecot()


@pytest.fixture(params=["UIDPLUS", "no UIDPLUS"])
def dovecot_without_move(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """Dovecot offering no MOVE, with or without UIDPLUS (`imap_capability`)."""
    offered = WITHOUT_MOVE if request.param == "UIDPLUS" else WITHOUT_MOVE.replace(" UIDPLUS", "")
    yield from temporary_dovecot(f"protocol imap {{\n  imap_capability = {offered}\n}}\n")


def temporary_dovecot(extra_config: str = "") -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    # Not under pytest's tmp_path: that is 0700 for root, and Dovecot's own users must
    # reach the passwd file and the mail.
    with tempfile.TemporaryDirectory(prefix="m5-dovecot-") as folder:
        os.chmod(folder, 0o755)
        yield from run_dovecot(Path(folder), extra_config)


def run_dovecot(root: Path, extra_config: str = "") -> Iterator[Dovecot]:
    internal, login, uid, gid = users()
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True)
    for sub in ("mail", "home"):
        os.chown(root / sub, uid, gid)
    ca_file = self_signed(root / "tls")
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            internal=internal,
            internal_group=grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name,
            login=login,
            uid=uid,
            gid=gid,
            port=port,
        )
        + extra_config
    )
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, root / "dovecot.log")
        yield Dovecot(port, ca_file, root / "mail" / USER, uid, gid)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            log_text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"dovecot exited: {stderr}{log_text}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port}")
