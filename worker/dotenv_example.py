"""Writes ``.env.example``: every setting of :class:`worker.settings.Settings`, documented.

The example is generated from the settings' fields, so it lists exactly the settings there
are (a test compares them). After adding or changing a setting, run::

    uv run python -m worker.dotenv_example

It only renders text; it never reads the environment or a ``.env`` file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from worker.settings import Settings

EXAMPLE_PATH = Path(__file__).resolve().parents[1] / ".env.example"


HEADER = """\
# crmsync settings. Copy this file to .env and fill in POSTGRES_PASSWORD and
# CRMSYNC_ENCRYPTION_KEY; uncomment any other line to change that setting.
#
# `docker compose` passes .env to every crmsync container and reads it for the defaults
# in docker-compose.yml (the database, the broker, the webhooks' address), so a value set
# here always wins. crmsync run from this folder reads .env too.
#
# This file is generated from worker/settings.py: uv run python -m worker.dotenv_example

# ---- PostgreSQL (docker compose) ---------------------------------------------------------
# The database service's user, password (required) and database. CRMSYNC_DATABASE_URL is
# built from them unless set below, so keep the password URL-safe (letters, digits, -._~).
# POSTGRES_USER=crmsync
POSTGRES_PASSWORD=
# POSTGRES_DB=crmsync

# ---- crmsync -----------------------------------------------------------------------------
"""

# docker-compose.yml refuses to start without these, so the example sets them (empty),
# with a hint on how to make a value.
REQUIRED_BY_COMPOSE = {
    "encryption_key": "Make one with: python -c "
    '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
}


def render() -> str:
    """The whole text of ``.env.example``."""
    blocks = [_entry(name, field) for name, field in Settings.model_fields.items()]
    return HEADER + "\n" + "\n\n".join(blocks) + "\n"


def _entry(name: str, field: FieldInfo) -> str:
    lines = textwrap.wrap(field.description or "", width=88)
    variable = f"CRMSYNC_{name.upper()}"
    if name in REQUIRED_BY_COMPOSE:
        lines.append(REQUIRED_BY_COMPOSE[name])
        assignment = f"{variable}="
    else:
        assignment = f"# {variable}={_example_value(field.default)}"
    return "\n".join([*(f"# {line}" for line in lines), assignment])


def _example_value(default: Any) -> str:
    """The default as it would be written in the file ("" for none)."""
    if default is None or isinstance(default, SecretStr):
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


if __name__ == "__main__":
    EXAMPLE_PATH.write_text(render())
    print(f"wrote {EXAMPLE_PATH.name}")
