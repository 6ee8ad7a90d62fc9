"""A bug's error says where it was raised; an expected error reads as it always did."""

from __future__ import annotations

from typing import Any

from connectors.errors import Transient
from customers.errors import InvalidInput
from worker.failures import classify, describe


def _bug() -> None:
    settings: dict[str, Any] | None = None
    settings.get("overlap_s")  # type: ignore[union-attr]


def test_a_bug_names_the_project_file_line_and_function() -> None:
    try:
        _bug()
    except AttributeError as error:
        text = describe(error)
        kind, code, message = classify(error)
    assert text.startswith("AttributeError: 'NoneType' object has no attribute 'get' (at ")
    assert "tests/worker/jobs/test_error_places.py:" in text and text.endswith(" in _bug)")
    assert "/" not in text.split("(at ")[1].split("tests/")[0]  # no machine path before it
    assert (kind, code) == ("internal", "AttributeError") and message.endswith(" in _bug)")


def test_in_a_library_the_last_project_frame_is_named() -> None:
    try:
        int("x")  # raised in C: the project frame is the caller's
    except ValueError as error:
        assert "test_error_places.py" in describe(error)


def test_expected_errors_read_as_before() -> None:
    crm = Transient("HTTP 503", provider="hubspot", status=503)
    directory = InvalidInput.single("email", "not an address")
    assert describe(crm) == f"Transient: {crm}"
    assert describe(directory) == "InvalidInput: email: not an address"
    assert classify(directory)[2] == "email: not an address"
