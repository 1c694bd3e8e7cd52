"""The storage quota rule: stored and declared bytes against a person's and each expedition's
limit, and the cap on unfinished uploads."""

from __future__ import annotations

from field_server.domain.quotas import GIB, StorageLimits, StorageUse, refusal_of_new_upload

LIMITS = StorageLimits(user_bytes=20 * GIB, expedition_bytes=100 * GIB, open_uploads=20)


def test_an_upload_within_every_limit_is_accepted() -> None:
    use = StorageUse(stored_bytes=GIB, reserved_bytes=GIB)
    assert refusal_of_new_upload(LIMITS, GIB, 2, use, {"ULY-2026": use}) is None


def test_an_upload_that_exactly_fills_the_quota_is_accepted_one_byte_more_is_not() -> None:
    use = StorageUse(stored_bytes=16 * GIB, reserved_bytes=3 * GIB)
    assert refusal_of_new_upload(LIMITS, GIB, 0, use, {}) is None
    refusal = refusal_of_new_upload(LIMITS, GIB + 1, 0, use, {})
    assert refusal is not None
    assert (refusal.limit_name, refusal.limit, refusal.use) == ("user", 20 * GIB, 19 * GIB)


def test_declared_lengths_of_unfinished_uploads_count_before_any_byte_arrives() -> None:
    # four uploads declaring 4 GiB each, none of their bytes sent yet
    use = StorageUse(stored_bytes=0, reserved_bytes=16 * GIB)
    refusal = refusal_of_new_upload(LIMITS, 4 * GIB + 1, 4, use, {})
    assert refusal is not None and refusal.limit_name == "user"
    assert "past the quota of 21474836480 bytes" in refusal.sentence()


def test_the_cap_on_unfinished_uploads_comes_first_whatever_the_bytes() -> None:
    refusal = refusal_of_new_upload(LIMITS, 1, 20, StorageUse(), {})
    assert refusal is not None and refusal.limit_name == "open_uploads"
    assert "terminate" in refusal.sentence()
    assert refusal_of_new_upload(LIMITS, 1, 19, StorageUse(), {}) is None


def test_a_full_expedition_refuses_its_member_with_room_of_their_own_naming_it() -> None:
    full = StorageUse(stored_bytes=99 * GIB, reserved_bytes=GIB)
    roomy = StorageUse(stored_bytes=GIB)
    refusal = refusal_of_new_upload(
        LIMITS, 1, 0, StorageUse(), {"ZHZ-2026": full, "ULY-2026": roomy}
    )
    assert refusal is not None
    assert (refusal.limit_name, refusal.expedition) == ("expedition", "ZHZ-2026")
    assert "expedition ZHZ-2026's photos" in refusal.sentence()


def test_of_two_full_expeditions_the_first_by_code_is_named() -> None:
    full = StorageUse(stored_bytes=100 * GIB)
    refusal = refusal_of_new_upload(LIMITS, 1, 0, StorageUse(), {"ZHZ": full, "ULY": full})
    assert refusal is not None and refusal.expedition == "ULY"


def test_a_quota_of_zero_refuses_every_upload() -> None:
    closed = StorageLimits(user_bytes=0, expedition_bytes=100 * GIB, open_uploads=20)
    assert refusal_of_new_upload(closed, 1, 0, StorageUse(), {}) is not None
    no_uploads = StorageLimits(user_bytes=GIB, expedition_bytes=GIB, open_uploads=0)
    refusal = refusal_of_new_upload(no_uploads, 1, 0, StorageUse(), {})
    assert refusal is not None and refusal.limit_name == "open_uploads"
