"""The tus 1.0.0 header grammar (core, creation, checksum, termination): what the server
announces and how it reads what a client sends. Pure functions over header values."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from field_server.services.uploads import ChunkChecksum

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "checksum", "termination")
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096
MAX_FILENAME_CHARS = 255
BIGINT_MAX = 2**63 - 1

# name -> hashlib constructor; names are lowercase ASCII as the checksum extension requires
CHECKSUM_ALGORITHMS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}

_DIGITS = re.compile(r"[0-9]{1,19}")
_METADATA_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space and comma
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class HeaderError(ValueError):
    """A tus header the server cannot take; ``header`` names it."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(f"{header}: {message}")
        self.header = header
        self.message = message


@dataclass(frozen=True)
class PhotoMetadata:
    """What Upload-Metadata says about a photo: its SHA-256 and, maybe, its file name."""

    sha256: str
    filename: str | None
    raw: str  # the header as sent: HEAD answers with it


def non_negative_integer(header: str, value: str | None) -> int:
    """Upload-Offset and Upload-Length: ASCII digits only, no sign, within a BIGINT."""
    if value is None:
        raise HeaderError(header, "missing")
    text = value.strip()
    if not _DIGITS.fullmatch(text) or int(text) > BIGINT_MAX:
        raise HeaderError(header, "must be a non-negative integer")
    return int(text)


def parse_metadata(value: str) -> dict[str, bytes]:
    """Upload-Metadata: comma-separated ``key base64value`` pairs; the value may be left out."""
    if len(value) > MAX_METADATA_CHARS:
        raise HeaderError("Upload-Metadata", f"longer than {MAX_METADATA_CHARS} characters")
    pairs: dict[str, bytes] = {}
    for item in value.split(","):
        parts = item.strip().split(" ")
        if len(parts) > 2 or not parts[0]:
            raise HeaderError("Upload-Metadata", "each pair is a key, a space and a base64 value")
        key = parts[0]
        encoded = parts[1] if len(parts) == 2 else ""
        if not _METADATA_KEY.fullmatch(key):
            raise HeaderError("Upload-Metadata", f"key {key[:40]!r} is not printable ASCII")
        if key in pairs:
            raise HeaderError("Upload-Metadata", f"key {key!r} appears twice")
        if not _BASE64.fullmatch(encoded) or len(encoded) % 4:
            raise HeaderError("Upload-Metadata", f"the value of {key!r} is not base64")
        try:
            pairs[key] = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise HeaderError("Upload-Metadata", f"the value of {key!r} is not base64") from None
    return pairs


def photo_metadata(value: str | None) -> PhotoMetadata:
    """The Upload-Metadata of a photo upload: ``sha256`` (64 lowercase hex digits) is required,
    ``filename`` (UTF-8) optional, other keys are kept in the header and otherwise ignored."""
    if value is None or not value.strip():
        raise HeaderError("Upload-Metadata", "missing: send at least 'sha256 <base64 of hex>'")
    pairs = parse_metadata(value)
    if "sha256" not in pairs:
        raise HeaderError("Upload-Metadata", "has no sha256 key")
    try:
        sha256 = pairs["sha256"].decode("ascii")
    except UnicodeDecodeError:
        sha256 = ""
    if not _SHA256.fullmatch(sha256):
        raise HeaderError("Upload-Metadata", "sha256 must be 64 lowercase hex digits")
    filename: str | None = None
    if pairs.get("filename"):
        try:
            filename = pairs["filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise HeaderError("Upload-Metadata", "filename is not UTF-8") from None
        if len(filename) > MAX_FILENAME_CHARS or any(ord(c) < 32 or c == "\x7f" for c in filename):
            raise HeaderError(
                "Upload-Metadata",
                f"filename must be at most {MAX_FILENAME_CHARS} characters, no control characters",
            )
    return PhotoMetadata(sha256, filename, value.strip())


def parse_checksum(value: str | None) -> ChunkChecksum | None:
    """Upload-Checksum: ``<algorithm> <base64 digest>``; None when the client sent none."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise HeaderError("Upload-Checksum", "must be an algorithm, a space and a base64 digest")
    algorithm, encoded = parts
    if algorithm not in CHECKSUM_ALGORITHMS:
        supported = ",".join(CHECKSUM_ALGORITHMS)
        raise HeaderError("Upload-Checksum", f"unsupported algorithm (supported: {supported})")
    try:
        expected = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise HeaderError("Upload-Checksum", "the digest is not base64") from None
    if len(expected) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise HeaderError("Upload-Checksum", f"not the length of a {algorithm} digest")
    return ChunkChecksum(algorithm, expected, CHECKSUM_ALGORITHMS[algorithm])


def speaks_our_version(value: str | None) -> bool:
    return value is not None and value.strip() == TUS_VERSION
