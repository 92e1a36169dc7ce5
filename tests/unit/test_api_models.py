"""The admin API's models follow the constants the use cases check."""

from __future__ import annotations

from m5syndicate.models import SUBSCRIBER_STATES
from m5syndicate.web.api import openapi_document
from m5syndicate.web.api_models import Stats


def test_stats_has_a_field_per_subscriber_state() -> None:
    assert set(Stats.model_fields) == {*SUBSCRIBER_STATES, "suppressed"}


def test_document_answers_only_what_the_api_answers() -> None:
    document = openapi_document()
    codes = {
        code
        for operations in document["paths"].values()
        for operation in operations.values()
        for code in operation["responses"]
    }
    assert "422" not in codes and codes <= {"200", "201", "400", "401", "404"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
