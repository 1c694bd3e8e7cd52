"""The tus 1.0.0 headers as the server reads them: metadata, offsets, checksums, version."""

from __future__ import annotations

import base64
import hashlib

import pytest

from field_server.api.tus_protocol import (
    BIGINT_MAX,
    MAX_METADATA_CHARS,
    HeaderError,
    non_negative_integer,
    parse_checksum,
    parse_metadata,
    photo_metadata,
    speaks_our_version,
)

DIGEST = hashlib.sha256(b"photo").hexdigest()


def b64(value: str | bytes) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def test_metadata_reads_the_example_of_the_specification() -> None:
    header = "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
    assert parse_metadata(header) == {
        "filename": b"world_domination_plan.pdf",
        "is_confidential": b"",
    }


def test_metadata_tolerates_a_space_after_each_comma() -> None:
    assert parse_metadata(f"sha256 {b64('a')}, filename {b64('b')}") == {
        "sha256": b"a",
        "filename": b"b",
    }


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",",
        f"key {b64('x')},key {b64('y')}",
        "key not-base64!",
        "key YWJj=",  # padding in the wrong place
        "key YWJ",  # not a multiple of four
        f"ключ {b64('x')}",
        f"key {b64('x')} extra",
        f"key  {b64('x')}",
        "k " + "A" * MAX_METADATA_CHARS,
    ],
)
def test_metadata_the_grammar_does_not_allow_is_refused(header: str) -> None:
    with pytest.raises(HeaderError) as raised:
        parse_metadata(header)
    assert raised.value.header == "Upload-Metadata"


def test_photo_metadata_takes_the_digest_and_a_kazakh_file_name() -> None:
    header = f"sha256 {b64(DIGEST)},filename {b64('Қазба_Ұлытау_001.jpg')},device {b64('x')}"
    metadata = photo_metadata(header)
    assert (metadata.sha256, metadata.filename, metadata.raw) == (
        DIGEST,
        "Қазба_Ұлытау_001.jpg",
        header,
    )
    assert photo_metadata(f"sha256 {b64(DIGEST)}").filename is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "  ",
        f"filename {b64('a.jpg')}",
        f"sha256 {b64(DIGEST.upper())}",
        f"sha256 {b64(DIGEST[:-1])}",
        f"sha256 {b64(DIGEST + chr(10))}",
        f"sha256 {b64(bytes([0xFF]) * 64)}",
        f"sha256 {b64(DIGEST)},filename {b64(bytes([0xC3, 0x28]))}",
        f"sha256 {b64(DIGEST)},filename {b64('a' * 256)}",
        f"sha256 {b64(DIGEST)},filename {b64('evil' + chr(13) + chr(10) + 'X-Injected: 1')}",
    ],
)
def test_photo_metadata_without_a_good_digest_or_name_is_refused(header: str | None) -> None:
    with pytest.raises(HeaderError):
        photo_metadata(header)


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("42", 42), (" 7 ", 7)])
def test_offsets_and_lengths_are_plain_non_negative_integers(value: str, expected: int) -> None:
    assert non_negative_integer("Upload-Offset", value) == expected
    assert non_negative_integer("Upload-Length", str(BIGINT_MAX)) == BIGINT_MAX


@pytest.mark.parametrize(
    "value", [None, "", "-1", "+1", "1.0", "1e3", "0x10", "٣", "１", str(BIGINT_MAX + 1)]
)
def test_anything_else_is_no_offset(value: str | None) -> None:
    with pytest.raises(HeaderError) as raised:
        non_negative_integer("Upload-Offset", value)
    assert raised.value.header == "Upload-Offset"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
def test_a_checksum_names_a_supported_algorithm_and_its_digest(algorithm: str) -> None:
    digest = hashlib.new(algorithm, b"chunk").digest()
    checksum = parse_checksum(f"{algorithm} {b64(digest)}")
    assert checksum is not None
    assert (checksum.algorithm, checksum.expected) == (algorithm, digest)
    computed = checksum.new_digest()
    computed.update(b"chunk")
    assert computed.digest() == digest


def test_no_checksum_header_means_no_check() -> None:
    assert parse_checksum(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha1",
        f"crc32 {b64(b'1234')}",
        f"SHA1 {b64(bytes(20))}",
        f"sha1 {b64(bytes(19))}",
        "sha1 ####",
        f"sha1  {b64(bytes(20))}",
    ],
)
def test_a_checksum_the_server_cannot_check_is_refused(value: str) -> None:
    with pytest.raises(HeaderError) as raised:
        parse_checksum(value)
    assert raised.value.header == "Upload-Checksum"


def test_only_version_1_0_0_is_spoken() -> None:
    assert speaks_our_version("1.0.0")
    assert speaks_our_version(" 1.0.0 ")
    for other in (None, "", "1.0", "0.2.2", "1.0.0,0.2.2"):
        assert not speaks_our_version(other)
