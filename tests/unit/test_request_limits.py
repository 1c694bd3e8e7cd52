"""Each route's body limit, from its method and path alone."""

from __future__ import annotations

import pytest

from field_server.request_limits import BodyLimits

LIMITS = BodyLimits(json_bytes=16, upload_bytes=4096, submission_bytes=50)


@pytest.mark.parametrize(
    ("method", "path", "override", "limit"),
    [
        ("PATCH", "/api/v1/uploads/6f1c2a", None, 4096),
        ("PATCH", "/qazba/api/v1/uploads/6f1c2a", None, 4096),  # under a public prefix
        ("POST", "/api/v1/uploads/6f1c2a", "PATCH", 4096),  # tus by method override
        ("POST", "/api/v1/uploads", None, 16),  # the creation carries no photo
        ("PATCH", "/api/v1/uploads/6f1c2a/extra", None, 16),
        ("POST", "/odk/key/k3y/ULY-2026/submission", None, 50),
        ("post", "/qazba/odk/key/k3y/ULY-2026/submission?x=1", None, 50),
        ("POST", "/odk/key/k3y/ULY-2026/formList", None, 16),
        ("POST", "/api/v1/auth/token", None, 16),
        ("POST", "/login", None, 16),
        ("PUT", "/api/v1/uploads/6f1c2a", None, 16),
    ],
)
def test_only_photo_chunks_and_phone_submissions_may_be_large(
    method: str, path: str, override: str | None, limit: int
) -> None:
    assert LIMITS.for_request(method, path, override) == limit
    assert LIMITS.largest == 4096
