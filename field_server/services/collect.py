"""The server's side of a phone with ODK Collect (DESIGN §9): the find form it downloads, and
each submission it sends filed as it was received and made into a find like a pushed one.

A submission goes through the sync push's own machinery (validation, the three-way merge and
its conflicts, flags, duplicate detection, find sheets), as a batch of its photo records and
its find sent by a device of its own (``collect-key-<id>``) in the name of the key's member.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from field_core.collect.find_from_submission import (
    CollectedPhoto,
    SubmissionContext,
    find_from_submission,
    read_collected_photo,
)
from field_core.collect.form import (
    FindForm,
    FormReference,
    FormSite,
    build_find_form,
    form_list_entry,
    form_list_xml,
    form_version,
)
from field_core.collect.submission import (
    MAX_SUBMISSION_BYTES,
    Submission,
    SubmissionError,
    SubmissionTooLarge,
)
from field_core.collect.submission import parse_submission as parse_instance
from field_core.validation import FieldProblem, validate_record_data
from field_server.adapters import photo_images
from field_server.adapters.collect_repositories import (
    FILED,
    NEEDS_REVIEW,
    STATUSES,
    CollectKeys,
    CollectSubmissions,
    SubmissionRow,
)
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.find_numbers import format_find_number
from field_server.domain.quotas import StorageLimits
from field_server.domain.site_boundary import site_boundary
from field_server.services.auth import actor_for_username, now_utc
from field_server.services.collect_keys import PhoneKey, phone_key
from field_server.services.errors import (
    Forbidden,
    InvalidInput,
    NotAllowed,
    NotFound,
    ServiceError,
)
from field_server.services.expeditions import expedition_by_code
from field_server.services.submission_keeping import keep_submission
from field_server.services.sync_push import BatchWriter, expedition_region, prepare_record
from field_server.services.uploads import storage_refusal

# A photo record's uuid is derived from its find and its bytes, so a resent submission names
# the same photo record and never makes a second one.
_PHOTO_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e8f-9a0b-1c2d3e4f5a6b")
_COPY_CHUNK = 1024 * 1024
_FORMS_KEPT = 32  # built forms kept in the process: a few expeditions and their last versions
_LAST_USE_PRECISION = timedelta(minutes=1)


class CollectRefused(ServiceError):
    """A request the phone gets an OpenRosa answer for, and nothing is stored."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail, "collect_refused", status)


def refused_key() -> CollectRefused:
    # 403, never 401: on a 401 Collect asks its user for a password nobody has
    return CollectRefused(403, "this phone's key is unknown, revoked or not for this expedition")


@dataclass(frozen=True)
class Attachment:
    """One attached file of a submission request, as the phone named it; ``spooled`` when its
    bytes are already in a file of the staging folder (``AttachmentSpool``)."""

    file_name: str
    stream: BinaryIO
    spooled: Path | None = None


class AttachmentSpool:
    """Where a request's multipart parser writes each file part as it arrives: a file of the
    staging folder, which a photo then leaves by a rename into the store. A photo is so
    written once on its way in, not to a temporary file first and copied from there.

    Called as werkzeug's ``stream_factory``; ``close()`` removes whatever no photo took.
    """

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self._files: list[tuple[BinaryIO, Path]] = []

    def __call__(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> BinaryIO:
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"attachment-{secrets.token_hex(16)}"
        handle = path.open("w+b")
        self._files.append((handle, path))
        return handle

    def path_of(self, stream: BinaryIO) -> Path | None:
        return next((path for handle, path in self._files if handle is stream), None)

    def close(self) -> None:
        for handle, path in self._files:
            handle.close()
            path.unlink(missing_ok=True)
        self._files.clear()


@dataclass(frozen=True)
class Received:
    """The answer to a submission: 201 and a message for the phone's user."""

    message: str
    submission_id: int
    find_uuid: str | None


@dataclass(frozen=True)
class _Stored:
    """An attachment put in the photo store, with what its blob row says of it."""

    photo: CollectedPhoto
    media_type: str
    dimensions: tuple[int, int] | None


def _hold(uow: UnitOfWork, phone: PhoneKey, kept: Iterable[_Stored]) -> None:
    """The key's member sent the bytes: their expedition holds the photos (DESIGN §4)."""
    now = now_utc()
    for stored in kept:
        photo = stored.photo
        uow.blobs.add_if_absent(
            photo.sha256, photo.byte_count, stored.media_type, stored.dimensions,
            phone.user_id, now,
        )  # fmt: skip


class Collect:
    """The phones' server: keys resolved, the form built and cached, submissions filed."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: FilesystemPhotoStore,
        staging: Path,
        max_bytes: int,
        limits: StorageLimits | None = None,
    ) -> None:
        self.uow = uow
        self.limits = limits or StorageLimits()
        self.store = store
        self.staging = staging
        self.max_bytes = max_bytes
        self.max_instance_bytes = MAX_SUBMISSION_BYTES  # the form instance alone, not its photos
        self._forms: OrderedDict[str, FindForm] = OrderedDict()
        self._forms_lock = threading.Lock()
        self._last_use: dict[int, datetime] = {}  # key id → last use written
        self._last_use_lock = threading.Lock()

    # -- keys ------------------------------------------------------------------------------

    def check_room(self, phone: PhoneKey, length: int) -> None:
        """Refuse (413, before a byte is read) a submission whose bytes would take the key's
        member or their expedition past a storage quota, as a tus upload would be."""
        actor = actor_for_username(self.uow, phone.username)
        refusal = storage_refusal(self.uow, actor, length, self.limits)
        if refusal is not None:
            raise CollectRefused(413, refusal.sentence())

    def phone(self, key: str, code: str) -> PhoneKey:
        """The key's phone, or CollectRefused(403); a found key's last use is noted, to the
        minute."""
        with self.uow() as uow:
            phone = phone_key(uow, key, code)
        if phone is None:
            raise refused_key()
        assert phone.id is not None  # a key a phone sends with is one the server issued
        now = now_utc()
        # A phone makes two requests per find (HEAD, POST): a write for each would queue
        # behind every filing for the database's one writer, for a time the keys page shows
        # to the minute.
        with self._last_use_lock:
            noted = self._last_use.get(phone.id)
            due = noted is None or now - noted >= _LAST_USE_PRECISION
            if due:
                self._last_use[phone.id] = now
        if due:
            with self.uow(write=True, sequenced=False) as uow:
                CollectKeys(uow.connection).used(phone.id, now)
                uow.commit()
        return phone

    # -- the form --------------------------------------------------------------------------

    def form(self, phone: PhoneKey) -> FindForm:
        """The find form for the key's expedition as its reference now stands.

        Built forms are kept by version (a digest of the reference): a changed site or
        vocabulary gives a new version, so a stale form is never served.
        """
        with self.uow() as uow:
            sites = uow.expeditions.sites_of([phone.expedition.id])
        expedition = phone.expedition
        reference = FormReference.with_built_in_materials(
            expedition.code,
            expedition.title,
            expedition.accuracy_threshold_m,
            (FormSite(s.code, s.name) for s in sites),
        )
        version = form_version(reference)
        with self._forms_lock:
            form = self._forms.get(version)
            if form is not None:
                self._forms.move_to_end(version)
                return form
        form = build_find_form(reference)
        with self._forms_lock:
            self._forms[version] = form
            while len(self._forms) > _FORMS_KEPT:
                self._forms.popitem(last=False)
        return form

    def form_list(self, phone: PhoneKey, base_url: str) -> bytes:
        return form_list_xml([form_list_entry(self.form(phone), base_url)])

    # -- submissions -----------------------------------------------------------------------

    def receive(
        self, phone: PhoneKey, xml: bytes, attachments: Iterable[Attachment], incomplete: bool
    ) -> Received:
        """File one submission request (DESIGN §9); CollectRefused for what is not taken."""
        submission = parse_submission(xml)
        try:
            xml_text = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise CollectRefused(400, "the form instance is not UTF-8") from None
        xml_sha256 = hashlib.sha256(xml).hexdigest()
        parts = list(attachments)
        named = set(submission.photo_files)
        unnamed = [p.file_name for p in parts if p.file_name not in named]
        with self.uow() as uow:
            existing = CollectSubmissions(uow.connection).by_instance(
                phone.expedition.id, submission.instance_id
            )
        if existing is not None and existing.xml_sha256 != xml_sha256:
            raise _different_instance()
        if existing is not None and existing.key_id != phone.id:
            # The instance reached the server first another way (the camp laptop pushed it):
            # one instanceID is one find, and the laptop's push brought its find and photos.
            return Received(
                _message(existing, unnamed, incomplete), existing.id, existing.find_uuid
            )
        known = existing.attachments_received if existing is not None else {}
        wanted = [p for p in parts if p.file_name in named and p.file_name not in known]
        if existing is not None and not wanted:
            # Collect retrying a request whose answer it missed: nothing to write
            return Received(
                _message(existing, unnamed, incomplete), existing.id, existing.find_uuid
            )
        kept = [self._keep(p) for p in wanted]
        photos = {stored.photo.file_name: stored.photo for stored in kept}
        actor = actor_for_username(self.uow, phone.username)
        try:
            # the photos' rows go with the find, in one turn at the database's writer
            with self.uow(write=True) as uow:
                _hold(uow, phone, kept)
                filed = _Filing(uow, phone, submission, xml_text, xml_sha256, self.store)
                row = filed.file(photos, actor)
                uow.commit()
        except CollectRefused:
            # another request filed this instance meanwhile: the photos are in the store all
            # the same, so the member's expedition holds them (DESIGN §4)
            with self.uow(write=True, sequenced=False) as uow:
                _hold(uow, phone, kept)
                uow.commit()
            raise
        return Received(_message(row, unnamed, incomplete), row.id, row.find_uuid)

    def spool(self) -> AttachmentSpool:
        """Files for one request's attachments, in this server's staging folder."""
        return AttachmentSpool(self.staging)

    def _keep(self, part: Attachment) -> _Stored:
        """Copy an attachment to disk unless it is spooled there (never whole in memory),
        read it, and put it in the photo store beside the tus uploads'."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = part.spooled or self.staging / f"attachment-{secrets.token_hex(16)}"
        try:
            if part.spooled is not None:
                part.stream.flush()
                os.fsync(part.stream.fileno())
            else:
                with path.open("wb") as out:
                    shutil.copyfileobj(part.stream, out, _COPY_CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
            # the reading hashes the file on disk: the bytes the store keeps are the bytes hashed
            photo = read_collected_photo(path, part.file_name)
            with path.open("rb") as handle:
                media_type = photo_images.media_type(handle.read(16))
                handle.seek(0)
                size = photo_images.dimensions(handle)
            self.store.put(photo.sha256, path)
        finally:
            path.unlink(missing_ok=True)
        return _Stored(photo, media_type, size)

    # -- a reviewer's correction ------------------------------------------------------------

    def correct(
        self,
        actor: Any,
        submission_id: int,
        fields: Mapping[str, Any],
        reason: str,
        expected_updated_at: str,
    ) -> str:
        """File a submission kept for review as the find its corrected values make; returns
        the find's uuid (the submission's instanceID).

        The values are the phone's as received with ``fields`` laid over them, validated as
        a push would be; a find is then filed through the phone's own filing path, in the
        key member's name. Refused, with nothing changed: values that make no valid find, a
        submission that changed since the form was loaded (``stale``), one already a find.
        """
        reason = reason.strip()
        if not reason:
            raise InvalidInput(
                "a correction says why", [{"field": "reason", "message": "required"}]
            )
        with self.uow() as uow:
            row = CollectSubmissions(uow.connection).get(submission_id)
            expedition = (
                uow.expeditions.by_ids([row.expedition_id]).get(row.expedition_id) if row else None
            )
        if row is None or expedition is None or not actor.may_read(expedition.id):
            raise NotFound(f"no submission {submission_id} that {actor.username} may read")
        if not _may_correct(actor, row):
            raise Forbidden("only reviewers and the expedition's leader correct its submissions")
        if row.updated_at.isoformat() != expected_updated_at:
            raise NotAllowed(
                f"submission {submission_id} changed since the form was loaded", "stale"
            )
        if row.find_uuid is not None:
            raise NotAllowed(f"submission {submission_id} is a find already: correct the find")
        if row.recorded_by_user_id is None or row.recorded_by is None:
            raise NotAllowed(
                f"submission {submission_id} names no member to file its find in the name of"
            )
        # the phone's key, or for a relayed submission the camp laptop that relayed it
        phone = PhoneKey(
            row.key_id,
            expedition,
            row.recorded_by_user_id,
            row.recorded_by,
            row.device_name or "",
            row.survey_uuid,
            row.relayed_by_device,
        )
        member = actor_for_username(self.uow, row.recorded_by)
        submission = parse_submission(row.xml.encode("utf-8"))
        with self.uow(write=True) as uow:
            filing = _Filing(uow, phone, submission, row.xml, row.xml_sha256, self.store)
            current = filing.rows.get(submission_id)
            if current is None or current.updated_at != row.updated_at:
                raise NotAllowed(f"submission {submission_id} changed while filing", "stale")
            # the draft only: a number is taken below, once the values make a find
            context = replace(filing.context(None), next_find_number=lambda: "")
            photos = filing._stored_photos(row.attachments_received, {})
            made = find_from_submission(submission, context, photos)
            # the phone's record stands: its survey, position, photos and member are its own
            data = {**made.draft, **{k: v for k, v in fields.items() if k in CORRECTED}}
            blank_number = not data.get("find_number")
            checked, problems = validate_record_data(
                "find", {**data, "find_number": "?"} if blank_number else data
            )
            if checked is None:
                raise InvalidInput("the corrected values make no valid find", _named(problems))
            if blank_number:
                data["find_number"] = filing._next_find_number()
            checked, problems = validate_record_data("find", data)
            if checked is None:
                raise InvalidInput("the corrected values make no valid find", _named(problems))
            find_rev, push_problems = filing._push(
                submission.instance_id, 0, checked, made.photos, member, submission_id
            )
            if find_rev is None:
                raise InvalidInput("the corrected find was refused", push_problems)
            filing.rows.change(
                submission_id,
                {"find_uuid": submission.instance_id, "find_rev": find_rev, "problems": [],
                 "status": FILED, "updated_at": filing.now},
            )  # fmt: skip
            uow.audit.add(
                filing.now,
                actor.user_id,
                "collect.correct",
                f"expedition:{expedition.code}",
                {"submission_id": submission_id, "find_uuid": submission.instance_id,
                 "fields": sorted(k for k in fields if k in CORRECTED), "reason": reason},
            )  # fmt: skip
            uow.commit()
        return submission.instance_id


# the find's own fields a reviewer corrects in a phone's submission; its survey, position,
# photos and member stay as the phone and its key said
CORRECTED = frozenset(
    {"find_number", "kind", "material", "object_name", "description", "quantity", "weight_g",
     "length_mm", "width_mm", "height_mm", "condition", "site_code", "trench", "context",
     "found_on", "notes"}
)  # fmt: skip


def _named(problems: list[FieldProblem]) -> list[FieldProblem]:
    return [{"field": p["field"].removeprefix("data."), "message": p["message"]} for p in problems]


def _may_correct(actor: Any, row: SubmissionRow) -> bool:
    """The history department, or the expedition's leader, who knows its phones."""
    return bool(actor.may_review() or actor.may_manage_team(row.expedition_id))


def parse_submission(xml: bytes) -> Submission:
    try:
        submission = parse_instance(xml)
    except SubmissionTooLarge as error:
        raise CollectRefused(413, str(error)) from None
    except SubmissionError as error:
        raise CollectRefused(400, str(error)) from None
    if not submission.is_find_form:
        raise CollectRefused(404, f"form {submission.form_id[:80]!r} is not one Qazba serves")
    return submission


def _different_instance() -> CollectRefused:
    return CollectRefused(
        409,
        "a different form with this instanceID was received before; nothing was changed",
    )


def _message(row: SubmissionRow, unnamed: list[str], incomplete: bool) -> str:
    if row.find_uuid is not None and row.status == FILED:
        words = ["The find is filed."]
    elif row.find_uuid is not None:
        words = ["The find is filed; a reviewer will look at: " + _problem_text(row.problems)]
    else:
        words = ["Kept for a reviewer, no find made yet: " + _problem_text(row.problems)]
    missing = [n for n in row.attachments_named if n not in row.attachments_received]
    if missing:
        waiting = "Waiting for photos: " if incomplete else "Photos not received: "
        words.append(waiting + ", ".join(missing) + ".")
    if unnamed:
        words.append("Not stored (the form does not name them): " + ", ".join(unnamed) + ".")
    return " ".join(words)


def _problem_text(problems: list[dict[str, str]]) -> str:
    return "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "nothing"


class _Filing:
    """One submission filed inside a sequenced writing unit of work."""

    def __init__(
        self,
        uow: UnitOfWork,
        phone: PhoneKey,
        submission: Submission,
        xml_text: str,
        xml_sha256: str,
        store: FilesystemPhotoStore,
    ) -> None:
        self.uow = uow
        self.phone = phone
        self.submission = submission
        self.xml_text = xml_text
        self.xml_sha256 = xml_sha256
        self.store = store
        self.rows = CollectSubmissions(uow.connection)
        self.now = now_utc()

    def file(self, new_photos: Mapping[str, CollectedPhoto], actor: Any) -> SubmissionRow:
        expedition = self.phone.expedition
        existing = self.rows.by_instance(expedition.id, self.submission.instance_id)
        if existing is not None and existing.xml_sha256 != self.xml_sha256:
            raise _different_instance()  # another request filed it while this one read
        received = dict(existing.attachments_received) if existing is not None else {}
        received.update({name: photo.sha256 for name, photo in new_photos.items()})
        submission_id = existing.id if existing is not None else self._insert(received)

        # which find this submission is: its own, or the one an earlier submission made
        target, base_rev = None, 0
        if existing is not None:
            target, base_rev = existing.find_uuid, existing.find_rev or 0
        elif self.submission.deprecated_id is not None:
            earlier = self.rows.by_instance(expedition.id, self.submission.deprecated_id)
            if earlier is not None and earlier.find_uuid is not None:
                target, base_rev = earlier.find_uuid, earlier.find_rev or 0
        stored = self.uow.records.get_many([target]).get(target) if target else None
        stored_data = json.loads(stored.data) if stored is not None else None

        context = self.context(stored_data)
        photos = {**self._stored_photos(received, new_photos), **new_photos}
        made = find_from_submission(self.submission, context, photos)
        problems: list[FieldProblem] = [*made.problems, *made.photo_problems]
        find_uuid, find_rev = target, base_rev if target else None
        if made.data is not None:
            find_uuid = target or made.find_uuid
            outcome, push_problems = self._push(find_uuid, base_rev, made.data, made.photos, actor,
                                                submission_id)  # fmt: skip
            problems += push_problems
            if outcome is None:  # the push refused the find: kept for a reviewer
                find_uuid, find_rev = target, base_rev if target else None
            else:
                find_rev = outcome
        values = {
            "find_uuid": find_uuid,
            "find_rev": find_rev,
            "problems": problems,
            "attachments_received": received,
            "status": NEEDS_REVIEW if problems or find_uuid is None else FILED,
            "updated_at": self.now,
        }
        self.rows.change(submission_id, values)
        self.uow.devices.seen(self.phone.device_id, self.phone.user_id, self.now)
        self.uow.audit.add(
            self.now,
            self.phone.user_id,
            "collect.submission",
            f"expedition:{expedition.code}",
            {"submission_id": submission_id, "instance_id": self.submission.instance_id,
             "find_uuid": find_uuid, "status": values["status"], "key_id": self.phone.id},
        )  # fmt: skip
        row = self.rows.get(submission_id)
        assert row is not None
        return row

    def context(self, stored_data: dict[str, Any] | None) -> SubmissionContext:
        """What a find made from this submission takes from the server: the survey and
        number of the find it edits (``stored_data``), else the key's survey and the
        expedition's next number."""
        expedition = self.phone.expedition
        sites = self.uow.expeditions.sites_of([expedition.id])
        return SubmissionContext(
            expedition_code=expedition.code,
            survey_uuid=stored_data["survey_uuid"] if stored_data else self.phone.survey_uuid,
            recorded_by=self.phone.username,
            received_at=self.now,
            next_find_number=(
                (lambda: str(stored_data["find_number"])) if stored_data else self._next_find_number
            ),
            site_codes=[s.code for s in sites],
            region=expedition_region([site_boundary(s.code, s.boundary) for s in sites]),
        )

    def _insert(self, received: dict[str, str]) -> int:
        return keep_submission(
            self.rows,
            expedition_id=self.phone.expedition.id,
            key_id=self.phone.id,
            relayed_by_device=None,
            recorded_by_user_id=self.phone.user_id,
            survey_uuid=self.phone.survey_uuid,
            submission=self.submission,
            xml_text=self.xml_text,
            xml_sha256=self.xml_sha256,
            received_at=self.now,
            now=self.now,
            attachments_received=received,
        )

    def _next_find_number(self) -> str:
        """The expedition's next number, taken as a block of one under the expedition row's
        lock, as devices reserve theirs: two phones never get one number."""
        expedition = self.phone.expedition
        number = self.uow.expeditions.reserve_numbers(expedition.id, 1)
        self.uow.expeditions.record_number_block(
            expedition.id, self.phone.device_id, self.phone.user_id, number, number, self.now
        )
        return format_find_number(expedition.find_number_format, number)

    def _stored_photos(
        self, received: Mapping[str, str], new: Mapping[str, CollectedPhoto]
    ) -> dict[str, CollectedPhoto]:
        """Attachments an earlier request of this submission brought, read from the store."""
        return {
            name: read_collected_photo(self.store.path(sha256), name)
            for name, sha256 in received.items()
            if name not in new and self.store.contains(sha256)
        }

    def _push(
        self,
        find_uuid: str,
        base_rev: int,
        data: dict[str, Any],
        photos: Iterable[dict[str, Any]],
        actor: Any,
        submission_id: int,
    ) -> tuple[int | None, list[FieldProblem]]:
        """The find and its new photo records through the sync push's writer; returns the
        find's server revision this submission now stands on (None when refused) and any
        problems the push found."""
        envelopes: list[dict[str, Any]] = []
        for photo in photos:
            photo = {**photo, "find_uuids": [find_uuid]}
            photo_uuid = str(uuid.uuid5(_PHOTO_NAMESPACE, f"{find_uuid}/{photo['sha256']}"))
            if not self.uow.records.get_many([photo_uuid]):
                envelopes.append(
                    {"type": "photo", "uuid": photo_uuid, "base_rev": 0, "rev": 1, "data": photo}
                )
        # the submission's id is the phone's edit counter: later submissions count higher
        envelopes.append(
            {"type": "find", "uuid": find_uuid, "base_rev": base_rev, "rev": submission_id,
             "data": data}
        )  # fmt: skip
        batch = [prepare_record(index, envelope) for index, envelope in enumerate(envelopes)]
        writer = BatchWriter(self.uow, actor, self.phone.device_id, self.now)
        writer.apply(batch)
        problems: list[FieldProblem] = []
        for item in batch:
            result = item.result or {}
            if result.get("status") == "rejected":
                problems += [
                    {"field": p["field"].removeprefix("data."), "message": p["message"]}
                    for p in result.get("problems", [])
                ]
        find_result = batch[-1].result or {}
        status = find_result.get("status")
        if status == "rejected":
            return None, problems
        if status == "conflict":
            # parked beside the server's version for a person; the phone still stands on base
            return base_rev, problems
        return int(find_result["server_rev"]), problems


# -- the raw submissions, for reviewers ---------------------------------------------------------

MAX_PAGE = 500


def list_submissions(
    uow_factory: UnitOfWorkFactory,
    actor: Any,
    code: str,
    status: str | None,
    after: int,
    limit: int,
) -> dict[str, Any]:
    """A page of the expedition's submissions by id, with their problems; ``after`` is the
    last id of the page before (0 for the first)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"status is one of {', '.join(STATUSES)}",
            [{"field": "status", "message": f"one of {', '.join(STATUSES)}"}],
        )
    if not 1 <= limit <= MAX_PAGE or after < 0:
        raise InvalidInput(
            f"limit is 1 to {MAX_PAGE} and after is 0 or more",
            [{"field": "limit", "message": f"1 to {MAX_PAGE}"}],
        )
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_read(expedition.id):
            raise Forbidden(f"{actor.username} is not a member of {code}")
        rows = CollectSubmissions(uow.connection).page(expedition.id, status, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "submissions": [_listing(row) for row in rows],
        "after": rows[-1].id if rows else after,
        "more": more,
    }


def _listing(row: SubmissionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "deprecated_id": row.deprecated_id,
        "key_id": row.key_id,
        "relayed_by_device": row.relayed_by_device,
        "recorded_by": row.recorded_by,
        "form_version": row.form_version,
        "received_at": row.received_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "status": row.status,
        "find_uuid": row.find_uuid,
        "problems": row.problems,
        "attachments_named": row.attachments_named,
        "attachments_received": row.attachments_received,
        "attachments_missing": [
            n for n in row.attachments_named if n not in row.attachments_received
        ],
    }


def submission_xml(uow_factory: UnitOfWorkFactory, actor: Any, submission_id: int) -> str:
    """The XML exactly as the phone sent it."""
    with uow_factory() as uow:
        row = CollectSubmissions(uow.connection).get(submission_id)
    if row is None or not actor.may_read(row.expedition_id):
        # one answer for both: ids of other expeditions' submissions are not to be probed
        raise NotFound(f"no submission {submission_id} that {actor.username} may read")
    return row.xml


def key_choices(
    uow_factory: UnitOfWorkFactory, actor: Any, code: str
) -> tuple[list[str], dict[str, str]]:
    """What the keys page offers its leader: the team's user names to issue a key for, and
    the expedition's surveys (uuid → title) to send into or to name beside a key."""
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} sees its phones' keys")
        members = [name for name, _ in uow.expeditions.members(expedition.id)]
        surveys = {
            survey.uuid: str(json.loads(survey.data).get("title", ""))
            for survey in uow.finds.of_type("survey", expedition.id)
        }
    return members, surveys


@dataclass(frozen=True)
class NeedsAttention:
    """A submission a person has to look at, with what the phone sent, in the page's terms."""

    id: int
    username: str
    device_name: str  # the key's phone, or the camp laptop's device id when ``relayed``
    relayed: bool
    received_at: datetime
    updated_at: datetime  # the form's guard: a correction of an older state is refused
    find_uuid: str | None
    problems: list[dict[str, str]]
    attachments_missing: list[str]
    values: list[tuple[str, str]]  # each answered question of the form, as written
    draft: dict[str, Any]  # the find the values make, as far as they make one


def needing_attention(
    uow_factory: UnitOfWorkFactory, actor: Any, code: str
) -> tuple[ExpeditionRow, list[NeedsAttention]]:
    """The expedition's submissions kept for review or still missing photos, oldest first,
    for its leader, reviewers and admins."""
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not (actor.may_review() or actor.may_manage_team(expedition.id)):
            raise Forbidden(f"only reviewers and the leader of {code} correct its submissions")
        rows, after = [], 0
        submissions = CollectSubmissions(uow.connection)
        while page := submissions.page(expedition.id, None, after, MAX_PAGE):
            rows += [
                r
                for r in page
                if r.status == NEEDS_REVIEW
                or any(n not in r.attachments_received for n in r.attachments_named)
            ]
            after = page[-1].id
        sites = [s.code for s in uow.expeditions.sites_of([expedition.id])]
    found = []
    for row in rows:
        submission = parse_instance(row.xml.encode("utf-8"))
        context = SubmissionContext(
            expedition_code=expedition.code,
            survey_uuid=row.survey_uuid,
            recorded_by=row.recorded_by or "",
            # SQLite gives back times without their zone; every stored time is UTC
            received_at=row.received_at.replace(tzinfo=row.received_at.tzinfo or UTC),
            next_find_number=lambda: "",  # a draft takes no number of the sequence
            site_codes=sites,
        )
        draft = find_from_submission(submission, context, {}).draft
        found.append(
            NeedsAttention(
                id=row.id,
                username=row.recorded_by or "",
                device_name=row.relayed_by_device or row.device_name or "",
                relayed=row.relayed_by_device is not None,
                received_at=row.received_at,
                updated_at=row.updated_at,
                find_uuid=row.find_uuid,
                problems=row.problems,
                attachments_missing=[
                    n for n in row.attachments_named if n not in row.attachments_received
                ],
                values=[(name, text) for name, text in submission.fields.items() if text.strip()],
                draft=draft,
            )
        )
    return expedition, found


def attention_count(uow_factory: UnitOfWorkFactory, expedition_id: int) -> int:
    """How many of the expedition's submissions wait for a reviewer, for its dashboard."""
    with uow_factory() as uow:
        return len(CollectSubmissions(uow.connection).page(expedition_id, NEEDS_REVIEW, 0, 10_000))
