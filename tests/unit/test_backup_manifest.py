"""The backup manifest and the rules an archive must meet before it is restored."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from field_server.domain.backup_manifest import (
    MAX_EXPANSION,
    Manifest,
    ManifestProblem,
    MemberLedger,
    PhotoMember,
    TableMember,
    check_member_name,
    check_revision,
    photo_member_name,
)

SHA_A = "a" * 64
SHA_B = "b" * 64


def manifest(**changes: object) -> Manifest:
    made = Manifest(
        created_at=datetime(2026, 12, 7, 10, 30, tzinfo=UTC),
        schema_revision="0006",
        server_version="0.1.0",
        source_backend="sqlite",
        tables=(
            TableMember(
                "users", (("id", "integer"), ("username", "text")), 2, "gzip", 40, SHA_A, 90
            ),
        ),
        photos=(PhotoMember(SHA_B, 3_000_000, SHA_B),),
    )
    return dataclasses.replace(made, **changes)


def test_a_manifest_reads_back_as_written() -> None:
    written = manifest(photos_missing=("c" * 64,))
    assert Manifest.from_json(written.to_json()) == written


def test_every_member_is_listed_with_size_and_digest() -> None:
    assert manifest().members() == {
        "tables/users.jsonl.gz": (40, SHA_A),
        f"photos/bb/bb/{SHA_B}": (3_000_000, SHA_B),
    }
    assert photo_member_name(SHA_B) == f"photos/bb/bb/{SHA_B}"


def test_a_changed_byte_in_the_manifest_breaks_its_digest() -> None:
    raw = manifest().to_json().replace(b"0.1.0", b"0.1.1")
    with pytest.raises(ManifestProblem, match="digest"):
        Manifest.from_json(raw)


def test_a_manifest_of_another_format_or_version_is_refused() -> None:
    body = json.loads(manifest().to_json())
    with pytest.raises(ManifestProblem, match="not a Qazba backup"):
        Manifest.from_json(json.dumps({**body, "format": "other"}).encode())
    with pytest.raises(ManifestProblem, match="format 2"):
        Manifest.from_json(json.dumps({**body, "format_version": 2}).encode())
    with pytest.raises(ManifestProblem, match="not JSON"):
        Manifest.from_json(b"\x00garbage")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/etc/passwd", "absolute"),
        ("../photos/x", "'..'"),
        ("tables/../../x", "'..'"),
        ("photos//x", "empty"),
        ("./x", "'.'"),
        ("tables\\x", "characters"),
        ("tables/\x00x", "characters"),
        ("tables/ж", "characters"),
        ("", "0 characters"),
    ],
)
def test_unsafe_member_names_are_refused(name: str, words: str) -> None:
    with pytest.raises(ManifestProblem, match=words):
        check_member_name(name)


def test_safe_member_names_pass() -> None:
    check_member_name("tables/users.jsonl.gz")
    check_member_name(photo_member_name(SHA_A))


def test_a_table_claiming_to_expand_too_far_is_refused_as_a_bomb() -> None:
    bomb = TableMember(
        "users", (("id", "integer"),), 1, "gzip", 1000, SHA_A, 1000 * MAX_EXPANSION * 10
    )
    with pytest.raises(ManifestProblem, match="decompression bomb"):
        Manifest.from_json(manifest(tables=(bomb,)).to_json())


def test_a_schema_newer_than_the_code_is_refused() -> None:
    check_revision("0005", ["0001", "0005", "0006"])
    with pytest.raises(ManifestProblem, match="does not know"):
        check_revision("0007", ["0001", "0005", "0006"])


def test_twice_listed_tables_and_bad_digests_are_refused() -> None:
    table = manifest().tables[0]
    with pytest.raises(ManifestProblem, match="twice"):
        Manifest.from_json(manifest(tables=(table, table)).to_json())
    body = json.loads(manifest().to_json())
    body.pop("digest")
    body["photos"][0]["sha256"] = "not-a-digest"
    body["digest"] = ""
    with pytest.raises(ManifestProblem):
        Manifest.from_json(json.dumps(body).encode())


def test_the_ledger_wants_every_listed_member_once_with_its_size_and_digest() -> None:
    ledger = MemberLedger(manifest())
    with pytest.raises(ManifestProblem, match="not in the manifest"):
        ledger.expect("tables/other.jsonl.gz", 10)
    with pytest.raises(ManifestProblem, match="has 41 bytes"):
        ledger.expect("tables/users.jsonl.gz", 41)
    ledger = MemberLedger(manifest())
    ledger.expect("tables/users.jsonl.gz", 40)
    with pytest.raises(ManifestProblem, match="appears twice"):
        ledger.expect("tables/users.jsonl.gz", 40)
    with pytest.raises(ManifestProblem, match="is missing"):
        ledger.check_all_seen()
    with pytest.raises(ManifestProblem, match="altered or damaged"):
        ledger.check_content("tables/users.jsonl.gz", SHA_B)
    ledger.check_content("tables/users.jsonl.gz", SHA_A)


def test_a_damaged_photo_is_listed_under_its_name_with_the_digest_its_bytes_had() -> None:
    damaged = PhotoMember(SHA_B, 10, SHA_A)
    read = Manifest.from_json(manifest(photos=(damaged,)).to_json())
    assert read.photos[0].damaged and read.members()[damaged.member] == (10, SHA_A)
