"""Phones with ODK Collect in camp (DESIGN §9): the keys this laptop issues to them, Collect's
configuration payload, and the laptop's own address for phones on its Wi-Fi."""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import secrets
import socket
import sqlite3
import struct
from dataclasses import dataclass

from field_client import reference, surveys
from field_client.errors import ClientError
from field_client.store import now_utc
from field_core.collect.phone_settings import collect_settings

DEFAULT_PORT = 8765

_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


@dataclass(frozen=True)
class IssuedKey:
    """The answer to ``collect key``, shaped as the server's key answer."""

    id: int
    key: str
    path: str
    server_url: str
    settings: str
    username: str
    device_name: str
    survey_uuid: str

    def answer(self) -> dict[str, object]:
        return {
            "id": self.id,
            "key": self.key,
            "path": self.path,
            "server_url": self.server_url,
            "settings": self.settings,
        }


@dataclass(frozen=True)
class Phone:
    """A key a phone sends with: who recorded, for which expedition, into which survey."""

    id: int
    expedition_code: str
    survey_uuid: str
    username: str
    device_name: str


def key_path(key: str, code: str) -> str:
    return f"/odk/key/{key}/{code}"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(
    connection: sqlite3.Connection, username: str, device_name: str, base_url: str
) -> IssuedKey:
    """A new key for ``username``'s phone, into the open survey (call inside a transaction).

    The reference names no expedition members, so the user name is taken as given: it becomes
    ``recorded_by`` of the phone's finds, and the server checks it when they are pushed.
    """
    username, device_name = username.strip(), device_name.strip()
    if not 1 <= len(username) <= 150:
        raise ClientError("give the member's user name (1 to 150 characters)")
    if not 1 <= len(device_name) <= 200:
        raise ClientError("a phone's name is 1 to 200 characters")
    survey = surveys.choose(connection, None)
    code = str(survey.data["expedition_code"])
    if reference.expedition(connection, code) is None:
        raise ClientError(
            f"the reference pulled last has no expedition {code}: the phones' form is built "
            "from it; run field-client pull while online"
        )
    key = secrets.token_urlsafe(32)  # 256 random bits, safe in a URL path
    cursor = connection.execute(
        "INSERT INTO collect_key (key_sha256, expedition_code, survey_uuid, username, "
        "device_name, issued_at) VALUES (?, ?, ?, ?, ?, ?)",
        (key_digest(key), code, survey.uuid, username, device_name, now_utc()),
    )
    assert cursor.lastrowid is not None
    path = key_path(key, code)
    server_url = base_url.rstrip("/") + path
    return IssuedKey(
        id=cursor.lastrowid,
        key=key,
        path=path,
        server_url=server_url,
        settings=collect_settings(server_url, code, device_name),
        username=username,
        device_name=device_name,
        survey_uuid=survey.uuid,
    )


def phone_for(connection: sqlite3.Connection, key: str, code: str) -> Phone | None:
    """The phone of an issued, unrevoked key for this expedition; None for anything else."""
    row = connection.execute(
        "SELECT id, expedition_code, survey_uuid, username, device_name FROM collect_key "
        "WHERE key_sha256 = ? AND revoked_at IS NULL",
        (key_digest(key),),
    ).fetchone()
    if row is None or row[1] != code:
        return None
    return Phone(*row)


def laptop_address() -> str:
    """The laptop's first non-loopback IPv4 address, read from its network interfaces.

    Nothing is sent: each interface is asked for its address by ioctl, in the order the kernel
    numbers them (wired and Wi-Fi before most virtual ones).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode("utf-8")[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue  # down, or without an IPv4 address
            address = ipaddress.IPv4Address(answer[20:24])
            if not address.is_loopback and not address.is_unspecified:
                return str(address)
    raise ClientError(
        "this laptop has no network address other than loopback; join the camp Wi-Fi, "
        "or give --url http://ADDRESS:PORT"
    )


def default_url() -> str:
    return f"http://{laptop_address()}:{DEFAULT_PORT}"


@dataclass(frozen=True)
class KeyOnRecord:
    """A key this laptop issued, as ``collect keys`` lists it (the key itself is not kept)."""

    id: int
    username: str
    device_name: str
    expedition_code: str
    survey_uuid: str
    survey_title: str | None
    issued_at: str
    last_used_at: str | None
    revoked_at: str | None
    submissions: int

    def answer(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "device_name": self.device_name,
            "expedition_code": self.expedition_code,
            "survey_uuid": self.survey_uuid,
            "survey_title": self.survey_title,
            "issued_at": self.issued_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "submissions": self.submissions,
        }


_KEYS_ON_RECORD = """
    SELECT k.id, k.username, k.device_name, k.expedition_code, k.survey_uuid,
           json_extract(r.data, '$.title'), k.issued_at, k.last_used_at, k.revoked_at,
           (SELECT count(*) FROM collect_submission s WHERE s.key_id = k.id)
    FROM collect_key k LEFT JOIN record r ON r.uuid = k.survey_uuid AND r.type = 'survey'
"""


def keys_on_record(connection: sqlite3.Connection) -> list[KeyOnRecord]:
    """Every key this laptop issued, the newest first, revoked ones too."""
    rows = connection.execute(_KEYS_ON_RECORD + " ORDER BY k.id DESC").fetchall()
    return [KeyOnRecord(*row) for row in rows]


def revoke_key(connection: sqlite3.Connection, key_id: int) -> tuple[KeyOnRecord, bool]:
    """Revoke a key at once: its phone's next request is refused (call inside a transaction).

    Returns the key and whether this call revoked it; a key revoked before stays as it was.
    """
    connection.execute(
        "UPDATE collect_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (now_utc(), key_id),
    )
    changed = connection.execute("SELECT changes()").fetchone()[0] == 1
    row = connection.execute(_KEYS_ON_RECORD + " WHERE k.id = ?", (key_id,)).fetchone()
    if row is None:
        raise ClientError(
            f"this laptop issued no key {key_id}; field-client collect keys lists them"
        )
    return KeyOnRecord(*row), changed
