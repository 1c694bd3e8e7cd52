"""A simulated phone with ODK Collect, for the end-to-end tests of both phone servers (the
museum's ``field-server serve`` and the camp laptop's ``field-client collect serve``).

It speaks OpenRosa over plain HTTP/1.1 on a socket of its own (http.client), the way Collect
does: the form list, the form, ``HEAD …/submission`` for the size limit, and multipart
submissions with ``xml_submission_file``, one part per photo and ``*isIncomplete*`` when a
submission is split over several requests. It can also send what no honest phone sends:
hostile XML, bodies that lie about their length, or half a request before it goes silent.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from field_core.collect.openrosa import INCOMPLETE_PART, XML_PART
from tests.unit.collect.instances import instance

__all__ = [
    "ALL_WIDGETS",
    "BILLION_LAUGHS",
    "BIRDS",
    "DOCTYPE_ONLY",
    "PHOTO",
    "XXE",
    "Answer",
    "FormEntry",
    "Phone",
    "Refusal",
    "assert_refused",
    "instance",
    "multipart",
    "new_instance_id",
    "refusals",
    "submission_body",
]

FORM_LIST_NS = {"x": "http://openrosa.org/xforms/xformsList"}
RESPONSE_NS = {"r": "http://openrosa.org/http/response"}
OPENROSA = {"X-OpenRosa-Version": "1.0"}
# how Collect names the instance file it posts: the form's title and the time it was saved
INSTANCE_FILE = "Qazba find_2026-07-14_10-32-05.xml"


def new_instance_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Answer:
    """A server's answer as the phone reads it; header names are lower case."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def message(self) -> str:
        """The text of an ``<OpenRosaResponse>``'s message, which Collect shows its user."""
        root = ET.fromstring(self.body)
        return root.findtext("r:message", namespaces=RESPONSE_NS) or ""

    @property
    def nature(self) -> str | None:
        message = ET.fromstring(self.body).find("r:message", RESPONSE_NS)
        return None if message is None else message.get("nature")

    @property
    def openrosa(self) -> bool:
        return self.headers.get("x-openrosa-version") == "1.0"


@dataclass(frozen=True)
class FormEntry:
    """One ``<xform>`` of a form list."""

    form_id: str
    version: str
    hash: str
    download_url: str


def multipart(
    parts: Iterable[tuple[str, str | None, str | None, bytes]], boundary: str | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, file name, content type, bytes) parts, and its
    Content-Type; a part without a file name is a plain form field."""
    boundary = boundary or f"----qazba-phone-{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    for name, file_name, content_type, content in parts:
        disposition = f'form-data; name="{name}"'
        if file_name is not None:
            disposition += f'; filename="{file_name}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        chunks += [head.encode("utf-8"), b"\r\n", content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def submission_body(
    xml: bytes, photos: Mapping[str, bytes], *, incomplete: bool = False
) -> tuple[bytes, str]:
    """A submission request's body as Collect builds it."""
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        (XML_PART, INSTANCE_FILE, "text/xml", xml)
    ]
    parts += [(name, name, "image/jpeg", content) for name, content in photos.items()]
    if incomplete:
        parts.append((INCOMPLETE_PART, None, None, b"yes"))
    return multipart(parts)


class Phone:
    """One phone configured with a key's ``server_url`` (``…/odk/key/<key>/<CODE>``)."""

    def __init__(self, server_url: str, timeout: float = 30) -> None:
        address = urlsplit(server_url)
        assert address.scheme == "http" and address.hostname and address.port
        self.host = address.hostname
        self.port = address.port
        self.path = address.path.rstrip("/")
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request on a new connection; ``path`` is absolute or a full URL of this host."""
        if path.startswith("http://"):
            address = urlsplit(path)
            assert (address.hostname, address.port) == (self.host, self.port), path
            path = address.path
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers={**OPENROSA, **(headers or {})})
            response = connection.getresponse()
            content = response.read()
            names = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, names, content)
        finally:
            connection.close()

    def on_one_connection(
        self, steps: Iterable[tuple[str, str, bytes | None, Mapping[str, str]]]
    ) -> list[Answer]:
        """Requests (method, path under the key, body, headers) in turn on one kept-alive
        connection, as Collect's HTTP client sends HEAD and then POST."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        answers = []
        try:
            for method, path, body, headers in steps:
                connection.request(
                    method, f"{self.path}{path}", body=body, headers={**OPENROSA, **headers}
                )
                response = connection.getresponse()
                content = response.read()
                names = {name.lower(): value for name, value in response.getheaders()}
                answers.append(Answer(response.status, names, content))
        finally:
            connection.close()
        return answers

    # -- what Collect does --------------------------------------------------------------------

    def form_list(self) -> tuple[Answer, list[FormEntry]]:
        answer = self.request("GET", f"{self.path}/formList")
        entries = []
        if answer.status == 200:
            for xform in ET.fromstring(answer.body).findall("x:xform", FORM_LIST_NS):
                entries.append(
                    FormEntry(
                        form_id=xform.findtext("x:formID", "", FORM_LIST_NS),
                        version=xform.findtext("x:version", "", FORM_LIST_NS),
                        hash=xform.findtext("x:hash", "", FORM_LIST_NS),
                        download_url=xform.findtext("x:downloadUrl", "", FORM_LIST_NS),
                    )
                )
        return answer, entries

    def form_version(self) -> str:
        answer, (entry,) = self.form_list()
        assert answer.status == 200
        return entry.version

    def download(self, entry: FormEntry) -> Answer:
        """The form, checked against the list's hash as Collect checks it before keeping it."""
        answer = self.request("GET", entry.download_url)
        if answer.status == 200:
            digest = hashlib.md5(answer.body, usedforsecurity=False).hexdigest()
            assert entry.hash == f"md5:{digest}", "the form's bytes do not match its hash"
        return answer

    def limits(self) -> Answer:
        return self.request("HEAD", f"{self.path}/submission")

    def submit(
        self, xml: bytes, photos: Mapping[str, bytes] | None = None, *, incomplete: bool = False
    ) -> Answer:
        body, content_type = submission_body(xml, photos or {}, incomplete=incomplete)
        return self.post(body, content_type)

    # -- what a hostile or broken sender does -------------------------------------------------

    def post(
        self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> Answer:
        wanted = {"Content-Type": content_type, **(headers or {})}
        return self.request("POST", f"{self.path}/submission", body, wanted)

    def start_post(
        self, body: bytes, content_type: str, sent: int, announced: int | None = None
    ) -> socket.socket:
        """Headers that announce ``announced`` bytes (the whole body unless given), then only
        the body's first ``sent`` bytes; the socket is left open, as a phone's is when its
        Wi-Fi drops in the middle of a send."""
        head = (
            f"POST {self.path}/submission HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            "X-OpenRosa-Version: 1.0\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if announced is None else announced}\r\n\r\n"
        ).encode("ascii")
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.sendall(head + body[:sent])
        return sock

    def post_declaring(self, length: int, content_type: str, first: bytes = b"") -> Answer:
        """A POST whose Content-Length announces ``length`` bytes, of which only ``first`` is
        sent before the answer is read: a server that waited for the rest would hang."""
        sock = self.start_post(first, content_type, len(first), announced=length)
        try:
            return read_answer(sock)
        finally:
            sock.close()


def read_answer(sock: socket.socket) -> Answer:
    """The HTTP answer on a socket the request was written to by hand."""
    response = http.client.HTTPResponse(sock, method="POST")
    try:
        response.begin()
        content = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, names, content)
    finally:
        response.close()


# -- instances no phone of Qazba's sends ---------------------------------------------------------

_PLAIN = instance(photos=(), instance_id="9c0f6a52-31d7-4e0b-8f4a-2b6d5e7c1a90")
_BODY = _PLAIN.split(b"?>", 1)[1]

XXE = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<!DOCTYPE find [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    + _BODY.replace(b"<notes/>", b"<notes>&secret;</notes>")
)
"""An external entity that would read a file of the server into the find's notes."""

BILLION_LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE find [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'.encode()
        for n in range(1, 10)
    )
    + b"]>"
    + _BODY.replace(b"<notes/>", b"<notes>&lol9;</notes>")
)
"""Nine levels of ten: a few hundred bytes that expand to 10⁹ "lol"s."""

DOCTYPE_ONLY = b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE find>' + _BODY
"""A harmless-looking DOCTYPE, still nothing a form instance needs."""

BIRDS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
    b'id="build_Birds_1560352862" version="1560352862">'
    b"<species>raptor</species><count>3</count><location>48.19331 67.84472 427.3 3.9</location>"
    b"<meta><instanceID>uuid:5b0e7a4c-62d1-4f3e-9a8b-7c6d5e4f3a21</instanceID></meta></data>"
)
"""An instance of a form made in ODK Build (the ids are ``build_<Title>_<timestamp>``)."""

ALL_WIDGETS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
    'id="all-widgets" version="2023061401">'
    "<start>2026-07-14T10:28:41.302+05:00</start><end>2026-07-14T10:32:05.117+05:00</end>"
    "<intro/><text_widgets><my_string>Қола</my_string><my_long_text/></text_widgets>"
    "<number_widgets><my_int>4</my_int><my_decimal>1.5</my_decimal></number_widgets>"
    "<geopoint_widgets><my_geopoint>48.19331 67.84472 427.3 3.9</my_geopoint>"
    "</geopoint_widgets><image_widgets><my_image>1720934921312.jpg</my_image></image_widgets>"
    "<meta><instanceID>uuid:8e1d2c3b-4a59-4687-b6c5-d4e3f2a1b0c9</instanceID>"
    "<instanceName>all widgets</instanceName></meta></data>"
).encode()
"""An instance of ODK's "All widgets" sample form, as Collect sends it with its photo."""


# -- requests both phone servers refuse, storing nothing -----------------------------------------

PHOTO = "1720934921312.jpg"


@dataclass(frozen=True)
class Refusal:
    """A submission request a phone server refuses with ``status``, storing nothing; its
    OpenRosa message holds ``says``."""

    status: int
    body: bytes
    content_type: str
    says: str = ""


def _damaged(damage: Callable[[bytes], bytes], jpeg: bytes) -> tuple[bytes, str]:
    xml = instance(instance_id=new_instance_id(), photos=(PHOTO,))
    body, content_type = submission_body(xml, {PHOTO: jpeg})
    return damage(body), content_type


def _named(file_name: str, jpeg: bytes) -> tuple[bytes, str]:
    xml = instance(instance_id=new_instance_id(), photos=(PHOTO,))
    return multipart(
        [(XML_PART, INSTANCE_FILE, "text/xml", xml), (PHOTO, file_name, "image/jpeg", jpeg)]
    )


def _without_xml_part(name: str | None, jpeg: bytes) -> tuple[bytes, str]:
    xml = instance(instance_id=new_instance_id(), photos=(PHOTO,))
    parts: list[tuple[str, str | None, str | None, bytes]] = [(PHOTO, PHOTO, "image/jpeg", jpeg)]
    if name is not None:
        parts.append((name, INSTANCE_FILE, "text/xml", xml))
    return multipart(parts)


def refusals(jpeg: bytes) -> dict[str, Refusal]:
    """Every refused request, by what is wrong with it; ``jpeg`` is a photo a request
    carries beside its fault, so that a server storing it anyway would show."""

    def posted(xml: bytes, photos: Mapping[str, bytes] | None = None) -> tuple[bytes, str]:
        return submission_body(xml, photos or {})

    bad_xml = "DOCTYPE or ENTITY"
    part = "xml_submission_file"
    path = "plain file name"
    cases: dict[str, tuple[int, tuple[bytes, str], str]] = {
        "xxe": (400, posted(XXE, {PHOTO: jpeg}), bad_xml),
        "billion laughs": (400, posted(BILLION_LAUGHS), bad_xml),
        "doctype": (400, posted(DOCTYPE_ONLY), bad_xml),
        "malformed xml": (400, posted(b'<find id="qazba_find"><meta>'), "not well-formed XML"),
        "instance without instanceID": (
            400, posted(instance(photos=()).replace(b"instanceID>", b"instanceId>")),
            "meta/instanceID",
        ),
        "instance over 1 MB": (
            413,
            posted(instance(instance_id=new_instance_id(), answers={"notes": "ә" * 600_000})),
            "above the 1,048,576",
        ),
        "multipart cut off": (400, _damaged(lambda b: b[: len(b) // 2], jpeg), ""),
        "no closing boundary": (400, _damaged(lambda b: b[: b.rindex(b"--")], jpeg), ""),
        "no part headers": (
            400, _damaged(lambda b: b.replace(b"Content-Disposition", b"Content-Dispo"), jpeg),
            "",
        ),
        "not multipart": (400, (instance(photos=()), "text/xml"), "multipart/form-data"),
        "multipart without a boundary": (400, (b"", "multipart/form-data"), ""),
        "no xml part": (400, _without_xml_part(None, jpeg), part),
        "xml part misnamed": (400, _without_xml_part("xml_file", jpeg), part),
        "xml part in capitals": (400, _without_xml_part("XML_SUBMISSION_FILE", jpeg), part),
        "file name ../": (400, _named("../1720934921312.jpg", jpeg), path),
        "file name in a folder": (400, _named("DCIM/1720934921312.jpg", jpeg), path),
        # quoted in the header as \\, so that the server reads one backslash
        "file name ..\\": (400, _named("..\\\\evil.jpg", jpeg), path),
        "file name ..": (400, _named("..", jpeg), path),
        "photo answer with a path": (
            400, posted(instance(instance_id=new_instance_id(), photos=("../../etc/passwd",))),
            path,
        ),
        "odk build birds": (404, posted(BIRDS), "build_Birds_1560352862"),
        "all widgets": (404, posted(ALL_WIDGETS, {PHOTO: jpeg}), "all-widgets"),
        "another form id": (
            404, posted(instance(form_id="qazba_find_v0", instance_id=new_instance_id())),
            "qazba_find_v0",
        ),
    }  # fmt: skip
    return {
        name: Refusal(status, body, content_type, says)
        for name, (status, (body, content_type), says) in cases.items()
    }


def assert_refused(answer: Answer, status: int, says: str = "") -> None:
    """An OpenRosa refusal: the status, the header, XML with a message naming the fault."""
    assert answer.status == status, answer.body
    assert answer.openrosa
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.message
    assert says in answer.message, answer.message
    assert b"root:" not in answer.body  # nothing of the server's /etc/passwd
