"""The `m5syndicate` command: each module adds its commands to the one group."""

from m5syndicate.cli import (
    admin,
    bounces,
    collect,
    demo,
    dkim,
    feeds,
    send,
    service,
    subscribers,
    web,
)
from m5syndicate.cli.base import main

__all__ = [
    "admin",
    "bounces",
    "collect",
    "demo",
    "dkim",
    "feeds",
    "main",
    "send",
    "service",
    "subscribers",
    "web",
]
