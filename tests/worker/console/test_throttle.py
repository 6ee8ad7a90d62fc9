"""The sign-in throttle's memory stays bounded however many emails are tried."""

from __future__ import annotations

from worker.console.auth import MAX_KEYS, LoginThrottle


def test_asking_whether_keys_are_blocked_remembers_nothing() -> None:
    # A client past its limit is answered 429 without a failure being counted, so nothing
    # pruned the table; each new email it tried used to add a key for good.
    throttle = LoginThrottle(max_failures=2)
    throttle.failed("client:x", "email:a@x.test")
    throttle.failed("client:x", "email:a@x.test")
    for number in range(MAX_KEYS + 100):
        assert throttle.blocked(f"email:{number}@x.test", "client:x")
    assert len(throttle) == 2
    assert not throttle.blocked("email:new@x.test", "client:y")
    assert len(throttle) == 2


def test_failures_of_many_emails_are_pruned_once_quiet() -> None:
    throttle = LoginThrottle(max_failures=5, window_s=0.0)  # every failure is at once quiet
    for number in range(MAX_KEYS + 100):
        throttle.failed(f"email:{number}@x.test")
    assert len(throttle) <= MAX_KEYS + 1
