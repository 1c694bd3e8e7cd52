"""Photo uploads by the tus protocol: create, report progress, append a chunk, finish into the
photo store with a SHA-256 check, terminate (DESIGN §4).

Nothing that matters lives in a process: the offset is a database row and the bytes a staging
file, so any server process can take the next chunk of any upload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from field_server.adapters import photo_images
from field_server.adapters.photo_repositories import UploadRow, expedition_members
from field_server.adapters.photo_store import PhotoStore
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.adapters.upload_staging import UploadStaging
from field_server.domain.access import Actor
from field_server.domain.quotas import (
    QuotaRefusal,
    StorageLimits,
    StorageUse,
    refusal_of_new_upload,
)
from field_server.services.auth import now_utc
from field_server.services.errors import Forbidden, NotFound, ServiceError


@dataclass(frozen=True)
class UploadProgress:
    upload_id: str
    length: int
    offset: int
    upload_metadata: str | None


@dataclass(frozen=True)
class NewUpload:
    sha256: str
    filename: str | None
    upload_metadata: str
    length: int


@dataclass(frozen=True)
class ChunkChecksum:
    """The digest a chunk must have (tus checksum extension), by one hash algorithm."""

    algorithm: str
    expected: bytes
    new_digest: Callable[[], Any]


@dataclass(frozen=True)
class Chunk:
    """One PATCH body: where the client says it starts, how to read it, how long it says it
    is (None when the server ends the stream), and the checksum it must have, if any."""

    offset: int
    read: Callable[[int], bytes]
    length: int | None
    checksum: ChunkChecksum | None = None


class OffsetMismatch(ServiceError):
    def __init__(self, sent: int, actual: int) -> None:
        super().__init__(
            f"Upload-Offset {sent} is not the upload's offset {actual}; ask with HEAD and go on "
            "from there",
            "offset_mismatch",
            409,
        )


class UploadTooLarge(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "upload_too_large", 413)


class QuotaExceeded(ServiceError):
    """413, not 507: the server is not short of room, this person or expedition has used
    theirs, and a client must not retry as if the server were at fault. The cap on unfinished
    uploads answers the same way rather than 429: it is not a rate that passes with time,
    only finishing or terminating an upload frees a place, and unfinished uploads reserve
    their declared bytes as stored ones do."""

    def __init__(self, refusal: QuotaRefusal) -> None:
        field = "Upload-Length" if refusal.limit_name != "open_uploads" else "open_uploads"
        super().__init__(
            refusal.sentence(),
            "quota_exceeded",
            413,
            [{"field": field, "message": f"{refusal.limit_name} limit {refusal.limit}"}],
        )


class ChecksumMismatch(ServiceError):
    def __init__(self, algorithm: str) -> None:
        super().__init__(
            f"the chunk does not match its Upload-Checksum ({algorithm}); it was discarded and "
            "the offset is unchanged: send it again",
            "checksum_mismatch",
            460,
        )


class Sha256Mismatch(ServiceError):
    def __init__(self, declared: str, actual: str) -> None:
        super().__init__(
            f"the uploaded file's SHA-256 is {actual}, not the {declared} declared in "
            "Upload-Metadata; the upload was discarded: check the file and start a new upload",
            "sha256_mismatch",
            422,
        )


class Uploads:
    """The upload use cases, bound to the database, the staging folder and the photo store."""

    def __init__(
        self, uow: UnitOfWorkFactory, staging: UploadStaging, store: PhotoStore, max_size: int
    ) -> None:
        self.uow = uow
        self.staging = staging
        self.store = store
        self.max_size = max_size

    def create(
        self, actor: Actor, new: NewUpload, limits: StorageLimits | None = None
    ) -> UploadProgress:
        """Start an upload, if its declared length fits the person's and their expeditions'
        quotas and they have room for another unfinished one (``domain.quotas``).

        The declared length is reserved here, so a later PATCH needs no check of its own: it
        can never take an upload past the length it declared.
        """
        _check_may_upload(actor)
        if new.length > self.max_size:
            raise UploadTooLarge(
                f"Upload-Length {new.length} is more than this server's Tus-Max-Size "
                f"{self.max_size}"
            )
        limits = limits or StorageLimits()
        upload_id = secrets.token_hex(16)
        # The blobs sent are summed outside the write lock (a scan of every upload and blob,
        # which would hold up every push on SQLite), and a flood is refused there without
        # taking it. A photo finishing in between may pass a quota by that one photo; the
        # reservations, which creations at one moment would race for, are read again under
        # the lock.
        with self.uow() as uow:
            sent = _sent(uow, actor)
            refusal = _quota_refusal(uow, actor, new.length, limits, sent)
        if refusal is not None:
            raise QuotaExceeded(refusal)
        with self.uow(write=True, sequenced=False) as uow:
            uow.uploads.lock_uploader(actor.user_id)
            refusal = _quota_refusal(uow, actor, new.length, limits, sent)
            if refusal is not None:
                raise QuotaExceeded(refusal)
            uow.uploads.add(
                upload_id,
                actor.user_id,
                new.sha256,
                new.filename,
                new.upload_metadata,
                new.length,
                now_utc(),
            )
            uow.commit()
        return UploadProgress(upload_id, new.length, 0, new.upload_metadata)

    def progress(self, actor: Actor, upload_id: str) -> UploadProgress:
        _check_may_upload(actor)
        with self.uow() as uow:
            row = _own_upload(uow.uploads.get(upload_id), actor)
        return UploadProgress(
            row.id, row.upload_length, self._offset_on_disk(row), row.upload_metadata
        )

    def append(self, actor: Actor, upload_id: str, chunk: Chunk) -> UploadProgress:
        """Append one chunk; the last one stores the photo if its SHA-256 matches.

        The PATCHes of one upload take turns on its claim (a lock on its staging file, across
        threads and processes), so they never interleave: the second finds the offset moved
        (409). The bytes are written, hashed, synced and moved into the photo store before the
        database is asked for its write lock, which is then held only to record the outcome:
        on SQLite one upload's disk work no longer holds up every other writer. The outcome is
        recorded only if the offset is still the one the append began from, so a chunk never
        counts twice even where the claim cannot reach (another host without shared locks).
        """
        _check_may_upload(actor)
        with self._claimed(actor, upload_id) as row:
            offset = self._offset_on_disk(row)
            if offset != row.upload_offset:
                with self.uow(write=True, sequenced=False) as uow:
                    uow.uploads.set_offset(row.id, offset, now_utc())
                    uow.commit()
                raise OffsetMismatch(chunk.offset, offset)
            if chunk.offset != offset:
                raise OffsetMismatch(chunk.offset, offset)
            room = row.upload_length - offset
            if chunk.length is not None and chunk.length > room:
                raise UploadTooLarge(
                    f"the chunk of {chunk.length} bytes goes past Upload-Length "
                    f"{row.upload_length} (offset {offset})"
                )
            if row.stored:
                return UploadProgress(row.id, row.upload_length, offset, row.upload_metadata)
            new_offset, whole = self._write_chunk(row, chunk, room)
            if new_offset < row.upload_length:
                if offset == 0 and new_offset > 0:
                    self.staging.keep()
                with self.uow(write=True, sequenced=False) as uow:
                    moved = uow.uploads.advance(row.id, offset, new_offset, now_utc())
                    uow.commit()
                if not moved:
                    raise self._overtaken(actor, row.id, chunk.offset)
                return UploadProgress(row.id, row.upload_length, new_offset, row.upload_metadata)
            actual = whole.hexdigest() if whole is not None else self.staging.sha256(row.id)
            if not hmac.compare_digest(actual, row.sha256):
                with self.uow(write=True, sequenced=False) as uow:
                    uow.uploads.delete(row.id)
                    uow.commit()
                self.staging.discard(row.id)
                raise Sha256Mismatch(row.sha256, actual)
            media_type, size = self._store(row)
            now = now_utc()
            with self.uow(write=True, sequenced=False) as uow:
                # the blob is checked and in the store, whoever's upload records it
                uow.blobs.add_if_absent(
                    row.sha256, row.upload_length, media_type, size, actor.user_id, now
                )
                stored = uow.uploads.mark_stored(row.id, offset, now)
                uow.commit()
            if not stored:
                raise self._overtaken(actor, row.id, chunk.offset)
        return UploadProgress(row.id, row.upload_length, row.upload_length, row.upload_metadata)

    def terminate(self, actor: Actor, upload_id: str) -> None:
        """Forget the upload and its staged bytes; a photo it already stored stays."""
        _check_may_upload(actor)
        with self._claimed(actor, upload_id) as row:
            with self.uow(write=True, sequenced=False) as uow:
                uow.uploads.delete(row.id)
                uow.commit()
            self.staging.discard(row.id)

    @contextmanager
    def _claimed(self, actor: Actor, upload_id: str) -> Iterator[UploadRow]:
        """The upload's row, read while this request holds the upload's claim: whatever the
        request before it did is recorded by then."""
        with self.uow() as uow:
            # no staging file is made for an upload that is not the actor's
            _own_upload(uow.uploads.get(upload_id), actor)
        with self.staging.claimed(upload_id):
            with self.uow() as uow:
                row = uow.uploads.get(upload_id)
            if row is None or row.stored:
                # finished or forgotten while this request waited: staging has nothing to keep
                self.staging.discard(upload_id)
            yield _own_upload(row, actor)

    def _overtaken(self, actor: Actor, upload_id: str, sent: int) -> ServiceError:
        """The error for an append whose outcome another writer made moot."""
        with self.uow() as uow:
            row = _own_upload(uow.uploads.get(upload_id), actor)
        return OffsetMismatch(sent, self._offset_on_disk(row))

    # -- under the upload's claim --------------------------------------------------------

    def _offset_on_disk(self, row: UploadRow) -> int:
        """The row's offset, unless the staging file holds fewer bytes (it was lost, or the
        upload finished into the store in a process that died before recording it): the
        client then re-sends from what is really there."""
        if row.stored:
            return row.upload_length
        return min(row.upload_offset, self.staging.size(row.id))

    def _write_chunk(self, row: UploadRow, chunk: Chunk, room: int) -> tuple[int, Any | None]:
        """Append the chunk; returns the new offset and, when the upload was written from its
        first byte in this request, the SHA-256 of the whole file (saving a second read)."""
        whole = hashlib.sha256() if chunk.offset == 0 else None
        if chunk.checksum is None:
            checksum = None
        elif whole is not None and chunk.checksum.algorithm == "sha256":
            # a chunk from the first byte has the file's digest so far: hash its bytes once
            checksum = whole
        else:
            checksum = chunk.checksum.new_digest()
        digests = [whole] if whole is not None else []
        if checksum is not None and checksum is not whole:
            digests.append(checksum)
        appended = self.staging.append(
            row.id,
            chunk.offset,
            chunk.read,
            room if chunk.length is None else chunk.length,
            digests,
        )
        if appended.overflowed:
            self.staging.truncate(row.id, chunk.offset)
            raise UploadTooLarge(
                f"the chunk goes past Upload-Length {row.upload_length}; it was discarded"
            )
        # a chunk that did not all arrive cannot be checked, so it does not count
        if (
            chunk.checksum is not None
            and checksum is not None
            and (
                appended.interrupted
                or not hmac.compare_digest(checksum.digest(), chunk.checksum.expected)
            )
        ):
            self.staging.truncate(row.id, chunk.offset)
            raise ChecksumMismatch(chunk.checksum.algorithm)
        # the client went away mid-body: what arrived counts, so a resume re-sends only the rest
        return chunk.offset + appended.written, whole

    def _store(self, row: UploadRow) -> tuple[str, tuple[int, int] | None]:
        """Move the checked file into the photo store (once per digest); returns its media
        type and pixel size for the blob's record."""
        path = self.staging.path(row.id)
        with path.open("rb") as handle:
            media_type = photo_images.media_type(handle.read(16))
            handle.seek(0)
            size = photo_images.dimensions(handle)
        self.store.put(row.sha256, path)
        return media_type, size


@dataclass(frozen=True)
class _Sent:
    """Bytes of the blobs a person sent, and each of their expeditions' members (by code,
    with the members' user ids)."""

    by_person: int
    by_expedition: dict[str, tuple[list[int], int]]


def _sent(uow: UnitOfWork, actor: Actor) -> _Sent:
    """A person's use counts every blob they sent, even one another person had stored first:
    sending it gave them the right to read it (DESIGN §4), and their standing then does not
    change with what others do. An expedition's use is what its members sent, phones' photos
    included (an admin who belongs to none is held to the personal quota only); a person in
    two expeditions counts in both."""
    members = expedition_members(uow.connection, actor.member_of)
    return _Sent(
        uow.blobs.sent_by([actor.user_id]),
        {code: (ids, uow.blobs.sent_by(ids)) for code, ids in members.items()},
    )


def _quota_refusal(
    uow: UnitOfWork, actor: Actor, length: int, limits: StorageLimits, sent: _Sent
) -> QuotaRefusal | None:
    people = {actor.user_id}.union(*(ids for ids, _ in sent.by_expedition.values()))
    unfinished = uow.uploads.unfinished(people)
    open_uploads, declared = unfinished.get(actor.user_id, (0, 0))
    expeditions = {
        code: StorageUse(stored, sum(unfinished.get(i, (0, 0))[1] for i in ids))
        for code, (ids, stored) in sent.by_expedition.items()
    }
    return refusal_of_new_upload(
        limits, length, open_uploads, StorageUse(sent.by_person, declared), expeditions
    )


def storage_refusal(
    uow_factory: UnitOfWorkFactory, actor: Actor, length: int, limits: StorageLimits
) -> QuotaRefusal | None:
    """Why ``length`` more bytes sent by ``actor`` another way than tus (a phone's
    submission) would pass their or an expedition's quota, or None when they fit. Such bytes
    open no upload, so the cap on unfinished uploads does not apply."""
    by_bytes_only = replace(limits, open_uploads=sys.maxsize)
    with uow_factory() as uow:
        return _quota_refusal(uow, actor, length, by_bytes_only, _sent(uow, actor))


def _check_may_upload(actor: Actor) -> None:
    if not actor.may_upload_photos():
        raise Forbidden(
            f"{actor.username} records for no expedition; photos come from the recorders "
            "of an expedition"
        )


def _own_upload(row: UploadRow | None, actor: Actor) -> UploadRow:
    # another user's upload answers like one that does not exist: ids are not to be probed
    if row is None or row.user_id != actor.user_id:
        raise NotFound("no such upload (finished uploads stay until terminated)")
    return row
