"""Expeditions, their teams and sites, the reference a device takes offline, number blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from field_core.contract import MATERIAL_CODES, material_label

from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.find_numbers import (
    MAX_BLOCK,
    FindNumberFormatError,
    NumberBlock,
    check_format,
    default_format,
)
from field_server.domain.site_boundary import BoundaryError, check_boundary
from field_server.services.auth import now_utc
from field_server.services.errors import AlreadyExists, Forbidden, InvalidInput, NotFound

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


@dataclass(frozen=True)
class ExpeditionSpec:
    code: str
    title: str
    year: int
    find_number_format: str | None = None
    accuracy_threshold_m: float | None = None


def create_expedition(
    uow_factory: UnitOfWorkFactory, actor: Actor | None, spec: ExpeditionSpec
) -> ExpeditionRow:
    """``actor`` None means the server's own CLI, run by whoever administers the machine."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("only an admin creates expeditions")
    if not CODE_PATTERN.match(spec.code):
        raise InvalidInput(
            "an expedition code is 1 to 32 capital Latin letters, digits, '-' or '_'",
            [{"field": "code", "message": "must match ^[A-Z0-9][A-Z0-9_-]{0,31}$"}],
        )
    pattern = spec.find_number_format or default_format(spec.code)
    try:
        check_format(pattern)
    except FindNumberFormatError as error:
        raise InvalidInput(
            str(error), [{"field": "find_number_format", "message": str(error)}]
        ) from None
    with uow_factory(write=True) as uow:
        if uow.expeditions.by_code(spec.code) is not None:
            raise AlreadyExists(f"expedition {spec.code} exists already")
        uow.expeditions.add(
            spec.code, spec.title, spec.year, pattern, spec.accuracy_threshold_m, now_utc()
        )
        uow.audit.add(
            now_utc(),
            actor.user_id if actor else None,
            "expedition.create",
            f"expedition:{spec.code}",
            {"title": spec.title, "year": spec.year},
        )
        row = uow.expeditions.by_code(spec.code)
        uow.commit()
    assert row is not None
    return row


def expedition_by_code(uow: UnitOfWork, code: str) -> ExpeditionRow:
    """The expedition ``code``; NotFound when there is none."""
    expedition = uow.expeditions.by_code(code)
    if expedition is None:
        raise NotFound(f"no expedition {code!r}")
    return expedition


def add_member(
    uow_factory: UnitOfWorkFactory, actor: Actor | None, code: str, username: str, leader: bool
) -> dict[str, Any]:
    with uow_factory(write=True) as uow:
        expedition = expedition_by_code(uow, code)
        if actor is not None and not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} manages its team")
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        added = uow.expeditions.set_member(expedition.id, user.id, leader)
        uow.audit.add(
            now_utc(),
            actor.user_id if actor else None,
            "expedition.member",
            f"expedition:{code}",
            {"username": username, "leader": leader},
        )
        uow.commit()
    return {"expedition_code": code, "username": username, "leader": leader, "added": added}


def add_site(
    uow_factory: UnitOfWorkFactory,
    actor: Actor | None,
    code: str,
    site_code: str,
    name: str,
    boundary: Any,
) -> dict[str, Any]:
    if not CODE_PATTERN.match(site_code):
        raise InvalidInput(
            "a site code is 1 to 32 capital Latin letters, digits, '-' or '_'",
            [{"field": "code", "message": "must match ^[A-Z0-9][A-Z0-9_-]{0,31}$"}],
        )
    try:
        check_boundary(boundary)
    except BoundaryError as error:
        raise InvalidInput(str(error), [{"field": "boundary", "message": str(error)}]) from None
    with uow_factory(write=True) as uow:
        expedition = expedition_by_code(uow, code)
        if actor is not None and not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} sets up its sites")
        if any(s.code == site_code for s in uow.expeditions.sites_of([expedition.id])):
            raise AlreadyExists(f"site {site_code} exists already in {code}")
        uow.expeditions.add_site(expedition.id, site_code, name, boundary)
        uow.audit.add(
            now_utc(),
            actor.user_id if actor else None,
            "site.create",
            f"expedition:{code}",
            {"site": site_code, "name": name},
        )
        uow.commit()
    return {"expedition_code": code, "code": site_code, "name": name, "boundary": boundary}


def reference(uow_factory: UnitOfWorkFactory, actor: Actor) -> dict[str, Any]:
    """Everything a device needs before it goes offline."""
    with uow_factory() as uow:
        expeditions = [e for e in uow.expeditions.all() if actor.may_read(e.id)]
        sites = uow.expeditions.sites_of([e.id for e in expeditions])
    codes = {e.id: e.code for e in expeditions}
    return {
        "expeditions": [
            {
                "code": e.code,
                "title": e.title,
                "year": e.year,
                "find_number_format": e.find_number_format,
                "accuracy_threshold_m": e.accuracy_threshold_m,
                "member": e.id in actor.member_of,
            }
            for e in expeditions
        ],
        "sites": [
            {
                "expedition_code": codes[s.expedition_id],
                "code": s.code,
                "name": s.name,
                "boundary": s.boundary,
            }
            for s in sites
        ],
        "materials": [
            {
                "code": code,
                "labels": {lang: material_label(code, lang) for lang in ("kk", "ru", "en")},
            }
            for code in MATERIAL_CODES
        ],
    }


def reserve_number_block(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, device_id: str, count: int
) -> NumberBlock:
    if not 1 <= count <= MAX_BLOCK:
        raise InvalidInput(
            f"a block holds 1 to {MAX_BLOCK} numbers",
            [{"field": "count", "message": f"1 to {MAX_BLOCK}"}],
        )
    with uow_factory(write=True) as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_record(expedition.id):
            raise Forbidden(f"{actor.username} does not record for {code}")
        first = uow.expeditions.reserve_numbers(expedition.id, count)
        last = first + count - 1
        uow.expeditions.record_number_block(
            expedition.id, device_id, actor.user_id, first, last, now_utc()
        )
        uow.audit.add(
            now_utc(),
            actor.user_id,
            "number_block.reserve",
            f"expedition:{code}",
            {"device_id": device_id, "first": first, "last": last},
        )
        uow.commit()
    return NumberBlock(code, device_id, first, last, expedition.find_number_format)


def readable_expedition(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> ExpeditionRow:
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
    if not actor.may_read(expedition.id):
        raise Forbidden(f"{actor.username} is not a member of {code}")
    return expedition


@dataclass(frozen=True)
class Team:
    expedition: ExpeditionRow
    members: list[tuple[str, bool]]  # username, leader
    candidates: list[str]  # active users not in the team yet, for the admin or leader to add


def team(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Team:
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_manage_team(expedition.id):
            raise Forbidden(f"only an admin or the leader of {code} manages its team")
        members = uow.expeditions.members(expedition.id)
        taken = {name for name, _ in members}
        # A leader is offered the people they already work with, never the museum's whole
        # list of accounts (admins included); anyone else is added by exact user name.
        colleagues: set[str] | None = None
        if not actor.is_admin:
            colleagues = {
                name for other in actor.member_of for name, _ in uow.expeditions.members(other)
            }
        candidates = [
            u.username
            for u in uow.users.all()
            if u.active
            and u.username not in taken
            and (colleagues is None or u.username in colleagues)
        ]
    return Team(expedition, members, candidates)
