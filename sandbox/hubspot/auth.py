"""Credentials one sandbox portal accepts and the OAuth token endpoint's rules.

A private-app access token never expires. An OAuth app (client id + secret) holds a refresh
token; ``POST /oauth/v1/token`` trades it for access tokens that expire after
``oauth_token_ttl_s``. Unknown and expired tokens get HubSpot's 401 bodies
(INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION) so a client's refresh path really runs.
Revoking (an uninstalled app, a rotated private-app token) refuses every token issued so far,
the refresh token included, so a client's refresh fails too.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from sandbox.hubspot.errors import HubSpotError

DEFAULT_TOKEN_TTL_S = 1800.0  # HubSpot's OAuth access tokens live 30 minutes
# The ids of the apps behind the two kinds of token; property history names them as the
# source of API writes. The OAuth app is the one whose webhook subscription is the default.
PRIVATE_APP_ID = 2_000_002
OAUTH_APP_ID = 1_000_001


@dataclass(frozen=True)
class Credentials:
    private_app_token: str
    client_id: str
    client_secret: str
    refresh_token: str


class TokenAuthority:
    def __init__(self, *, portal_id: int, token_ttl_s: float = DEFAULT_TOKEN_TTL_S) -> None:
        self.token_ttl_s = token_ttl_s
        self.credentials = self._new_credentials()
        self._lock = threading.Lock()
        self._access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)

    @staticmethod
    def _new_credentials() -> Credentials:
        return Credentials(
            private_app_token=f"pat-na1-{secrets.token_hex(16)}",
            client_id=f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}",
            client_secret=f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            refresh_token=f"na1-{secrets.token_hex(2)}-{secrets.token_hex(16)}",
        )

    def check(self, authorization: str | None) -> bool:
        """Whether the request is authorized; True when it used an OAuth token. Raises 401."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HubSpotError(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                category="INVALID_AUTHENTICATION",
            )
        token = authorization[7:].strip()
        if token == self.credentials.private_app_token:
            return False
        with self._lock:
            expiry = self._access_tokens.get(token)
        if expiry is None:
            raise HubSpotError(
                401,
                "The OAuth token used to make this call is not valid.",
                category="INVALID_AUTHENTICATION",
            )
        now = time.time()
        if now >= expiry:
            raise HubSpotError(
                401,
                f"The OAuth token used to make this call expired {int(now - expiry)} second(s) ago.",
                category="EXPIRED_AUTHENTICATION",
            )
        return True

    @staticmethod
    def app_id(*, oauth: bool) -> int:
        """The app a request authorized by :meth:`check` was made by."""
        return OAUTH_APP_ID if oauth else PRIVATE_APP_ID

    def exchange(self, form: dict[str, str]) -> dict[str, object]:
        """``POST /oauth/v1/token`` with grant_type=refresh_token."""
        creds = self.credentials
        if form.get("grant_type") != "refresh_token":
            raise _oauth_error(
                "BAD_GRANT_TYPE", "grant_type must be refresh_token or authorization_code"
            )
        if form.get("client_id") != creds.client_id:
            raise _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != creds.client_secret:
            raise _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if form.get("refresh_token") != creds.refresh_token:
            raise _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        token = f"CO{secrets.token_urlsafe(48)}"
        with self._lock:
            self._access_tokens[token] = time.time() + self.token_ttl_s
        return {
            "token_type": "bearer",
            "refresh_token": creds.refresh_token,
            "access_token": token,
            "expires_in": int(self.token_ttl_s),
        }

    def expire_all(self) -> None:
        """Make every OAuth access token issued so far expired (the private-app token stays)."""
        with self._lock:
            past = time.time() - 1
            for token in self._access_tokens:
                self._access_tokens[token] = past

    def revoke_all(self) -> None:
        """What uninstalling the app and rotating the private-app token do: every token
        issued so far is refused (401 INVALID_AUTHENTICATION), and so is the refresh token
        (400 BAD_REFRESH_TOKEN). New tokens replace them, as installing the app again gives."""
        fresh = self._new_credentials()
        with self._lock:
            # The app itself (client id and secret) stays; its grant to this portal does not.
            self.credentials = Credentials(
                private_app_token=fresh.private_app_token,
                client_id=self.credentials.client_id,
                client_secret=self.credentials.client_secret,
                refresh_token=fresh.refresh_token,
            )
            self._access_tokens.clear()


def _oauth_error(status: str, message: str) -> HubSpotError:
    # The OAuth endpoint puts its error code in ``status`` rather than ``category``.
    error = HubSpotError(400, message, category=status)
    error.extra = {"status": status}
    return error
