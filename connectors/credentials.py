"""CRM credentials as one value, and their encryption at rest.

``Credentials`` holds an access token (a HubSpot private-app token or an OAuth access token,
a Salesforce session id) and, for OAuth, what it takes to refresh it. It is encrypted with
Fernet for the ``connections.credentials`` column; the key comes from the
``CRMSYNC_ENCRYPTION_KEY`` setting or, when that is unset, from a key file made once in the
data folder (readable by its owner only).

Secrets never appear in ``repr``, logs or error messages. This module knows no database:
callers store and load the bytes.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connectors.errors import Permanent

log = logging.getLogger(__name__)

KEY_FILE_NAME = "crmsync.key"
KEY_FILE_MODE = 0o600
KEY_SETTING = "CRMSYNC_ENCRYPTION_KEY"
FORMAT_VERSION = 1
_SECRET_FIELDS = ("access_token", "refresh_token", "client_secret")


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """How a connector authenticates. ``refreshable`` when OAuth refresh is possible."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_url: str | None = None  # OAuth token endpoint, when not the CRM's default
    expires_at: datetime | None = None
    instance_url: str | None = None  # Salesforce: where the org's API lives

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def refreshed(
        self,
        *,
        access_token: str,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
        instance_url: str | None = None,
    ) -> Credentials:
        """A copy after a token refresh (CRMs may or may not rotate the refresh token)."""
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token or self.refresh_token,
            expires_at=expires_at,
            instance_url=instance_url or self.instance_url,
        )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name in _SECRET_FIELDS and getattr(self, f.name) else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Credentials({shown})"

    __str__ = __repr__

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return {"v": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        values: dict[str, Any] = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        if values.get("expires_at"):
            expires = datetime.fromisoformat(str(values["expires_at"]))
            if expires.tzinfo is None:
                raise ValueError("credentials expiry must be timezone-aware")
            values["expires_at"] = expires
        return cls(**values)


class CredentialCipher:
    """Encrypts credentials for storage; several keys decrypt (the first one encrypts), so a
    key can be rotated by prepending the new one."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def __repr__(self) -> str:
        return "CredentialCipher(***)"

    def encrypt(self, credentials: Credentials) -> bytes:
        plain = json.dumps(credentials.to_json(), separators=(",", ":")).encode()
        return self._fernet.encrypt(plain)

    def decrypt(self, blob: bytes) -> Credentials:
        try:
            plain = self._fernet.decrypt(blob)
        except InvalidToken:
            raise ValueError(
                f"stored credentials cannot be decrypted with the configured key ({KEY_SETTING})"
            ) from None
        return Credentials.from_json(json.loads(plain))


def load_cipher(
    *, encryption_key: str | None, data_dir: Path, make_key_file: bool = True
) -> CredentialCipher:
    """The cipher from the setting (comma-separated keys, newest first), else from the key
    file in ``data_dir``, made on first use when ``make_key_file`` (one process on one host:
    the embedded mode). Otherwise a missing key is a :class:`Permanent` error that says
    what to set: a key file made on one host cannot decrypt what another host stored."""
    if encryption_key:
        return CredentialCipher(
            [k.strip().encode() for k in encryption_key.split(",") if k.strip()]
        )
    path = data_dir / KEY_FILE_NAME
    if not make_key_file and not path.exists():
        raise Permanent(
            f"{KEY_SETTING} is not set. With PostgreSQL or a broker configured, crmsync runs "
            "as several processes, possibly on several hosts, and a key file made by one "
            f"cannot decrypt what another stored: set {KEY_SETTING} to the same key "
            'everywhere (make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())")',
            provider="crmsync",
            code="ENCRYPTION_KEY_MISSING",
        )
    return CredentialCipher([_key_file(data_dir)])


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE_NAME
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Written whole under a name of its own, then linked into place: the link fails if
    # another process got there first (two processes must not make two keys), and the key
    # file is never seen half-written (a reader racing a plain create read it empty).
    draft = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{os.urandom(4).hex()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        draft.unlink()
    log.warning(
        "%s is not set: generated an encryption key for CRM credentials in %s; "
        "back it up, or set %s, or stored credentials cannot be read",
        KEY_SETTING,
        path,
        KEY_SETTING,
    )
    return key


def encrypt_credentials(credentials: Credentials, cipher: CredentialCipher) -> bytes:
    """Bytes for the ``connections.credentials`` column."""
    return cipher.encrypt(credentials)


def decrypt_credentials(blob: bytes, cipher: CredentialCipher) -> Credentials:
    return cipher.decrypt(blob)
