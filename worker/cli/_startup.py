"""Read the settings before any other part of the command (some build on them as they are
imported): a wrong setting is one line naming it, never a traceback, and its value is not
shown (it may be a secret)."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from worker.settings import get_settings


def check_settings() -> None:
    try:
        get_settings()
    except ValidationError as error:
        for problem in error.errors(include_url=False, include_input=False):
            where = "_".join(str(part) for part in problem["loc"]).upper()
            name = f"CRMSYNC_{where}" if where else "settings"
            print(f"error: {name}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


check_settings()
