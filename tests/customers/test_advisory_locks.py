"""The advisory locks that keep one writer per connection and one creator per tenant
(``customers.db.lock_for_transaction``): held until the transaction ends, and a wait
longer than ``LOCK_WAIT_S`` fails instead of hanging."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from customers import db

SPACE, KEY = db.LOCK_CONNECTION, 424242


def test_a_wait_for_a_held_lock_gives_up_after_the_lock_wait(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_S", 1)
    sessions = db.session_factory(postgres_engine)
    with sessions() as holder, sessions() as waiter:
        db.lock_for_transaction(holder, SPACE, KEY)
        # The timeout is the transaction's own.
        assert holder.scalar(text("SELECT current_setting('lock_timeout')")) == "1s"
        waiter.execute(text("SET statement_timeout = '20s'"))  # the test's own guard
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            db.lock_for_transaction(waiter, SPACE, KEY)
        assert time.monotonic() - started < 10
        waiter.rollback()
        holder.commit()  # ends the transaction, and with it the lock and the timeout
        assert holder.scalar(text("SELECT current_setting('lock_timeout')")) == "0"
        db.lock_for_transaction(waiter, SPACE, KEY)  # free now: taken at once
        waiter.commit()


def test_taking_the_lock_again_in_its_transaction_does_not_wait(postgres_engine: Engine) -> None:
    sessions = db.session_factory(postgres_engine)
    with sessions() as session:
        db.lock_for_transaction(session, SPACE, KEY)
        db.lock_for_transaction(session, SPACE, KEY)
        held = session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"),
            {"key": KEY},
        )
        assert held == 1
        session.commit()
