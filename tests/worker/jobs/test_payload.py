"""The failure payload: one shape, built and read by ``JobCall`` alone."""

from __future__ import annotations

import json

import pytest

from worker.jobs.payload import JobCall


def test_a_call_round_trips_through_its_payload_as_json() -> None:
    call = JobCall.of("sync_records", 3, "company", ["101"], force=True)
    payload = call.payload()
    assert payload == {
        "actor": "sync_records",
        "args": [3, "company", ["101"]],
        "kwargs": {"force": True},
    }
    assert JobCall.from_payload(json.loads(json.dumps(payload))) == call


def test_args_and_kwargs_may_be_left_out_of_a_payload() -> None:
    assert JobCall.from_payload({"actor": "prune"}) == JobCall.of("prune")


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (None, "not an object"),
        ({}, "names no job"),
        ({"actor": 7}, "names no job"),
        ({"actor": "sync_records", "args": "3"}, "args are not a list"),
        ({"actor": "sync_records", "args": [], "kwargs": []}, "kwargs are not an object"),
    ],
)
def test_a_payload_that_describes_no_call_is_refused_saying_why(payload: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        JobCall.from_payload(payload)  # type: ignore[arg-type]
