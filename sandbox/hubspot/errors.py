"""HubSpot-shaped errors: one exception type the routes raise, one function that renders it.

HubSpot answers every failure with ``{status: "error", message, correlationId, category,
errors?: [{message, code, context}]}`` (its published ``Error`` schema); 429s add
``errorType`` and ``policyName``. Routes raise :class:`HubSpotError` and never build error
bodies by hand, so every error the sandbox sends has the same shape as the real one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

# Property-level problems are reported the way HubSpot's CRM object API does: the top
# message embeds the per-property results as a JSON list, and ``errors`` repeats them in the
# structured form the published schema describes.
PROPERTY_VALUES_PREFIX = "Property values were not valid: "


class HubSpotError(Exception):
    """An HTTP error response with HubSpot's body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.context is not None:
            body["context"] = self.context
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def validation_error(message: str, errors: list[dict[str, Any]] | None = None) -> HubSpotError:
    return HubSpotError(400, message, category="VALIDATION_ERROR", errors=errors)


def invalid_json() -> HubSpotError:
    return HubSpotError(
        400,
        "Invalid input JSON on line 1: the request body could not be parsed.",
        category="VALIDATION_ERROR",
    )


def already_exists(what: str, name: str) -> HubSpotError:
    """409 for a definition (a property, a property group) whose name is taken."""
    return HubSpotError(
        409,
        f"{what} named '{name}' already exists.",
        category="OBJECT_ALREADY_EXISTS",
        context={"name": [name]},
    )


def not_found() -> HubSpotError:
    return HubSpotError(404, "resource not found", category="OBJECT_NOT_FOUND")


def property_errors(problems: list[dict[str, str]]) -> HubSpotError:
    """400 for invalid property values. ``problems`` items carry ``name``, ``error`` (the
    HubSpot code, e.g. PROPERTY_DOESNT_EXIST) and ``message``."""
    detailed = [
        {
            "isValid": False,
            "message": problem["message"],
            "error": problem["error"],
            "name": problem["name"],
            "localizedErrorMessage": problem["message"],
        }
        for problem in problems
    ]
    errors = [
        {
            "message": problem["message"],
            "code": problem["error"],
            "context": {"propertyName": [problem["name"]]},
        }
        for problem in problems
    ]
    return validation_error(
        PROPERTY_VALUES_PREFIX + json.dumps(detailed, separators=(",", ":")), errors
    )


def batch_error(category: str, message: str, context: dict[str, list[str]]) -> dict[str, Any]:
    """One entry of a batch response's ``errors`` (the ``StandardError`` schema)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
