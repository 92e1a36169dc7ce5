"""What a collect cycle is given, built by the runtime (kept apart from the readers so
that building it loads no parser)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from m5syndicate.collect.fetcher import Fetcher
from m5syndicate.config import Settings
from m5syndicate.metrics import Metrics


@dataclass(frozen=True)
class CollectParts:
    engine: Engine
    fetcher: Fetcher
    settings: Settings
    metrics: Metrics
    lock: asyncio.Lock  # one collection at a time in this process
