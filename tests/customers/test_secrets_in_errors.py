"""A database error never carries the statement's parameters: they hold customer data,
webhook tokens and payloads, and an error is logged (with its message) where it is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

SECRET = "whsec-token-that-must-not-be-logged"


def test_a_failed_statement_names_no_parameter(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        connection.execute(
            text("INSERT INTO no_such_table (token) VALUES (:token)"), {"token": SECRET}
        )
    assert SECRET not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
