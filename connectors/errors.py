"""The one error taxonomy every connector maps its SDK's errors to.

::

    ConnectorError                 carries provider, CRM code, message, HTTP status
    ├── RateLimited                the CRM said "slow down"; ``wait_s`` is how long it asked for
    │   └── BudgetExhausted        the daily budget is (nearly) spent: stop cleanly, resume later
    ├── Transient                  network, timeout, 5xx, 423 locked: retry with backoff
    ├── AuthError                  credentials rejected even after one refresh: fail the connection
    ├── Changed                    a conditional write found the record changed since our read
    └── Permanent                  the request itself is wrong: never retry, record a failure
        ├── NotFound               the record does not exist (or no longer)
        └── Duplicate              a unique value is already taken

Callers map these to behaviour in one place (actors: permanent -> failure row at once,
rate-limited -> retry after ``wait_s``, transient -> backoff, exhausted -> failure row).
"""

from __future__ import annotations

from typing import Any


class ConnectorError(Exception):
    """Root of every error a connector raises."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.status = status
        self.details = details

    @property
    def kind(self) -> str:
        """The taxonomy name stored in failure rows: rate_limited, transient, ..."""
        return next((_KIND[cls] for cls in type(self).__mro__ if cls in _KIND), "permanent")

    def __str__(self) -> str:
        parts = [self.provider]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        return f"{' '.join(parts)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "provider": self.provider,
            "code": self.code,
            "status": self.status,
            "message": self.message,
        }


class RateLimited(ConnectorError):
    retryable = True

    def __init__(
        self, message: str, *, wait_s: float, policy: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.wait_s = wait_s
        self.policy = policy


class BudgetExhausted(RateLimited):
    """The daily allowance is spent or nearly so: a scan ends at its saved cursor."""


class Transient(ConnectorError):
    retryable = True


class AuthError(ConnectorError):
    pass


class Permanent(ConnectorError):
    pass


class NotFound(Permanent):
    pass


class Duplicate(Permanent):
    pass


class Changed(ConnectorError):
    """A conditional write the CRM refused because the record changed after the time we
    read it (Salesforce: 412 to ``If-Unmodified-Since``): read it again, merge, write again.
    """


_KIND: dict[type[ConnectorError], str] = {
    ConnectorError: "permanent",
    RateLimited: "rate_limited",
    BudgetExhausted: "budget_exhausted",
    Transient: "transient",
    AuthError: "auth",
    Permanent: "permanent",
    NotFound: "not_found",
    Duplicate: "duplicate",
    Changed: "changed",
}
