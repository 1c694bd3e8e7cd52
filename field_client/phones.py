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
