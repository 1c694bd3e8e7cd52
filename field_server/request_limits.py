"""How large a request body each route may send, judged from the request line alone.

waitress reads a whole body before the application sees it, so the server's one limit had to
let the largest body through (a tus chunk of up to 4 GiB) for every route, and an anonymous
300 MB sign-in was spooled to disk before its 413. The limit is now chosen per request from
its method and path, before a byte of the body is read: only a tus PATCH (the photo upload)
and a phone's submission may be large; every other route takes the JSON limit. A body sent
without a length (chunked) is cut at the same limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# with or without the public address's path prefix in front
_UPLOAD = re.compile(r"(?:^|/)api/v1/uploads/[^/?]+$")
_SUBMISSION = re.compile(r"(?:^|/)odk/key/[^/?]+/[^/?]+/submission$")


@dataclass(frozen=True)
class BodyLimits:
    json_bytes: int
    upload_bytes: int
    submission_bytes: int

    def for_request(self, method: str, path: str, method_override: str | None = None) -> int:
        """The largest body ``method`` ``path`` may send, in bytes."""
        path = path.split("?", 1)[0]
        method = method.upper()
        if method == "POST" and method_override:
            method = method_override.strip().upper()  # tus clients that cannot send PATCH
        if method == "PATCH" and _UPLOAD.search(path):
            return self.upload_bytes
        if method == "POST" and _SUBMISSION.search(path):
            return self.submission_bytes  # what HEAD tells a phone it may send
        return self.json_bytes

    @property
    def largest(self) -> int:
        return max(self.json_bytes, self.upload_bytes, self.submission_bytes)
