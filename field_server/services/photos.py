"""Stored photos: which ones the server still needs, and who reads one (its bytes, its
thumbnail)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from field_server.adapters import photo_images
from field_server.adapters.photo_possession import PhotoPossession
from field_server.adapters.photo_repositories import BlobRow
from field_server.adapters.photo_store import PhotoStore
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.services.errors import Forbidden, NotFound, ServiceError

MAX_DIGESTS = 10_000
THUMBNAIL = f"thumb-{photo_images.THUMBNAIL_SIDE}.jpg"


@dataclass(frozen=True)
class OpenedPhoto:
    blob: BlobRow
    size: int
    stream: BinaryIO


class Photos:
    def __init__(self, uow: UnitOfWorkFactory, store: PhotoStore) -> None:
        self.uow = uow
        self.store = store

    def missing(self, actor: Actor, digests: list[str]) -> list[str]:
        """The digests whose files the server does not hold for this person, each once, in the
        order asked: a file stored for someone else that this person may not read counts as
        missing until they send it (the store keeps one copy), so the answer tells nobody
        which photos others hold."""
        if not actor.may_upload_photos():
            raise Forbidden(
                f"{actor.username} records for no expedition, so sends no photos to ask about"
            )
        asked = list(dict.fromkeys(digests))
        with self.uow() as uow:
            possession = PhotoPossession(uow.connection)
            recorded = {d for d in uow.blobs.known(asked) if may_read_blob(possession, actor, d)}
        # a recorded blob whose file is gone (the photo volume restored from an older backup
        # than the database) is asked for again, so devices heal the store
        lost = set(self.store.missing([d for d in asked if d in recorded]))
        return [d for d in asked if d not in recorded or d in lost]

    def readable(self, actor: Actor, sha256: str) -> BlobRow:
        """The blob, if this person may see it (DESIGN §4): the museum reads every photo;
        anyone else one they sent themselves, or one an expedition of theirs holds (one of its
        records names it and one of its members sent the bytes)."""
        with self.uow() as uow:
            blob = uow.blobs.get(sha256)
            allowed = blob is not None and may_read_blob(
                PhotoPossession(uow.connection), actor, sha256
            )
        if blob is None or not allowed:
            # the same answer either way: a digest's presence tells nothing to those who may
            # not see the photo
            raise NotFound(f"no photo {sha256} that {actor.username} may see")
        return blob

    def open(self, actor: Actor, sha256: str) -> OpenedPhoto:
        blob = self.readable(actor, sha256)
        try:
            stream = self.store.open(sha256)
        except FileNotFoundError:
            raise _lost_file(sha256) from None
        return OpenedPhoto(blob, blob.bytes, stream)

    def thumbnail(self, actor: Actor, sha256: str) -> bytes:
        """A JPEG of at most 320 px a side, made once and kept beside the blob."""
        self.readable(actor, sha256)
        cached = self.store.open_derivative(sha256, THUMBNAIL)
        if cached is not None:
            with cached:
                return cached.read()
        try:
            source = self.store.open(sha256)
        except FileNotFoundError:
            raise _lost_file(sha256) from None
        with source:
            try:
                data = photo_images.thumbnail(source)
            except photo_images.ImageRefused as refused:
                raise ServiceError(refused.detail, refused.code, 422) from None
        self.store.put_derivative(sha256, THUMBNAIL, data)
        return data


def may_read_blob(possession: PhotoPossession, actor: Actor, sha256: str) -> bool:
    """DESIGN §4's rule: the museum roles, the person who sent the bytes, the members of an
    expedition that holds them."""
    return (
        actor.reads_every_expedition()
        or possession.sent_by(sha256, actor.user_id)
        or bool(possession.held(sha256, actor.member_of))
    )


def _lost_file(sha256: str) -> NotFound:
    return NotFound(
        f"the file of photo {sha256} is missing from the store; the devices that hold it "
        "will be asked to send it again"
    )
