"""The camp laptop as the phones' server (DESIGN §9, "In camp"): the OpenRosa endpoints the
museum's server answers, for the open survey, with keys the laptop issued itself.

A phone's find goes into the laptop's store and outbox as a find recorded on the laptop (a
blank number takes the next of the laptop's reserved block), its photos into the laptop's
photo folder as photo records, and the submission as received as a ``submission`` record, so
``field-client sync`` takes all of it to the server. Every write is committed (WAL,
synchronous=FULL) before the phone hears 201: a laptop killed after the answer loses nothing,
one killed before makes Collect send again, and the same XML again writes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server
from waitress.task import ErrorTask
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from field_client import number_blocks, photo_files, photos, records, reference
from field_client.errors import ClientError
from field_client.phones import Phone, phone_for
from field_client.records import LocalRecord
from field_client.store import Store, now_utc
from field_client.validation import checked_data
from field_core.collect.find_from_submission import (
    CollectedPhoto,
    SubmissionContext,
    find_from_submission,
    read_collected_photo,
)
from field_core.collect.form import (
    FORM_ID,
    FindForm,
    FormReference,
    FormSite,
    build_find_form,
    form_list_entry,
    form_list_xml,
    form_version,
)
from field_core.collect.openrosa import (
    INCOMPLETE_PART,
    XML_PART,
    message_xml,
    plain_file_name,
)
from field_core.collect.submission import (
    MAX_SUBMISSION_BYTES,
    Submission,
    SubmissionError,
    SubmissionTooLarge,
    parse_submission,
)
from field_core.geo.coordinates import work_region
from field_core.validation import FieldProblem

MAX_REQUEST_BYTES = 50 * 1024 * 1024
"""Largest submission request taken, as the server's default: a find's form and a few phone
photos; Collect sends more attachments in further requests."""


_LAST_USE_PRECISION = timedelta(minutes=1)

Environ = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Refused(Exception):
    """A request the phone gets an OpenRosa message for, and nothing is stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refused_key() -> Refused:
    # 403, never 401: on a 401 Collect asks its user for a password nobody has
    return Refused(403, "this phone's key is unknown, revoked or not for this expedition")


@dataclass(frozen=True)
class Received:
    """What a submission request came to: the message for the phone, the line for the log."""

    message: str
    log: str


@dataclass(frozen=True)
class _Kept:
    """A row of collect_submission."""

    record_uuid: str
    xml_sha256: str
    find_uuid: str | None
    attachments: dict[str, str]


class CampServer:
    """The phones' server on the laptop: keys checked, the form built, submissions filed."""

    def __init__(self, home: Path, store_path: Path, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.home = home
        self.store_path = store_path
        self.max_bytes = max_bytes
        self._forms: dict[str, FindForm] = {}
        # One submission at a time: two requests of one instance (Collect retrying while the
        # first is still being filed) must not both see it as new.
        self._filing = threading.Lock()
        self._last_use: dict[int, datetime] = {}  # key id → last use written
        self._last_use_lock = threading.Lock()

    def _open(self) -> Store:
        # A connection per request: sqlite3 connections stay in the thread that made them.
        return Store.open(self.store_path)

    # -- keys and the form -------------------------------------------------------------------

    def phone(self, key: str, code: str) -> Phone:
        """The key's phone, or Refused(403); a found key's last use is noted, to the minute."""
        store = self._open()
        try:
            with store.reading() as connection:
                phone = phone_for(connection, key, code)
            if phone is None:
                raise refused_key()
            now = datetime.now(UTC)
            # A phone makes two requests per find (HEAD, POST): a write for each would wait
            # for the store's one writer, for a time `collect keys` shows to the minute.
            with self._last_use_lock:
                noted = self._last_use.get(phone.id)
                due = noted is None or now - noted >= _LAST_USE_PRECISION
                if due:
                    self._last_use[phone.id] = now
            if due:
                with store.transaction() as connection:
                    connection.execute(
                        "UPDATE collect_key SET last_used_at = ? WHERE id = ?",
                        (now_utc(), phone.id),
                    )
        finally:
            store.close()
        return phone

    def form(self, phone: Phone) -> FindForm:
        """The find form for the key's expedition from the reference the laptop pulled last."""
        store = self._open()
        try:
            with store.reading() as connection:
                form_reference = _form_reference(connection, phone.expedition_code)
        finally:
            store.close()
        version = form_version(form_reference)
        form = self._forms.get(version)
        if form is None:
            form = build_find_form(form_reference)
            self._forms = {version: form}  # a pull changes the reference: only the newest
        return form

    # -- submissions -------------------------------------------------------------------------

    def receive(
        self,
        phone: Phone,
        xml: bytes,
        attachments: Iterable[tuple[str, BinaryIO]],
        incomplete: bool,
    ) -> Received:
        """File one submission request (DESIGN §9); Refused for what is not taken."""
        try:
            submission = parse_submission(xml)
        except SubmissionTooLarge as error:
            raise Refused(413, str(error)) from None
        except SubmissionError as error:
            raise Refused(400, str(error)) from None
        if not submission.is_find_form:
            raise Refused(404, f"no form {submission.form_id[:80]!r} is served here")
        try:
            xml_text = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "the form instance is not UTF-8") from None
        xml_sha256 = hashlib.sha256(xml).hexdigest()
        named = set(submission.photo_files)
        parts = list(attachments)
        unnamed = [name for name, _ in parts if name not in named]
        store = self._open()
        try:
            with store.reading() as connection:
                seen = _kept(connection, phone.expedition_code, submission.instance_id)
            if seen is not None and seen.xml_sha256 != xml_sha256:
                raise _different_instance()
            # Copied and read before the filing, each phone's photos beside the others': the
            # photo folder is content-addressed, so a file left by a crash, or by a request
            # of the same instance filed first meanwhile, is only ever the same bytes again.
            arrived = {
                name: self._keep_file(name, stream)
                for name, stream in parts
                if name in named and name not in (seen.attachments if seen else {})
            }
            with self._filing, store.transaction() as connection:
                # again, now that no other request is filing: one of the same instance (Collect
                # retrying while the first was still being read) may have filed it meanwhile
                kept = _kept(connection, phone.expedition_code, submission.instance_id)
                if kept is not None and kept.xml_sha256 != xml_sha256:
                    raise _different_instance()
                known = kept.attachments if kept is not None else {}
                copied = {name: photo for name, photo in arrived.items() if name not in known}
                filing = _Filing(connection, self.home, phone, submission)
                if kept is None:
                    find_uuid, problems = filing.file_new(xml_text, xml_sha256, copied)
                else:
                    find_uuid, problems = filing.add_attachments(kept, copied)
                received = {**known, **{n: p.sha256 for n, p in copied.items()}}
        finally:
            store.close()
        missing = [name for name in submission.photo_files if name not in received]
        message = _message(find_uuid, problems, missing, unnamed, incomplete)
        outcome = "again, nothing new" if kept is not None and not copied else "kept"
        log = (
            f"submission {submission.instance_id} from {phone.username} ({phone.device_name}): "
            f"{outcome}; {message}"
        )
        return Received(message, log)

    def _keep_file(self, name: str, stream: BinaryIO) -> CollectedPhoto:
        sha256, path = photo_files.keep_stream(self.home, stream, name)
        collected = read_collected_photo(path, name)
        assert collected.sha256 == sha256
        return collected


def _form_reference(connection: sqlite3.Connection, code: str) -> FormReference:
    expedition = reference.expedition(connection, code)
    if expedition is None:
        raise Refused(
            503, f"this laptop has no reference for {code}; pull it while online, then try again"
        )
    sites = connection.execute(
        "SELECT code, name FROM site WHERE expedition_code = ? ORDER BY code", (code,)
    ).fetchall()
    return FormReference(
        expedition_code=code,
        expedition_title=expedition.title,
        accuracy_threshold_m=expedition.accuracy_threshold_m,
        sites=tuple(FormSite(str(site_code), str(name)) for site_code, name in sites),
        materials=tuple(
            (m_code, dict(labels)) for m_code, labels in reference.materials(connection)
        ),
    )


def _kept(connection: sqlite3.Connection, code: str, instance_id: str) -> _Kept | None:
    row = connection.execute(
        "SELECT record_uuid, xml_sha256, find_uuid, attachments FROM collect_submission "
        "WHERE expedition_code = ? AND instance_id = ?",
        (code, instance_id),
    ).fetchone()
    return None if row is None else _Kept(row[0], row[1], row[2], json.loads(row[3]))


class _Filing:
    """One submission filed inside the store's write transaction."""

    def __init__(
        self, connection: sqlite3.Connection, home: Path, phone: Phone, submission: Submission
    ) -> None:
        self.connection = connection
        self.home = home
        self.phone = phone
        self.submission = submission
        self.code = phone.expedition_code
        self.now = datetime.now(UTC)

    def file_new(
        self, xml_text: str, xml_sha256: str, copied: dict[str, CollectedPhoto]
    ) -> tuple[str | None, list[FieldProblem]]:
        """A first request of an instance: its find made (or edited) and the submission kept."""
        if _kept(self.connection, self.code, self.submission.instance_id) is not None:
            raise _different_instance()  # cannot happen under the lock; guards the invariant
        find_uuid, problems = self._find(copied)
        received_at = self.now.isoformat(timespec="seconds")
        data = {
            "expedition_code": self.code,
            "survey_uuid": self.phone.survey_uuid,
            "instance_id": self.submission.instance_id,
            "find_uuid": find_uuid,
            "received_at": received_at,
            "xml": xml_text,
        }
        # Its own uuid: the instanceID is already the find's.
        record = records.create(self.connection, "submission", checked_data("submission", data))
        self.connection.execute(
            "INSERT INTO collect_submission (expedition_code, instance_id, record_uuid, "
            "xml_sha256, key_id, find_uuid, attachments, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.code,
                self.submission.instance_id,
                record.uuid,
                xml_sha256,
                self.phone.id,
                find_uuid,
                json.dumps({n: p.sha256 for n, p in copied.items()}, sort_keys=True),
                received_at,
            ),
        )
        return find_uuid, problems

    def add_attachments(
        self, kept: _Kept, copied: dict[str, CollectedPhoto]
    ) -> tuple[str | None, list[FieldProblem]]:
        """The same instance again (a retry, or the attachments Collect sent later): only the
        files not received before are added, to the find it made."""
        if not copied:
            return kept.find_uuid, []
        received = {**kept.attachments, **{n: p.sha256 for n, p in copied.items()}}
        self.connection.execute(
            "UPDATE collect_submission SET attachments = ? "
            "WHERE expedition_code = ? AND instance_id = ?",
            (json.dumps(received, sort_keys=True), self.code, self.submission.instance_id),
        )
        find = records.get(self.connection, kept.find_uuid) if kept.find_uuid else None
        if find is None:
            return kept.find_uuid, []
        context = self._context(find)
        made = find_from_submission(self.submission, context, copied)
        self._save_photos(find.uuid, str(find.data["survey_uuid"]), made.photos)
        return find.uuid, list(made.photo_problems)

    def _find(self, copied: dict[str, CollectedPhoto]) -> tuple[str | None, list[FieldProblem]]:
        """The find this submission makes or edits; None (with why) when it makes none."""
        target: LocalRecord | None = None
        if self.submission.deprecated_id is not None:
            earlier = _kept(self.connection, self.code, self.submission.deprecated_id)
            if earlier is not None and earlier.find_uuid is not None:
                target = records.get(self.connection, earlier.find_uuid)
        if target is None:
            already = records.get(self.connection, self.submission.instance_id)
            if already is not None:
                # The phone sent it to the server before, and a pull brought the find here:
                # one instanceID is one find.
                return already.uuid, []
        try:
            made = find_from_submission(self.submission, self._context(target), copied)
        except ClientError as error:  # no reserved numbers left: kept for a reviewer
            return None, [{"field": "find_number", "message": error.reason}]
        problems = [*made.problems, *made.photo_problems]
        if made.data is None:
            return None, problems
        if target is None:
            find_uuid = self.submission.instance_id
            survey_uuid = self.phone.survey_uuid
            records.create(self.connection, "find", made.data, uuid=find_uuid)
        else:
            find_uuid = target.uuid
            survey_uuid = str(target.data["survey_uuid"])
            if made.data != target.data:
                try:
                    records.revise(self.connection, target, made.data)
                except ClientError as error:  # an open conflict waits for a person
                    return None, [*problems, {"field": "find", "message": error.reason}]
        self._save_photos(find_uuid, survey_uuid, made.photos)
        return find_uuid, problems

    def _context(self, find: LocalRecord | None) -> SubmissionContext:
        """What the laptop knows that the submission does not say: the survey and number of
        the find it edits, else the key's survey and the next number of the laptop's block.
        Positions are checked against the expedition's work region, from the site boundaries
        pulled last, as the server checks them."""
        instance_id = self.submission.instance_id

        def next_number() -> str:
            return number_blocks.take_next(self.connection, self.code, instance_id)

        return SubmissionContext(
            expedition_code=self.code,
            survey_uuid=str(find.data["survey_uuid"]) if find else self.phone.survey_uuid,
            recorded_by=self.phone.username,
            received_at=self.now,
            next_find_number=(lambda: str(find.data["find_number"])) if find else next_number,
            site_codes=reference.site_codes(self.connection, self.code) or None,
            region=work_region(reference.site_boxes(self.connection, self.code)),
        )

    def _save_photos(
        self, find_uuid: str, survey_uuid: str, photo_data: Iterable[dict[str, Any]]
    ) -> None:
        """Photo records of the find, by the same uuid an import of the file would give, and
        the find holding each by its SHA-256."""
        for data in photo_data:
            sha256 = str(data["sha256"])
            uuid = photos.photo_uuid(survey_uuid, sha256)
            existing = records.get(self.connection, uuid)
            if existing is None:
                wanted = {**data, "survey_uuid": survey_uuid, "find_uuids": [find_uuid]}
                records.create(self.connection, "photo", checked_data("photo", wanted), uuid=uuid)
            elif find_uuid not in existing.data.get("find_uuids", []):
                finds = [*existing.data.get("find_uuids", []), find_uuid]
                records.revise(
                    self.connection,
                    existing,
                    checked_data("photo", {**existing.data, "find_uuids": finds}),
                )
            self.connection.execute(
                "INSERT INTO photo_file (sha256, bytes, media_type, stored_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                (sha256, int(data["bytes"]), str(data["media_type"]), now_utc()),
            )
            find = records.get(self.connection, find_uuid)
            assert find is not None
            held = list(find.data.get("photos") or [])
            if sha256 not in held:
                records.revise(
                    self.connection,
                    find,
                    checked_data("find", {**find.data, "photos": [*held, sha256]}),
                )


def _different_instance() -> Refused:
    return Refused(
        409, "a different form with this instanceID was received before; nothing was changed"
    )


def _message(
    find_uuid: str | None,
    problems: list[FieldProblem],
    missing: list[str],
    unnamed: list[str],
    incomplete: bool,
) -> str:
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "nothing"
    if find_uuid is not None and not problems:
        words = ["The find is filed."]
    elif find_uuid is not None:
        words = ["The find is filed; a reviewer will look at: " + text]
    else:
        words = ["Kept for a reviewer, no find made yet: " + text]
    if missing:
        waiting = "Waiting for photos: " if incomplete else "Photos not received: "
        words.append(waiting + ", ".join(missing) + ".")
    if unnamed:
        words.append("Not stored (the form does not name them): " + ", ".join(unnamed) + ".")
    return " ".join(words)


# -- HTTP ------------------------------------------------------------------------------------


def _headers(content_type: str | None = None) -> list[tuple[str, str]]:
    headers = [("X-OpenRosa-Version", "1.0"), ("Date", formatdate(usegmt=True))]
    if content_type:
        headers.append(("Content-Type", content_type))
    return headers


class PhoneApp:
    """The WSGI application: ``/odk/key/<key>/<CODE>/formList``, ``…/forms/qazba_find.xml``,
    ``HEAD|POST …/submission``; every answer OpenRosa XML with ``X-OpenRosa-Version: 1.0``."""

    def __init__(self, camp: CampServer, log: Callable[[str], None] = lambda line: None) -> None:
        self.camp = camp
        self.log = log

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            status, headers, body = self._answer(environ, method)
        except Refused as refused:
            if method == "POST":
                self.log(f"submission refused ({refused.status}): {refused.message}")
            status, headers, body = (
                refused.status,
                _headers("text/xml; charset=utf-8"),
                message_xml(refused.message),
            )
        except Exception as error:
            # Nothing was committed (the transaction rolled back): Collect keeps the form and
            # sends it again; the log says what to look at.
            self.log(
                f"{method} {environ.get('PATH_INFO', '')} failed: {type(error).__name__}: {error}"
            )
            status, headers, body = (
                500,
                _headers("text/xml; charset=utf-8"),
                message_xml("the laptop could not take this request; it will be sent again"),
            )
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS.get(status, '')}".strip(), headers)
        return [b""] if method == "HEAD" else [body]

    def _answer(self, environ: Environ, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        path = str(environ.get("PATH_INFO", ""))
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[:2] != ["odk", "key"]:
            raise Refused(404, "nothing here; phones use the address of their key")
        key, code, rest = parts[2], parts[3], parts[4:]
        phone = self.camp.phone(key, code)
        xml_type = "text/xml; charset=utf-8"
        if rest == ["formList"] and method in ("GET", "HEAD"):
            base = _request_base(environ) + f"/odk/key/{key}/{code}"
            form = self.camp.form(phone)
            return 200, _headers(xml_type), form_list_xml([form_list_entry(form, base)])
        if len(rest) == 2 and rest[0] == "forms" and method in ("GET", "HEAD"):
            if rest[1] != f"{FORM_ID}.xml":
                raise Refused(404, f"no form {rest[1][:80]!r} here")
            return 200, _headers(xml_type), self.camp.form(phone).xml
        if rest == ["submission"] and method == "HEAD":
            headers = [*_headers(), ("X-OpenRosa-Accept-Content-Length", str(self.camp.max_bytes))]
            return 204, headers, b""
        if rest == ["submission"] and method == "POST":
            received = self._submission(environ, phone)
            self.log(received.log)
            return 201, _headers(xml_type), message_xml(received.message, "submit_success")
        if rest in (["formList"], ["submission"]) or rest[:1] == ["forms"]:
            raise Refused(405, f"{method} is not answered here")
        raise Refused(404, "nothing here")

    def _submission(self, environ: Environ, phone: Phone) -> Received:
        limit = self.camp.max_bytes
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise Refused(400, "the request's Content-Length is not a number") from None
        if length > limit:  # refused before a byte of the body is read
            raise Refused(413, f"a submission request takes at most {limit:,} bytes")
        if not str(environ.get("CONTENT_TYPE", "")).startswith("multipart/form-data"):
            raise Refused(400, "send the submission as multipart/form-data")
        # werkzeug keeps parts over 500 kB in temporary files: a photo is never whole in memory.
        # It refuses a stream that reaches its maximum (it reads once more to see the end), so
        # the maximum is one byte over the limit: a body of exactly the limit is taken.
        try:
            _, form, files = parse_form_data(environ, max_content_length=limit + 1, silent=False)
        except RequestEntityTooLarge:
            raise Refused(413, f"a submission request takes at most {limit:,} bytes") from None
        except (HTTPException, ValueError) as error:
            raise Refused(400, f"the multipart body could not be read: {error}") from None
        try:
            parts: list[tuple[str, FileStorage]] = list(files.items(multi=True))
            for name, part in parts:
                for given in (name, part.filename or ""):
                    if not plain_file_name(given):
                        raise Refused(400, f"a part is named {given[:80]!r}, not a plain file name")
            xml_parts = [part for name, part in parts if name == XML_PART]
            if len(xml_parts) != 1:
                raise Refused(400, f"send the form instance as one part named {XML_PART}")
            xml = xml_parts[0].stream.read(MAX_SUBMISSION_BYTES + 1)
            attachments = [
                (part.filename or name, part.stream) for name, part in parts if name != XML_PART
            ]
            incomplete = form.get(INCOMPLETE_PART, "").strip().lower() in ("yes", "true")
            return self.camp.receive(phone, xml, attachments, incomplete)
        finally:
            for _, part in files.items(multi=True):
                part.close()


class _OpenRosaRefusal(ErrorTask):
    """waitress's own refusal of a request the app never sees (a body over its limit, refused
    from the headers before a byte of it is read; a request it cannot parse), said as the app
    says every refusal: Collect shows the message and keeps the form to send again."""

    def execute(self) -> None:
        error = self.request.error
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1  # see phone_server
            text = f"a submission request takes at most {limit:,} bytes"
        else:
            text = f"the request could not be read: {error.reason}"
        body = message_xml(text)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(_headers("text/xml; charset=utf-8"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _PhoneChannel(HTTPChannel):
    error_task_class = _OpenRosaRefusal


def phone_server(
    app: PhoneApp, host: str, port: int, threads: int
) -> BaseWSGIServer | MultiSocketServer:
    """waitress serving ``app`` on ``host:port``, not yet running (``run()``, ``close()``).

    waitress holds a request body before the app runs, so its limit is the app's own: a body
    over it is refused from its Content-Length, unread, and its answer is OpenRosa like the
    app's. It answers many phones on threads and keeps a body over 512 kB in a temporary
    file, never in memory.
    """
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        # waitress refuses a body as long as its limit: one byte more takes a body of exactly
        # the length the phone is told it may send
        max_request_body_size=app.camp.max_bytes + 1,
        ident="qazba-field-client",
        clear_untrusted_proxy_headers=True,
    )
    # each listening socket (one per address the host names) makes a channel of this class
    # for every connection it accepts
    listening = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for socket_server in listening:
        if isinstance(socket_server, BaseWSGIServer):
            socket_server.channel_class = _PhoneChannel
    return server


def _request_base(environ: Environ) -> str:
    """The laptop's address as this request reached it, so the phone downloads the form by the
    address it already uses (``Host``; the socket's address when a client sends none)."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"
