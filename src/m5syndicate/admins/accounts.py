"""Admin accounts: add one (or change its password), check a login, log every action.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile); a hash made with older parameters is replaced at the next login.
An unknown address costs the same work as a wrong password, so timing tells nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from m5syndicate.errors import InputError
from m5syndicate.store import admins as admin_store
from m5syndicate.store import audit as audit_store
from m5syndicate.store.admins import AdminUser
from m5syndicate.store.audit import AuditEntry
from m5syndicate.subscribers.subscriptions import normalize_email

MIN_PASSWORD = 12
MAX_PASSWORD = 1000  # Argon2 takes any length; a megabyte "password" is an attack
HASHER = PasswordHasher()


@cache
def dummy_hash() -> str:
    """Checked against when the address is unknown. Made at the first login, not at
    import: an Argon2 hash costs a third of a second, and every command imports this."""
    return HASHER.hash("not a password of anyone")


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"password: at least {MIN_PASSWORD} characters, please (a passphrase of a few "
            "words is easiest to remember)"
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(f"password: at most {MAX_PASSWORD} characters")
    return password


def add_admin(engine: Engine, email: str, password: str, now: datetime) -> str:
    """Add an admin, or set a new password for an existing one: "added" or "changed"."""
    address = normalize_email(email)
    hashed = HASHER.hash(check_password(password))
    with engine.begin() as conn:
        existing = admin_store.find_admin(conn, address)
        if existing is None:
            admin_store.insert_admin(conn, address, hashed, now)
            audit_store.record_action(conn, now, "cli", "admin_add", address)
            return "added"
        admin_store.set_password_hash(conn, existing.id, hashed)
        audit_store.record_action(conn, now, "cli", "admin_password", address)
        return "changed"


def authenticate(engine: Engine, email: str, password: str, now: datetime) -> AdminUser | None:
    """The admin these credentials belong to, or None; a login is logged."""
    try:
        address = normalize_email(email)
    except InputError:
        address = ""
    with engine.connect() as conn:
        admin = admin_store.find_admin(conn, address) if address else None
    if not verified(admin.password_hash if admin else dummy_hash(), password) or admin is None:
        return None
    with engine.begin() as conn:
        if HASHER.check_needs_rehash(admin.password_hash):
            admin_store.set_password_hash(conn, admin.id, HASHER.hash(password))
        admin_store.set_last_login(conn, admin.id, now)
        audit_store.record_action(conn, now, admin.email, "login", "")
    return admin


def verified(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def admin_by_id(engine: Engine, admin_id: int) -> AdminUser | None:
    with engine.connect() as conn:
        return admin_store.get_admin(conn, admin_id)


def log_action(
    engine: Engine, now: datetime, who: str, action: str, target: str = "", detail: str = ""
) -> None:
    with engine.begin() as conn:
        audit_store.record_action(conn, now, who, action, target, detail)


def audit_log(engine: Engine, limit: int = 200) -> list[AuditEntry]:
    with engine.connect() as conn:
        return audit_store.recent_actions(conn, limit)
