"""The record envelope is checked before its data."""

from __future__ import annotations

from field_core.envelope import canonical_uuid, parse_envelope

UUID = "0b7c3f9e-6f5e-4c8e-9f4a-2d1b3c4d5e6f"


def test_a_good_envelope_parses() -> None:
    envelope, problems = parse_envelope(
        {"type": "find", "uuid": UUID, "base_rev": 0, "rev": 1, "data": {}}
    )
    assert problems == [] and envelope is not None and envelope.uuid == UUID


def test_every_problem_of_a_bad_envelope_is_named() -> None:
    envelope, problems = parse_envelope(
        {"type": "sherd", "uuid": UUID.upper(), "base_rev": -1, "rev": True, "data": [], "x": 1}
    )
    assert envelope is None
    assert {p["field"] for p in problems} == {"type", "uuid", "base_rev", "rev", "data", "x"}


def test_missing_keys_are_named() -> None:
    _, problems = parse_envelope({"type": "find"})
    assert {p["field"] for p in problems} == {"uuid", "base_rev", "rev", "data"}


def test_only_canonical_uuids_are_accepted() -> None:
    assert canonical_uuid(UUID) == UUID
    assert canonical_uuid("{" + UUID + "}") is None
    assert canonical_uuid(UUID.replace("-", "")) is None
    assert canonical_uuid(42) is None


def test_an_integral_float_revision_counts_as_an_integer_as_in_json_schema() -> None:
    envelope, problems = parse_envelope(
        {"type": "find", "uuid": UUID, "base_rev": 0.0, "rev": 2.0, "data": {}}
    )
    assert problems == [] and envelope is not None
    assert (envelope.base_rev, envelope.rev) == (0, 2)
    assert isinstance(envelope.rev, int)
