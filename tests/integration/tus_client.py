"""A small tus 1.0.0 client over Flask's test client, for the API tests of photo uploads."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit

from werkzeug.test import TestResponse

from tests.integration.conftest import World
from tests.media_factory import photo_record, sha256, survey_record

UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def metadata(digest: str, filename: str | None = "IMG_0042.JPG") -> str:
    pairs = [f"sha256 {b64(digest)}"]
    if filename is not None:
        pairs.append(f"filename {b64(filename)}")
    return ",".join(pairs)


def create(
    world: World,
    who: str | None,
    data: bytes,
    *,
    digest: str | None = None,
    length: int | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    return world.client.post(
        UPLOADS,
        headers={
            **world.headers(who),
            **TUS,
            "Upload-Length": str(len(data) if length is None else length),
            "Upload-Metadata": metadata(digest or sha256(data)),
            **(headers or {}),
        },
    )


def created(world: World, who: str, data: bytes, **kwargs: Any) -> str:
    """The path of a new upload of ``data`` by ``who``."""
    response = create(world, who, data, **kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)
    return urlsplit(response.headers["Location"]).path


def patch(
    world: World,
    who: str | None,
    path: str,
    offset: int,
    chunk: bytes,
    *,
    checksum: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    extra = {"Upload-Checksum": checksum} if checksum else {}
    return world.client.patch(
        path,
        data=chunk,
        headers={
            **world.headers(who),
            **TUS,
            "Content-Type": OCTETS,
            "Upload-Offset": str(offset),
            **extra,
            **(headers or {}),
        },
    )


def head(world: World, who: str | None, path: str) -> TestResponse:
    return world.client.head(path, headers={**world.headers(who), **TUS})


def offset_of(world: World, who: str, path: str) -> int:
    response = head(world, who, path)
    assert response.status_code == 200, response.status
    return int(response.headers["Upload-Offset"])


def checksum_header(algorithm: str, chunk: bytes) -> str:
    digest = hashlib.new(algorithm, chunk).digest()
    return f"{algorithm} {base64.b64encode(digest).decode('ascii')}"


def upload(world: World, who: str, data: bytes, chunk_size: int = 1 << 20) -> str:
    """Send ``data`` whole, chunk by chunk; returns the upload's path."""
    path = created(world, who, data)
    for start in range(0, len(data), chunk_size):
        response = patch(world, who, path, start, data[start : start + chunk_size])
        assert response.status_code == 204, response.get_data(as_text=True)
    return path


def stored_photo(world: World, who: str, data: bytes, expedition: str = "ULY-2026") -> str:
    """A photo recorded by ``who`` in ``expedition`` (a survey and a photo record pushed) and
    its file uploaded; returns its digest."""
    survey = survey_record(expedition)
    results = world.pushed(who, [survey, photo_record(survey["uuid"], data)])["results"]
    assert [r["status"] for r in results] == ["created", "created"], results
    upload(world, who, data)
    return sha256(data)
