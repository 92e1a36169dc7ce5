"""The admin API's OpenAPI 3.0 document, written by hand (served at /api/openapi.json).

Its enums and limits come from the same constants the use cases check, so the document
and the behaviour cannot drift apart; tests fuzz the API from this document.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from m5syndicate import __version__
from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.models import SUBSCRIBER_STATES
from m5syndicate.subscribers.roster import MAX_PAGE
from m5syndicate.subscribers.subscriptions import FORMATS, MAX_CATEGORIES, MAX_EMAIL, MAX_NAME


def error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def json_response(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


SUBSCRIBER_ID = {
    "name": "subscriber_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
UNAUTHORIZED = error_response("no or wrong bearer token")
NOT_FOUND = error_response("no such subscriber")
BAD_INPUT = error_response("invalid input; the message says which field and why")


def schemas() -> dict[str, Any]:
    nullable_time = {"type": "string", "format": "date-time", "nullable": True}
    return {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
        "Subscriber": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "email": {"type": "string"},
                "name": {"type": "string"},
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "cadence": {"type": "string", "enum": list(CADENCES)},
                "format": {"type": "string", "enum": list(FORMATS)},
                "status": {"type": "string", "enum": list(SUBSCRIBER_STATES)},
                "categories": {"type": "array", "items": {"type": "string"}},
                "created_at": nullable_time,
                "confirmed_at": nullable_time,
                "unsubscribed_at": nullable_time,
            },
        },
        "NewSubscriber": {
            "type": "object",
            "required": ["email"],
            "additionalProperties": False,
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": MAX_EMAIL},
                "name": {"type": "string", "maxLength": MAX_NAME},
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "cadence": {"type": "string", "enum": list(CADENCES)},
                "format": {"type": "string", "enum": list(FORMATS)},
                "categories": {
                    "type": "array",
                    "maxItems": MAX_CATEGORIES,
                    "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                },
                "confirmed": {
                    "type": "boolean",
                    "description": "true: consent was confirmed elsewhere; false (default): "
                    "a confirmation mail is sent",
                },
            },
        },
        "Added": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "nullable": True},
                "outcome": {"type": "string", "enum": ["added", "exists", "suppressed"]},
            },
        },
        "Page": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        },
        "Stats": {
            "type": "object",
            "properties": {
                name: {"type": "integer"} for name in (*SUBSCRIBER_STATES, "suppressed")
            },
        },
    }


def paths() -> dict[str, Any]:
    def param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    query = [
        param("status", {"type": "string", "enum": list(SUBSCRIBER_STATES)}),
        param("q", {"type": "string", "maxLength": MAX_EMAIL}, "part of the address or name"),
        param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100}),
        param("offset", {"type": "integer", "minimum": 0, "default": 0}),
    ]
    return {
        "/api/stats": {
            "get": {
                "summary": "Subscribers by status, and suppressed addresses",
                "responses": {"200": json_response("counts", "Stats"), "401": UNAUTHORIZED},
            }
        },
        "/api/subscribers": {
            "get": {
                "summary": "List or search subscribers, by id",
                "parameters": query,
                "responses": {
                    "200": json_response("a page of subscribers", "Page"),
                    "400": BAD_INPUT,
                    "401": UNAUTHORIZED,
                },
            },
            "post": {
                "summary": "Add one subscriber (an existing or suppressed address is left as is)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/NewSubscriber"}
                        }
                    },
                },
                "responses": {
                    "201": json_response("added", "Added"),
                    "200": json_response("already there, or suppressed", "Added"),
                    "400": BAD_INPUT,
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/api/subscribers/{subscriber_id}": {
            "get": {
                "summary": "One subscriber with its consent events",
                "parameters": [SUBSCRIBER_ID],
                "responses": {
                    "200": json_response("the subscriber", "Subscriber"),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "summary": "Unsubscribe (the consent record is kept; `subscribers forget` erases)",
                "parameters": [SUBSCRIBER_ID],
                "responses": {
                    "200": {"description": "unsubscribed (removed: false if it already was)"},
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/suppressions/{email}": {
            "delete": {
                "summary": "Mail an address again (undo a suppression); a consent event",
                "parameters": [
                    {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "no longer suppressed; `was`: the reason it was"},
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            },
        },
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "m5syndicate admin API", "version": __version__},
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
