"""A tus 1.0.0 client for photo files: create, PATCH in checksummed chunks, resume by HEAD."""

# The upload's address is saved in the store as soon as the server gives it, so that a sync
# killed halfway, or a server that went away, is resumed by the next process from the offset
# the server reports, never from zero. Every request may be repeated: a PATCH at an offset the
# server has passed is answered 409, after which HEAD says where to go on.

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from field_client import __version__
from field_client.errors import ClientError
from field_client.transport import (
    RETRY_STATUSES,
    RetryPolicy,
    Transport,
    network_reason,
    retry_after_seconds,
    unreachable,
)

TUS_VERSION = "1.0.0"
UPLOADS = "/api/v1/uploads"
CHUNK_BYTES = 8 * 1024 * 1024
_MAX_ANSWER = 1024 * 1024
NO_ANSWER = 0  # the status of a PATCH that got no answer (the network failed)


class UploadProgress(Protocol):
    def bytes_sent(self, count: int) -> None: ...


class UploadGone(ClientError):
    """The server no longer knows the saved upload (expired, terminated): start a new one."""


@dataclass(frozen=True)
class PhotoUpload:
    sha256: str
    path: Path
    length: int
    file_name: str


@dataclass
class UploadResult:
    sent: int  # bytes sent in this process, chunks sent again included
    resumed_from: int  # the server's offset when this process took the upload up


class TusClient:
    """Uploads to one server's /api/v1/uploads with the transport's address, token and retries."""

    def __init__(
        self,
        transport: Transport,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.chunk_bytes = chunk_bytes
        self.retry = retry or transport.retry
        self._sleep = sleep
        self._connection: http.client.HTTPConnection | None = None

    def sibling(self) -> TusClient:
        """A client like this one on a connection of its own, for another thread."""
        return TusClient(
            self.transport, chunk_bytes=self.chunk_bytes, retry=self.retry, sleep=self._sleep
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def create(self, photo: PhotoUpload) -> str:
        """A new upload on the server; returns its path, to be saved before any byte goes."""
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
            for key, value in (("sha256", photo.sha256), ("filename", photo.file_name))
        )
        status, headers, raw = self._call(
            "POST",
            self.transport.target(UPLOADS),
            {"Upload-Length": str(photo.length), "Upload-Metadata": metadata},
        )
        location = headers.get("Location")
        if status != 201 or not location:
            raise self._refused("create an upload for", photo, status, raw)
        return urlsplit(location).path

    def offset(self, upload_path: str, photo: PhotoUpload) -> int:
        """The server's offset of the upload; UploadGone when it no longer has it."""
        status, headers, raw = self._call("HEAD", upload_path, {})
        if status in (403, 404, 410):
            raise UploadGone(f"the upload of {photo.file_name} is gone from the server")
        offset = headers.get("Upload-Offset", "")
        if status != 200 or not offset.isdigit():
            raise self._refused("ask the offset of", photo, status, raw)
        return int(offset)

    def send(
        self,
        upload_path: str,
        photo: PhotoUpload,
        progress: UploadProgress | None = None,
        *,
        fresh: bool = False,
    ) -> UploadResult:
        """Send the photo from the server's offset to its end, chunk by chunk; an upload this
        process has just created (``fresh``) starts at 0 without asking."""
        offset = 0 if fresh else self.offset(upload_path, photo)
        result = UploadResult(sent=0, resumed_from=offset)
        setbacks = 0
        with open(photo.path, "rb") as stream:
            while offset < photo.length:
                size = min(self.chunk_bytes, photo.length - offset)
                chunk: bytes | _FileRange
                if offset == 0 and size == photo.length:
                    _check_length(stream, photo)
                    # the laptop's copy is named by its SHA-256, checked when it was imported:
                    # the whole file goes from the page cache to the socket unread
                    # (sendfile), and a copy damaged since then is refused (460)
                    chunk, sha256 = _FileRange(stream, 0, size), bytes.fromhex(photo.sha256)
                else:
                    stream.seek(offset)
                    chunk = stream.read(size)
                    if not chunk:
                        raise ClientError(
                            f"{photo.file_name}: the stored copy is shorter than before"
                        )
                    sha256 = hashlib.sha256(chunk).digest()
                digest = base64.b64encode(sha256).decode("ascii")
                status, headers, raw = self._patch(upload_path, offset, chunk, digest)
                result.sent += len(chunk)
                if progress is not None:
                    progress.bytes_sent(len(chunk))
                new_offset = headers.get("Upload-Offset", "")
                if status == 204 and new_offset.isdigit():
                    offset = int(new_offset)
                    setbacks = 0
                    continue
                if status in (403, 404, 410):
                    raise UploadGone(f"the upload of {photo.file_name} is gone from the server")
                if status not in (NO_ANSWER, 409, 460) and status not in RETRY_STATUSES:
                    raise self._refused("upload", photo, status, raw)
                # The chunk did not land whole: the server is elsewhere than we thought (409),
                # the chunk came damaged (460), or the server or the network is in trouble.
                setbacks += 1
                if setbacks >= self.retry.attempts:
                    if status == NO_ANSWER:
                        reason = raw.decode("utf-8", "replace")
                        raise unreachable(self.transport.server_url, reason, setbacks)
                    raise self._refused("upload", photo, status, raw)
                if status == NO_ANSWER or status in RETRY_STATUSES:
                    self._sleep(self.retry.delay(setbacks, retry_after_seconds(headers)))
                # part of the chunk may have been kept: the server says where to go on
                offset = self.offset(upload_path, photo)
        return result

    def _patch(
        self, upload_path: str, offset: int, chunk: bytes | _FileRange, digest: str
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One PATCH, not retried here: after a failure ``send`` asks HEAD where to go on.
        A network failure answers NO_ANSWER with its reason as the body."""
        try:
            return self._exchange(
                "PATCH",
                upload_path,
                self._headers(
                    {
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(len(chunk)),
                        "Upload-Offset": str(offset),
                        "Upload-Checksum": f"sha256 {digest}",
                    }
                ),
                chunk,
            )
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return NO_ANSWER, http.client.HTTPMessage(), network_reason(error).encode("utf-8")

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        sent = {"Tus-Resumable": TUS_VERSION, "User-Agent": f"field-client/{__version__}"}
        sent.update(headers)
        if self.transport.token:
            sent["Authorization"] = f"Bearer {self.transport.token}"
        return sent

    def _call(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request without a body, retried on network errors and 429/5xx with growing
        waits."""
        sent_headers = self._headers(headers)
        if method == "POST":
            sent_headers["Content-Length"] = "0"
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answer_headers, raw = self._exchange(method, target, sent_headers, None)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if attempt >= self.retry.attempts:
                    reason = network_reason(error)
                    raise unreachable(self.transport.server_url, reason, attempt) from None
                self._sleep(self.retry.delay(attempt))
                continue
            if status in RETRY_STATUSES and attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, retry_after_seconds(answer_headers)))
                continue
            return status, answer_headers, raw

    def _exchange(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | _FileRange | None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        if self._connection is None:
            self._connection = self.transport.new_connection()
        if isinstance(body, _FileRange):
            # the headers (with Content-Length) go first, then the file straight to the socket
            self._connection.request(method, target, body=None, headers=headers)
            sock = self._connection.sock
            if sock is None:
                raise ConnectionError("the connection closed before the body was sent")
            body.send_to(sock)
        else:
            self._connection.request(method, target, body=body, headers=headers)
        response = self._connection.getresponse()
        raw = response.read(_MAX_ANSWER)
        if response.will_close or not response.isclosed():
            self.close()
        return response.status, response.headers, raw

    def _refused(self, what: str, photo: PhotoUpload, status: int, raw: bytes) -> ClientError:
        detail = raw[:300].decode("utf-8", "replace")
        reason = f"the server refused to {what} {photo.file_name} ({photo.sha256[:12]}): "
        reason += f"HTTP {status} {detail}"
        if status == 401:
            reason += "; log in again: field-client login"
        return ClientError(reason)


@dataclass(frozen=True)
class _FileRange:
    """A chunk sent from the open file by the kernel (sendfile), never read into memory."""

    stream: BinaryIO
    offset: int
    count: int

    def __len__(self) -> int:
        return self.count

    def send_to(self, sock: socket.socket) -> None:
        sent = sock.sendfile(self.stream, self.offset, self.count)
        if sent != self.count:
            raise ConnectionError(f"sent {sent} of {self.count} bytes: the file grew shorter")


def _check_length(stream: BinaryIO, photo: PhotoUpload) -> None:
    if os.fstat(stream.fileno()).st_size != photo.length:
        raise ClientError(f"{photo.file_name}: the stored copy's size changed since its import")
