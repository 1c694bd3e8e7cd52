"""What a backup archive holds and the rules an archive must meet before anything of it is
restored (DESIGN §10).

An archive is a plain tar file: one member per table (``tables/<name>.jsonl``, a JSON array per
row, one row a line, uncompressed; archives of the first writer hold ``tables/<name>.jsonl.gz``,
gzip-compressed, which every reader still takes: both are format 1, which always allowed
either), one member per stored photo at the photo store's own layout (``photos/ab/cd/<sha256>``),
and ``manifest.json`` last. Rows are in no particular order. The manifest lists every other member
with its size and SHA-256, each table's columns and row count, the schema revision, the time
and this format's version; it carries a digest of itself, so a changed byte anywhere in the
archive is noticed. Nothing here reads files: the archive adapter feeds what it finds in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FORMAT = "qazba-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TABLE_PREFIX = "tables/"
PHOTO_PREFIX = "photos/"
COLUMN_KINDS = ("integer", "float", "text", "boolean", "datetime", "date", "bytes")
COMPRESSIONS = ("gzip", "none")

# A manifest names every member once: 100,000 photos take about 12 MB of it.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 5_000_000
# Rows are JSON text, which gzip shrinks 3 to 15 times; a compressed member that claims or
# turns out to grow more than this is a decompression bomb, not a table. An uncompressed
# table (all the backup writes now) must list one size for both, and hold exactly it.
MAX_EXPANSION = 200
EXPANSION_SLACK_BYTES = 1024 * 1024  # small tables: gzip's header outweighs their rows
MAX_ROW_BYTES = 64 * 1024 * 1024  # one row's line; a find's JSON is about 1 KB

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9A-Za-z_]{1,64}")


class ManifestProblem(ValueError):
    """An archive that must not be restored; the message says why in one line."""


@dataclass(frozen=True)
class TableMember:
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, kind), in the order of each row's values
    rows: int
    compression: str  # gzip | none
    size: int  # the member's bytes as stored in the archive
    sha256: str  # of those bytes
    expanded_size: int  # the rows' bytes once decompressed

    @property
    def member(self) -> str:
        suffix = ".jsonl.gz" if self.compression == "gzip" else ".jsonl"
        return f"{TABLE_PREFIX}{self.table}{suffix}"


@dataclass(frozen=True)
class PhotoMember:
    """A stored photo; ``content_sha256`` differs from its name only for a photo whose bytes
    no longer matched its name when the backup read them (kept, but never put back)."""

    sha256: str
    size: int
    content_sha256: str

    @property
    def member(self) -> str:
        return photo_member_name(self.sha256)

    @property
    def damaged(self) -> bool:
        return self.content_sha256 != self.sha256


@dataclass(frozen=True)
class Manifest:
    created_at: datetime
    schema_revision: str
    server_version: str
    source_backend: str
    tables: tuple[TableMember, ...]
    photos: tuple[PhotoMember, ...]
    # photos the database lists as stored that the store did not hold when the backup ran
    photos_missing: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION

    def members(self) -> dict[str, tuple[int, str]]:
        """Every member but the manifest: name -> (size, SHA-256 of its bytes)."""
        listed: dict[str, tuple[int, str]] = {}
        for table in self.tables:
            listed[table.member] = (table.size, table.sha256)
        for photo in self.photos:
            listed[photo.member] = (photo.size, photo.content_sha256)
        return listed

    def table(self, name: str) -> TableMember:
        for table in self.tables:
            if table.table == name:
                return table
        raise KeyError(name)

    def to_json(self) -> bytes:
        body = _manifest_body(self)
        body["digest"] = _digest(body)
        return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ManifestProblem(f"the manifest is not JSON ({error})") from None
        return _manifest_from_body(body)


def photo_member_name(sha256: str) -> str:
    return f"{PHOTO_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def check_member_name(name: str) -> None:
    """Refuse a member name that could reach outside the archive's own folders when used as a
    path: absolute, with ``..`` or empty parts, backslashes, control or non-ASCII characters."""
    if not name or len(name) > 255:
        raise ManifestProblem(f"an archive member has a name of {len(name)} characters")
    if not name.isascii() or not name.isprintable() or "\\" in name:
        raise ManifestProblem(f"archive member {name!r} has characters a member may not have")
    if name.startswith("/"):
        raise ManifestProblem(f"archive member {name!r} has an absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise ManifestProblem(f"archive member {name!r} climbs out with '..'")
    if any(part in ("", ".") for part in parts):
        raise ManifestProblem(f"archive member {name!r} has an empty or '.' path part")


def table_expansion_allowed(size: int, expanded_size: int) -> bool:
    return expanded_size <= size * MAX_EXPANSION + EXPANSION_SLACK_BYTES


def check_revision(revision: str, known: Sequence[str]) -> None:
    """Refuse an archive whose schema this server's migrations do not know (``known`` runs from
    the first revision to the head): it was written by a newer version of the server."""
    if revision not in known:
        raise ManifestProblem(
            f"the archive is at schema revision {revision}, which this server does not know "
            f"(its newest is {known[-1]}): restore it with the server version that wrote it "
            "or a newer one"
        )


@dataclass
class MemberLedger:
    """Ticks off the members found in an archive against its manifest."""

    manifest: Manifest
    _expected: dict[str, tuple[int, str]] = field(init=False)
    _seen: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self._expected = self.manifest.members()

    def expect(self, name: str, size: int) -> None:
        """A member header: its name must be listed, once, with this size."""
        if name not in self._expected:
            raise ManifestProblem(f"archive member {name} is not in the manifest")
        if name in self._seen:
            raise ManifestProblem(f"archive member {name} appears twice")
        self._seen.add(name)
        listed_size = self._expected[name][0]
        if size != listed_size:
            raise ManifestProblem(
                f"archive member {name} has {size} bytes; the manifest says {listed_size}"
            )

    def check_content(self, name: str, sha256: str) -> None:
        listed = self._expected[name][1]
        if sha256 != listed:
            raise ManifestProblem(
                f"archive member {name} does not have the SHA-256 the manifest lists: "
                "the archive was altered or damaged"
            )

    def check_all_seen(self) -> None:
        missing = sorted(set(self._expected) - self._seen)
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise ManifestProblem(f"archive member {missing[0]}{more} is missing")


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _manifest_body(manifest: Manifest) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": manifest.format_version,
        "created_at": manifest.created_at.isoformat(),
        "schema_revision": manifest.schema_revision,
        "server_version": manifest.server_version,
        "source_backend": manifest.source_backend,
        "tables": [
            {
                "table": t.table,
                "member": t.member,
                "columns": [list(column) for column in t.columns],
                "rows": t.rows,
                "compression": t.compression,
                "size": t.size,
                "sha256": t.sha256,
                "expanded_size": t.expanded_size,
            }
            for t in manifest.tables
        ],
        "photos": [_photo_body(p) for p in manifest.photos],
        "photos_missing": list(manifest.photos_missing),
    }


def _photo_body(photo: PhotoMember) -> dict[str, Any]:
    body: dict[str, Any] = {"sha256": photo.sha256, "size": photo.size}
    if photo.damaged:
        body["content_sha256"] = photo.content_sha256
    return body


def _manifest_from_body(body: Any) -> Manifest:
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ManifestProblem("the archive is not a Qazba backup (its manifest names no format)")
    version = body.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestProblem(
            f"the archive is in backup format {version!r}; this server reads format "
            f"{FORMAT_VERSION}"
        )
    digest = body.pop("digest", None)
    if digest != _digest(body):
        raise ManifestProblem("the manifest does not match its own digest: it was altered")
    try:
        created_at = datetime.fromisoformat(_text(body, "created_at"))
        revision = _text(body, "schema_revision")
        if not _REVISION.fullmatch(revision):
            raise ManifestProblem(f"schema revision {revision[:80]!r} is not a revision name")
        tables = tuple(_table_from_body(t) for t in _list(body, "tables"))
        photos = tuple(_photo_from_body(p) for p in _list(body, "photos"))
        missing = tuple(_sha(m, "photos_missing") for m in _list(body, "photos_missing"))
        manifest = Manifest(
            created_at=created_at,
            schema_revision=revision,
            server_version=_text(body, "server_version"),
            source_backend=_text(body, "source_backend"),
            tables=tables,
            photos=photos,
            photos_missing=missing,
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ManifestProblem):
            raise
        raise ManifestProblem(f"the manifest cannot be read: {error}") from None
    _check_unique((t.table for t in tables), "table")
    _check_unique((p.sha256 for p in photos), "photo")
    for name in manifest.members():
        check_member_name(name)
    return manifest


def _table_from_body(body: Any) -> TableMember:
    name = _text(body, "table")
    if not _TABLE_NAME.fullmatch(name):
        raise ManifestProblem(f"table name {name[:80]!r} is not a table name")
    columns: list[tuple[str, str]] = []
    for column in _list(body, "columns"):
        if (
            not isinstance(column, list)
            or len(column) != 2
            or not isinstance(column[0], str)
            or not _TABLE_NAME.fullmatch(column[0])
            or column[1] not in COLUMN_KINDS
        ):
            raise ManifestProblem(f"table {name} lists a column that cannot be read: {column!r}")
        columns.append((column[0], column[1]))
    _check_unique((c for c, _ in columns), f"column of {name}")
    compression = _text(body, "compression")
    if compression not in COMPRESSIONS:
        raise ManifestProblem(f"table {name} is compressed by {compression!r}")
    table = TableMember(
        table=name,
        columns=tuple(columns),
        rows=_count(body, "rows"),
        compression=compression,
        size=_count(body, "size"),
        sha256=_sha(body.get("sha256"), f"table {name}"),
        expanded_size=_count(body, "expanded_size"),
    )
    if body.get("member") != table.member:
        raise ManifestProblem(f"table {name} is listed under member {body.get('member')!r}")
    if compression == "none" and table.expanded_size != table.size:
        raise ManifestProblem(f"table {name} is uncompressed but lists two sizes")
    if not table_expansion_allowed(table.size, table.expanded_size):
        raise ManifestProblem(
            f"table {name} claims to expand from {table.size} to {table.expanded_size} bytes, "
            f"more than {MAX_EXPANSION} times: refused as a decompression bomb"
        )
    return table


def _photo_from_body(body: Any) -> PhotoMember:
    sha = _sha(body.get("sha256") if isinstance(body, dict) else None, "photo")
    content = body.get("content_sha256", sha)
    return PhotoMember(sha, _count(body, "size"), _sha(content, f"photo {sha}"))


def _text(body: Any, key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise ManifestProblem(f"the manifest's {key} is not text")
    return value


def _list(body: Any, key: str) -> list[Any]:
    value = body[key]
    if not isinstance(value, list):
        raise ManifestProblem(f"the manifest's {key} is not a list")
    return value


def _count(body: Any, key: str) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestProblem(f"the manifest's {key} is not a count: {value!r}")
    return value


def _sha(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ManifestProblem(f"{what}: {str(value)[:80]!r} is not a SHA-256 digest")
    return value


def _check_unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ManifestProblem(f"the manifest lists {what} {name} twice")
        seen.add(name)
