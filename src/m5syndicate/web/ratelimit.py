"""A per-key sliding-window limit (subscribe posts per IP), kept in memory.

One process's view: behind several workers each counts its own share, which still caps
a flood. Memory is bounded: when too many keys are tracked, the idle ones are dropped.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 100_000
IPV6_PREFIX = 64  # one home or server gets a /64 at least: counting single addresses would let
# one client take 2**64 fresh ones


def client_key(address: str) -> str:
    """The key a client is counted under: its IPv4 address, or its IPv6 /64 network. The
    address is the peer's, or the one a trusted proxy forwarded ([web] forwarded_allow_ips)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class RateLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one attempt; False when the key has used up its window."""
        now = self.clock()
        hits = self.hits.get(key)
        if hits is None:
            if len(self.hits) >= MAX_KEYS:
                self.forget_idle(now)
            hits = self.hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def forget_idle(self, now: float) -> None:
        idle = [key for key, hits in self.hits.items() if not hits or hits[-1] <= now - self.window]
        for key in idle:
            del self.hits[key]
        if len(self.hits) >= MAX_KEYS:  # all busy: start over rather than grow without end
            self.hits.clear()
