"""Metrics exposition and JSON log lines."""

from __future__ import annotations

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from m5syndicate.logs import JsonFormatter
from m5syndicate.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_counters_and_store_figures_are_exposed() -> None:
    metrics = Metrics()
    metrics.fetch_errors.labels(source="wp").inc()
    metrics.smtp_replies.labels(code="250").inc(3)
    metrics.watch_store(lambda: ({"sent": 7, "failed": 1}, {"tr": 5}, 42.0))
    found = samples(metrics)
    assert found[("m5_fetch_errors_total", (("source", "wp"),))] == 1
    assert found[("m5_smtp_replies_total", (("code", "250"),))] == 3
    assert found[("m5_deliveries", (("state", "sent"),))] == 7
    assert found[("m5_deliveries", (("state", "pending"),))] == 0
    assert found[("m5_articles", (("language", "tr"),))] == 5
    assert found[("m5_last_collection_age_seconds", ())] == 42.0


def test_two_runtimes_do_not_share_counters() -> None:
    first, second = Metrics(), Metrics()
    first.messages_sent.labels(cadence="daily").inc()
    assert ("m5_messages_sent_total", (("cadence", "daily"),)) not in samples(second)


def test_json_log_lines_have_stable_keys() -> None:
    record = logging.makeLogRecord(
        {
            "name": "m5.collect",
            "levelname": "WARNING",
            "msg": "source %s failed",
            "args": ("wp",),
            "source": "wp",
            "created": 0,
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line == {
        "time": "1970-01-01T00:00:00.000+00:00",
        "level": "warning",
        "logger": "m5.collect",
        "message": "source wp failed",
        "source": "wp",
    }
