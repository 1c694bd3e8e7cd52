"""Who this installation is: its device id, the server it syncs with, the logged-in user."""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from field_client.errors import ClientError
from field_client.home import read_token
from field_client.store import Store, get_setting, set_setting

DEVICE_ID = "device_id"
SERVER_URL = "server_url"
USERNAME = "username"
ROLES = "roles"


@dataclass(frozen=True)
class Account:
    server_url: str
    username: str
    roles: tuple[str, ...]
    device_id: str
    token: str


def device_id(store: Store) -> str:
    """The uuid4 of this installation, made on first use and kept for good.

    The server records it with every batch; it is not tied to a token, so logging in again (or
    as another team member) keeps the device the same.
    """
    with store.transaction() as connection:
        current = get_setting(connection, DEVICE_ID)
        if current is None:
            current = str(uuidlib.uuid4())
            set_setting(connection, DEVICE_ID, current)
    return current


def normalise_server_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"--server must be an http:// or https:// address, not {raw!r}")
    if parts.query or parts.fragment:
        raise ClientError("--server takes the server's address without ?query or #fragment")
    return url


def remember_login(
    connection: sqlite3.Connection, server_url: str, username: str, roles: list[str]
) -> None:
    set_setting(connection, SERVER_URL, server_url)
    set_setting(connection, USERNAME, username)
    set_setting(connection, ROLES, json.dumps(roles))


def holds_records(connection: sqlite3.Connection) -> bool:
    return connection.execute("SELECT 1 FROM record LIMIT 1").fetchone() is not None


def check_same_server(connection: sqlite3.Connection, server_url: str) -> None:
    """Records and cursors belong to one server: switching would mix two museums' data."""
    known = get_setting(connection, SERVER_URL)
    if known is not None and known != server_url and holds_records(connection):
        raise ClientError(
            f"this home holds records of {known}; use another FIELD_CLIENT_HOME for {server_url}"
        )


def username(connection: sqlite3.Connection) -> str | None:
    return get_setting(connection, USERNAME)


def current(store: Store, home: Path) -> Account:
    """The logged-in account, for the commands that talk to the server."""
    with store.reading() as connection:
        server_url = get_setting(connection, SERVER_URL)
        name = get_setting(connection, USERNAME)
        roles = json.loads(get_setting(connection, ROLES) or "[]")
    token = read_token(home)
    if server_url is None or name is None or token is None:
        raise ClientError("not logged in: run field-client login --server URL --username NAME")
    return Account(server_url, name, tuple(roles), device_id(store), token)
