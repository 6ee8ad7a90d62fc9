"""Salesforce-shaped errors.

REST errors are a JSON array ``[{"message", "errorCode", "fields"?}]``. Salesforce adds
``fields`` to record (DML) errors and leaves it out of session, limit and query errors;
the sandbox does the same so a client that depends on ``fields`` always being there
fails here as it would against a real org. Per-record results of sObject Collections
use ``statusCode`` instead of ``errorCode`` (:meth:`ApiError.as_record_error`).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the REST API answers with; raised anywhere under a request handler."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        fields: list[str] | None = None,
        *,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields
        self._body = body

    def body(self) -> Any:
        if self._body is not None:
            return self._body
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return [error]

    def as_record_error(self) -> dict[str, Any]:
        return {
            "statusCode": self.error_code,
            "message": self.message,
            "fields": self.fields or [],
        }


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def entity_is_deleted() -> ApiError:
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])


def precondition_failed() -> ApiError:
    """A conditional request (``If-Unmodified-Since``) whose record changed since that date."""
    return ApiError(
        412,
        "PRECONDITION_FAILED",
        "The requested resource has been modified since the If-Unmodified-Since date",
    )


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def json_parser_error(detail: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", detail)


# What an injected fault looks like for each status, as Salesforce words it.
FAULT_BODIES: dict[int, tuple[str, str]] = {
    400: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact "
        "support: 1873493417-52733 (-1194052345)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
}


def fault_error(status: int) -> ApiError:
    code, message = FAULT_BODIES.get(status, ("UNKNOWN_EXCEPTION", f"HTTP {status}"))
    return ApiError(status, code, message)
