"""The `m5syndicate` command: each module adds its commands to the one group."""

from m5syndicate.cli import admin, demo, send, web
from m5syndicate.cli.base import main

__all__ = ["admin", "demo", "main", "send", "web"]
