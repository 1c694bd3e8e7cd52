"""Keys for phones with ODK Collect (DESIGN §9): issued by the expedition's leader or an admin
for one member and one phone, listed without their secret, revoked at once.

A key stands in for a password on the phone: Collect keeps the server address it was given,
and the key is part of that address (``/odk/key/<key>/<CODE>``), so the phone never asks its
user for a login. Only the key's SHA-256 is stored.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from field_core.collect.phone_settings import collect_settings
from field_core.content_hash import canonical_json, text_hash
from field_core.geo.geotag import KAZAKHSTAN_TIME
from field_core.validation import validate_record_data
from field_server.adapters.collect_repositories import CollectKeyRow, CollectKeys
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor, Role
from field_server.services.auth import now_utc, token_digest
from field_server.services.errors import Forbidden, InvalidInput, NotFound
from field_server.services.expeditions import expedition_by_code


@dataclass(frozen=True)
class IssuedKey:
    id: int
    key: str
    path: str
    server_url: str
    settings: str
    survey_uuid: str


@dataclass(frozen=True)
class PhoneKey:
    """A resolved key: who sends with it, for which expedition, into which survey.

    A submission the camp laptop relayed has no key the server knows (the laptop issues its
    phones' keys itself): a reviewer correcting one files it as sent by the laptop, with
    ``id`` None and ``relayed_by_device`` the laptop's device id.
    """

    id: int | None
    expedition: ExpeditionRow
    user_id: int
    username: str
    device_name: str
    survey_uuid: str
    relayed_by_device: str | None = None

    @property
    def device_id(self) -> str:
        """The device id its finds are recorded under, one per key as one per installation;
        the laptop's own for what it relayed."""
        if self.relayed_by_device is not None:
            return self.relayed_by_device
        return f"collect-key-{self.id}"


def key_path(key: str, code: str) -> str:
    return f"/odk/key/{key}/{code}"


def issue_key(
    uow_factory: UnitOfWorkFactory,
    actor: Actor | None,
    code: str,
    username: str,
    device_name: str,
    survey_uuid: str | None,
    base_url: str,
) -> IssuedKey:
    """A new key for ``username``'s phone; ``actor`` None is the server's own CLI.

    Without ``survey_uuid`` a survey named after the member and the phone is made, a record
    of the server's like a museum revision, so devices pull it before the finds it holds.
    """
    device_name = device_name.strip()
    if not 1 <= len(device_name) <= 200:
        raise InvalidInput(
            "a phone's name is 1 to 200 characters",
            [{"field": "device_name", "message": "1 to 200 characters"}],
        )
    key = secrets.token_urlsafe(32)  # 256 random bits, safe in a URL path
    now = now_utc()
    with uow_factory(write=True) as uow:
        expedition = expedition_by_code(uow, code)
        if actor is not None and not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} issues its phones' keys")
        user = uow.users.by_username(username)
        if user is None or not user.active:
            raise NotFound(f"no active user {username!r}")
        members = dict(uow.expeditions.members(expedition.id))
        if username not in members:
            raise InvalidInput(
                f"{username} is not a member of {code}",
                [{"field": "username", "message": f"not a member of {code}"}],
            )
        if Role.RECORDER.value not in user.roles and Role.ADMIN.value not in user.roles:
            raise InvalidInput(
                f"{username} does not record finds (no recorder role)",
                [{"field": "username", "message": "needs the recorder role"}],
            )
        if survey_uuid is None:
            survey_uuid = _new_survey(uow, expedition, username, device_name, actor, now)
        elif not uow.records.survey_exists(expedition.id, survey_uuid.lower()):
            raise InvalidInput(
                f"no survey {survey_uuid} in {code}",
                [{"field": "survey_uuid", "message": f"no such survey in {code}"}],
            )
        survey_uuid = survey_uuid.lower()
        keys = CollectKeys(uow.connection)
        key_id = keys.add(
            token_digest(key),
            expedition.id,
            user.id,
            device_name,
            survey_uuid,
            actor.user_id if actor else None,
            now,
        )
        uow.audit.add(
            now,
            actor.user_id if actor else None,
            "collect_key.issue",
            f"expedition:{code}",
            {"key_id": key_id, "username": username, "device_name": device_name,
             "survey_uuid": survey_uuid},
        )  # fmt: skip
        uow.commit()
    path = key_path(key, code)
    server_url = base_url.rstrip("/") + path
    return IssuedKey(
        key_id, key, path, server_url, collect_settings(server_url, code, device_name), survey_uuid
    )


def _new_survey(
    uow: UnitOfWork,
    expedition: ExpeditionRow,
    username: str,
    device_name: str,
    actor: Actor | None,
    now: datetime,
) -> str:
    survey_uuid = str(uuid.uuid4())
    data, problems = validate_record_data(
        "survey",
        {
            "expedition_code": expedition.code,
            "title": f"{username} · {device_name}"[:500],
            "team": [username],
            "started_on": now.astimezone(KAZAKHSTAN_TIME).date().isoformat(),
            "ended_on": None,
            "notes": "ODK Collect",
        },
    )
    if data is None:
        raise InvalidInput("the phone's survey cannot be made", problems)
    text = canonical_json(data)
    digest = text_hash(text)
    uow.records.insert_records(
        [
            {
                "uuid": survey_uuid, "type": "survey", "expedition_id": expedition.id,
                "survey_uuid": survey_uuid, "find_number": None, "photo_sha256": None,
                "server_rev": 1, "data": text, "content_hash": digest,
                "seq": uow.changes.take(), "status": None, "register_number": None,
                "merged_into": None, "flags": "[]", "open_conflicts": 0,
                "created_at": now, "updated_at": now,
            }
        ]
    )  # fmt: skip
    uow.records.insert_revisions(
        [
            {
                "uuid": survey_uuid, "server_rev": 1, "data": text, "content_hash": digest,
                "origin": "museum", "device_id": None, "device_rev": None, "base_rev": 0,
                "user_id": actor.user_id if actor else None, "created_at": now,
            }
        ]
    )  # fmt: skip
    return survey_uuid


def key_listing(row: CollectKeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "device_name": row.device_name,
        "survey_uuid": row.survey_uuid,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


def list_keys(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> list[dict[str, Any]]:
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} sees its phones' keys")
        rows = CollectKeys(uow.connection).of_expedition(expedition.id)
    return [key_listing(row) for row in rows]


def revoke_key(uow_factory: UnitOfWorkFactory, actor: Actor | None, key_id: int) -> None:
    now = now_utc()
    with uow_factory(write=True, sequenced=False) as uow:
        keys = CollectKeys(uow.connection)
        row = keys.get(key_id)
        if row is None:
            raise NotFound(f"no phone key {key_id}")
        if actor is not None and not actor.may_manage_team(row.expedition_id):
            raise Forbidden("only an admin or the expedition's leader revokes its phones' keys")
        keys.revoke(key_id, now)
        uow.audit.add(
            now,
            actor.user_id if actor else None,
            "collect_key.revoke",
            f"collect_key:{key_id}",
            {"username": row.username, "device_name": row.device_name},
        )
        uow.commit()


def phone_key(uow: UnitOfWork, key: str, code: str) -> PhoneKey | None:
    """The key a phone's address carries, if it may still send to expedition ``code``: not
    revoked, its member still active and in the team. None for anything else, alike."""
    # The lookup is by the key's SHA-256, never by the key: timing tells nothing about keys.
    row = CollectKeys(uow.connection).by_hash(token_digest(key))
    if row is None or row.revoked_at is not None:
        return None
    expedition = uow.expeditions.by_code(code)
    if expedition is None or expedition.id != row.expedition_id:
        return None
    user = uow.users.by_id(row.user_id)
    if user is None or not user.active:
        return None
    if expedition.id not in {e for e, _ in uow.users.memberships(user.id)}:
        return None
    return PhoneKey(row.id, expedition, row.user_id, row.username, row.device_name, row.survey_uuid)
