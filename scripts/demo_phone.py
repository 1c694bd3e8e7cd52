"""A phone running ODK Collect, as the demo needs one: it holds the real OpenRosa conversation
(form list, form download with its hash checked, HEAD for the size limit, the multipart POST)
with whatever address its key gives, the museum's server or the camp laptop.

It fills the form the way Collect does: from the primary instance of the form it downloaded,
so the submission carries that form's id and version, the answers by the form's own element
names, one ``photos`` repetition per photo, and ``meta/instanceID``.
"""

from __future__ import annotations

import copy
import hashlib
import io
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

OPENROSA = {"X-OpenRosa-Version": "1.0"}
FORM_LIST = "{http://openrosa.org/xforms/xformsList}"
XFORMS = "{http://www.w3.org/2002/xforms}"
JAVAROSA_TEMPLATE = "{http://openrosa.org/javarosa}template"
OPENROSA_RESPONSE = "{http://openrosa.org/http/response}"


class PhoneError(Exception):
    """The server answered the phone with something Collect would show as an error."""


@dataclass(frozen=True)
class Sent:
    status: int
    message: str
    form_version: str
    form_url: str
    bytes_sent: int


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ask(
    url: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(OPENROSA))
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _rationals(value: float) -> tuple[IFDRational, ...]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10_000)
    return (IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 10_000))


def phone_photo(label: str, lat: float, lon: float, taken: datetime) -> bytes:
    """A phone camera's JPEG: a drawn find on a measuring board, with the phone's GPS and the
    time it was taken in EXIF, as Collect's camera leaves them."""
    seed = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
    picture = Image.new("RGB", (800, 600), (196 + seed % 30, 170 + seed % 20, 130))
    draw = ImageDraw.Draw(picture)
    for step in range(0, 800, 50):  # the measuring board's centimetre marks
        draw.rectangle((step, 560, step + 25, 580), fill=(20, 20, 20))
    draw.ellipse((250 + seed % 60, 160, 560, 420), fill=(92, 84, 76), outline=(40, 36, 30))
    draw.text((20, 20), label, fill=(30, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Qazba demo phone"
    exif[ExifTags.Base.DateTime] = taken.strftime("%Y:%m:%d %H:%M:%S")
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = _rationals(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _rationals(lon)
    gps[ExifTags.GPS.GPSMapDatum] = "WGS-84"
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


class Phone:
    """One phone with one key: ``server_url`` is what Collect's settings QR gives it."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url.rstrip("/")

    def form(self) -> tuple[ET.Element, str, str]:
        """The find form as Collect fetches it: the list, then the form, its md5 checked
        against the list's hash. Returns the form, its version and its address."""
        status, headers, listing = _ask(self.server_url + "/formList")
        if status != 200 or headers.get("X-OpenRosa-Version") != "1.0":
            raise PhoneError(f"the form list answered {status}")
        entry = ET.fromstring(listing).find(f"{FORM_LIST}xform")
        if entry is None:
            raise PhoneError("the form list names no form")
        url = entry.findtext(f"{FORM_LIST}downloadUrl") or ""
        status, _, body = _ask(url)
        if status != 200:
            raise PhoneError(f"the form answered {status}")
        expected = entry.findtext(f"{FORM_LIST}hash") or ""
        if expected != "md5:" + hashlib.md5(body).hexdigest():
            raise PhoneError("the form's bytes do not match the hash in the form list")
        return ET.fromstring(body), entry.findtext(f"{FORM_LIST}version") or "", url

    @staticmethod
    def fill(
        form: ET.Element, answers: dict[str, str], photos: list[str], instance_id: str
    ) -> bytes:
        """The primary instance of ``form`` with the recorder's answers, as Collect saves it:
        no XForms namespace on the instance's elements."""
        model = form.find(f".//{XFORMS}model")
        template = None if model is None else model.find(f"{XFORMS}instance")
        if template is None or len(template) == 0:
            raise PhoneError("the form has no primary instance")
        root = copy.deepcopy(template[0])
        for element in root.iter():
            element.tag = _local_name(element.tag)
        for child in list(root):
            name = child.tag
            if name == "photos":
                root.remove(child)
            elif name in answers:
                child.text = answers[name] or None
        at = next(i for i, child in enumerate(root) if child.tag == "notes")
        for offset, photo in enumerate(photos):
            repetition = ET.Element("photos")
            ET.SubElement(repetition, "photo").text = photo
            root.insert(at + offset, repetition)
        meta = root.find("meta")
        if meta is None:
            meta = ET.SubElement(root, "meta")
        instance = meta.find("instanceID")
        if instance is None:
            instance = ET.SubElement(meta, "instanceID")
        instance.text = f"uuid:{instance_id}"
        for element in root.iter():
            element.attrib.pop(JAVAROSA_TEMPLATE, None)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def send(self, answers: dict[str, str], photos: dict[str, bytes], instance_id: str) -> Sent:
        """The whole conversation for one find, as Collect holds it when the recorder taps
        Send: form list and form (Collect keeps the form it downloaded), HEAD, then POST."""
        form, version, form_url = self.form()
        xml = self.fill(form, answers, list(photos), instance_id)
        status, headers, _ = _ask(self.server_url + "/submission", method="HEAD")
        if status != 204:
            raise PhoneError(f"HEAD of the submission address answered {status}")
        limit = int(headers.get("X-OpenRosa-Accept-Content-Length", "0"))
        boundary = uuid.uuid4().hex
        parts = [("xml_submission_file", "submission.xml", "text/xml", xml)]
        parts += [(name, name, "image/jpeg", body) for name, body in photos.items()]
        body = (
            b"".join(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                    f'filename="{file_name}"\r\nContent-Type: {kind}\r\n\r\n'
                ).encode()
                + data
                + b"\r\n"
                for field, file_name, kind, data in parts
            )
            + f"--{boundary}--\r\n".encode()
        )
        if len(body) > limit:
            raise PhoneError(f"the submission is {len(body)} bytes; the server takes {limit}")
        status, _, answer = _ask(
            self.server_url + "/submission",
            method="POST",
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        message = (
            ET.fromstring(answer).findtext(f"{OPENROSA_RESPONSE}message", default="")
            if answer.startswith(b"<")
            else answer.decode("utf-8", "replace")
        )
        if status not in (201, 202):
            raise PhoneError(f"the submission was refused ({status}): {message}")
        return Sent(status, message.strip(), version, form_url, len(body))
