"""The accession register: acceptance acts, their permanent numbers, entries and amendments.

An act takes approved finds of one expedition into one fund. Its receipt number and its
items' numbers are taken, the entries written and every find marked accessioned in ONE
writing unit of work, so a number is used exactly when its act is committed: a failure
anywhere rolls the counter back with everything else, and no number is skipped or reused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from field_core.contract import MATERIAL_CODES

from field_core.validation import validate_record_data
from field_server.adapters.repositories import as_utc
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor, Role
from field_server.domain.find_numbers import natural_key
from field_server.domain.find_status import (
    FindStatus,
    TransitionRefused,
    check_transition,
)
from field_server.domain.register_numbers import (
    Fund,
    RegisterError,
    RegisterNumber,
    act_label,
    amendable_fields,
    next_receipt,
    number_items,
    parse_amendment,
    parse_fund,
    parse_register_number,
)
from field_server.services.auth import now_utc
from field_server.services.errors import Forbidden, InvalidInput, NotAllowed, NotFound
from field_server.services.museum_revisions import (
    FindChange,
    StoredFind,
    load_find,
    load_finds,
    record_museum_revision,
    record_museum_revisions,
)

AMENDABLE = amendable_fields(MATERIAL_CODES)
MAX_ACT_ITEMS = 10_000
ENTRIES_PAGE = 1_000  # entries in a page of the register when no limit is asked for
MAX_ENTRIES_PAGE = 10_000

# The find's fields an entry freezes at accession, as the museum's books hold them.
FROZEN_FIND_FIELDS = (
    "find_number",
    "kind",
    "object_name",
    "description",
    "quantity",
    "material",
    "condition",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "site_code",
    "trench",
    "context",
    "found_on",
    "recorded_by",
    "notes",
)


@dataclass(frozen=True)
class ActRequest:
    expedition_code: str
    fund: str
    find_uuids: Sequence[str]
    received_by: str | None = None
    storage_location: str | None = None


@dataclass(frozen=True)
class CreatedAct:
    fund: Fund
    act_number: int
    entries: list[tuple[str, RegisterNumber]]  # (find uuid, its number), in item order


@dataclass(frozen=True)
class Amendment:
    field: str
    old: Any
    new: Any
    reason: str
    by: str
    at: datetime
    find_server_rev: int | None


@dataclass(frozen=True)
class Entry:
    """One line of the register: what was accessioned, and what it says now."""

    number: RegisterNumber
    find_uuid: str
    expedition_code: str
    accessioned_at: datetime
    accessioned: dict[str, Any]  # the values frozen at accession
    amendments: list[Amendment] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        """The accessioned values with every amendment applied in the order made."""
        values = dict(self.accessioned)
        for amendment in self.amendments:
            values[amendment.field] = amendment.new
        return values


@dataclass(frozen=True)
class Act:
    fund: Fund
    act_number: int
    expedition_code: str
    expedition_title: str
    expedition_year: int
    created_at: datetime
    created_by: str
    received_by: str | None
    handed_over_by: str | None
    storage_location: str | None
    entries: list[Entry]

    @property
    def label(self) -> str:
        return act_label(self.fund, self.act_number)


def require_registrar(actor: Actor) -> None:
    """Only registrars and admins change the register (:class:`Forbidden` otherwise)."""
    if not actor.has_any(Role.REGISTRAR, Role.ADMIN):
        raise Forbidden("only a registrar or an admin changes the register")


def require_reader(actor: Actor) -> None:
    """Registrars, reviewers and admins read it (:class:`Forbidden` otherwise)."""
    if not actor.has_any(Role.REGISTRAR, Role.REVIEWER, Role.ADMIN):
        raise Forbidden("only registrars, reviewers and admins read the register")


def _fund_of_path(text: str) -> Fund:
    try:
        return parse_fund(text)
    except RegisterError as error:
        raise NotFound(str(error)) from None


def _optional_text(value: str | None, name: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value.strip()) > limit:
        raise InvalidInput(
            f"{name} is too long", [{"field": name, "message": f"at most {limit} characters"}]
        )
    return value.strip()


# -- acts ------------------------------------------------------------------------------------


def create_act(
    uow_factory: UnitOfWorkFactory, actor: Actor, request: ActRequest, now: datetime | None = None
) -> CreatedAct:
    """Accession ``request.find_uuids`` (all approved, all of one expedition) into one fund."""
    require_registrar(actor)
    try:
        fund = parse_fund(request.fund)
    except RegisterError as error:
        raise InvalidInput(str(error), [{"field": "fund", "message": str(error)}]) from None
    uuids = list(request.find_uuids)
    if not uuids:
        raise InvalidInput(
            "an act takes at least one find", [{"field": "find_uuids", "message": "is empty"}]
        )
    if len(uuids) > MAX_ACT_ITEMS:
        raise InvalidInput(
            f"an act takes at most {MAX_ACT_ITEMS:,} finds",
            [{"field": "find_uuids", "message": f"at most {MAX_ACT_ITEMS} items"}],
        )
    seen: dict[str, int] = {}
    repeats = []
    for index, uuid in enumerate(uuids):
        if uuid in seen:
            repeats.append(
                {"field": f"find_uuids[{index}]", "message": f"repeats item {seen[uuid] + 1}"}
            )
        seen.setdefault(uuid, index)
    if repeats:
        raise InvalidInput("a find is listed more than once", repeats)
    received_by = _optional_text(request.received_by, "received_by", 200)
    storage_location = _optional_text(request.storage_location, "storage_location", 500)
    now = now or now_utc()

    # The writing unit first locks the change counter (UnitOfWork.__enter__), which serialises
    # every writer, on PostgreSQL across server processes too; the fund's counter row is then
    # locked as well, so that the receipt number is read and moved on by one transaction at a
    # time even if some future writer took the fund lock without the change counter. Both
    # locks are always taken in this order, so two registrars wait for each other, never
    # deadlock, and each commit takes exactly the next receipt number: gapless and unique.
    with uow_factory(write=True) as uow:
        expedition = uow.expeditions.by_code(request.expedition_code)
        if expedition is None:
            raise InvalidInput(
                f"no expedition {request.expedition_code!r}",
                [{"field": "expedition_code", "message": "no such expedition"}],
            )
        finds = _approved_finds(uow, uuids, expedition.id, expedition.code)
        receipt = next_receipt(uow.register.lock_fund(fund.value))
        numbers = number_items(fund, receipt, len(finds))
        label = act_label(fund, receipt)
        leaders = [name for name, leader in uow.expeditions.members(expedition.id) if leader]
        sites = {s.code: s.name for s in uow.expeditions.sites_of([expedition.id])}
        uow.register.add_act(
            {
                "fund": fund.value,
                "act_number": receipt,
                "expedition_id": expedition.id,
                "created_at": now,
                "created_by": actor.user_id,
                "received_by": received_by,
                "handed_over_by": ", ".join(leaders) or None,
                "storage_location": storage_location,
                "item_count": len(finds),
            }
        )
        uow.register.add_entries(
            [
                {
                    "fund": fund.value,
                    "act_number": receipt,
                    "item": number.item,
                    "register_number": number.cyrillic,
                    "find_uuid": find.uuid,
                    "expedition_id": expedition.id,
                    "accessioned_values": json.dumps(
                        _frozen_values(find, sites, received_by, storage_location),
                        ensure_ascii=False,
                    ),
                    "storage_location": storage_location,
                    "received_by": received_by,
                    "accessioned_at": now,
                }
                for find, number in zip(finds, numbers, strict=True)
            ]
        )
        uow.register.set_last_receipt(fund.value, receipt)
        record_museum_revisions(
            uow,
            [
                FindChange(
                    find,
                    status=FindStatus.ACCESSIONED,
                    register_number=number.cyrillic,
                    detail={"act": label},
                )
                for find, number in zip(finds, numbers, strict=True)
            ],
            user_id=actor.user_id,
            now=now,
            action="register.accession",
            reason=f"act {label}",
        )
        uow.audit.add(
            now,
            actor.user_id,
            "register.act",
            f"act:{label}",
            {
                "fund": fund.value,
                "act_number": receipt,
                "expedition_code": expedition.code,
                "items": len(finds),
                "first": numbers[0].cyrillic,
                "last": numbers[-1].cyrillic,
                "received_by": received_by,
                "storage_location": storage_location,
            },
        )
        uow.commit()
    return CreatedAct(fund, receipt, [(f.uuid, n) for f, n in zip(finds, numbers, strict=True)])


def approved_finds_of(
    uow_factory: UnitOfWorkFactory, actor: Actor, expedition_code: str
) -> list[str]:
    """The uuids of an expedition's approved finds in find-number order (``B-9`` before
    ``B-10``), for an act of all of them."""
    require_registrar(actor)
    with uow_factory() as uow:
        expedition = uow.expeditions.by_code(expedition_code)
        if expedition is None:
            raise NotFound(f"no expedition {expedition_code!r}")
        rows = uow.register.approved_finds(expedition.id)
    rows.sort(key=lambda row: (natural_key(row[1] or ""), row[0]))
    return [uuid for uuid, _ in rows]


def _approved_finds(
    uow: UnitOfWork, uuids: list[str], expedition_id: int, expedition_code: str
) -> list[StoredFind]:
    """The finds, locked, in the order given; every reason one cannot be taken, at once."""
    finds: list[StoredFind] = []
    unknown: list[dict[str, str]] = []
    refused: list[dict[str, str]] = []
    loaded = load_finds(uow, uuids, lock=True)
    for index, uuid in enumerate(uuids):
        where = f"find_uuids[{index}]"
        find = loaded.get(uuid)
        if find is None:
            unknown.append({"field": where, "message": f"no find {uuid}"})
            continue
        if find.expedition_id != expedition_id:
            unknown.append(
                {"field": where, "message": f"find {uuid} is not of expedition {expedition_code}"}
            )
            continue
        try:
            check_transition(find.status, FindStatus.ACCESSIONED)
        except TransitionRefused as error:
            refused.append({"field": where, "message": f"{find.find_number or uuid}: {error}"})
            continue
        finds.append(find)
    if unknown:
        raise InvalidInput("the act names finds it cannot take", unknown)
    if refused:
        first = refused[0]["message"]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        error = NotAllowed(f"not every find can be accessioned: {first}{more}")
        error.errors = refused
        raise error
    return finds


def _frozen_values(
    find: StoredFind, sites: dict[str, str], received_by: str | None, storage: str | None
) -> dict[str, Any]:
    data = find.data
    values = {name: data.get(name) for name in FROZEN_FIND_FIELDS}
    values["site_name"] = sites.get(data.get("site_code") or "")
    values["depth_m"] = (data.get("position") or {}).get("depth_m")
    values["storage_location"] = storage
    values["received_by"] = received_by
    values["inventory_number"] = None
    return values


def read_act(uow_factory: UnitOfWorkFactory, actor: Actor, fund_text: str, number: int) -> Act:
    require_reader(actor)
    fund = _fund_of_path(fund_text)
    with uow_factory() as uow:
        row = uow.register.act(fund.value, number)
        if row is None:
            raise NotFound(f"no act {act_label(fund, number)}")
        expedition = uow.expeditions.by_ids([row.expedition_id])[row.expedition_id]
        entries = _entries(uow, uow.register.entries(fund.value, number))
    return Act(
        fund=fund,
        act_number=number,
        expedition_code=expedition.code,
        expedition_title=expedition.title,
        expedition_year=expedition.year,
        created_at=as_utc(row.created_at),
        created_by=row.created_by_name,
        received_by=row.received_by,
        handed_over_by=row.handed_over_by,
        storage_location=row.storage_location,
        entries=entries,
    )


def _entries(uow: UnitOfWork, rows: list[Any]) -> list[Entry]:
    amendments = uow.register.amendments_of([row.id for row in rows])
    found = uow.expeditions.by_ids({row.expedition_id for row in rows})
    codes = {expedition_id: e.code for expedition_id, e in found.items()}
    return [
        Entry(
            number=RegisterNumber(Fund(row.fund), row.act_number, row.item),
            find_uuid=row.find_uuid,
            expedition_code=codes[row.expedition_id],
            accessioned_at=as_utc(row.accessioned_at),
            accessioned=json.loads(row.accessioned_values),
            amendments=[
                Amendment(
                    field=a.field,
                    old=json.loads(a.old_value),
                    new=json.loads(a.new_value),
                    reason=a.reason,
                    by=a.username,
                    at=as_utc(a.at),
                    find_server_rev=a.find_server_rev,
                )
                for a in amendments.get(row.id, [])
            ],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class EntryPage:
    entries: list[Entry]
    next_after: RegisterNumber | None  # the last entry's number, when more entries follow


def list_entries(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    fund_text: str | None = None,
    act_number: int | None = None,
    *,
    after: str | None = None,
    limit: int = ENTRIES_PAGE,
) -> EntryPage:
    """The register in its order (fund, receipt, item), of one fund or act when given, a page
    of at most ``limit`` entries after the register number ``after`` (``KP 12/3``)."""
    require_reader(actor)
    if act_number is not None and fund_text is None:
        # receipt numbers are counted per fund: an act number alone names two acts
        raise InvalidInput(
            "act is a receipt number of the fund given",
            [{"field": "act", "message": "a positive whole number, with fund"}],
        )
    fund: Fund | None = None
    if fund_text is not None:
        try:
            fund = parse_fund(fund_text)
        except RegisterError as error:
            raise InvalidInput(str(error), [{"field": "fund", "message": str(error)}]) from None
    start: RegisterNumber | None = None
    if after is not None:
        try:
            start = parse_register_number(after)
        except RegisterError as error:
            raise InvalidInput(str(error), [{"field": "after", "message": str(error)}]) from None
    if not 1 <= limit <= MAX_ENTRIES_PAGE:
        raise InvalidInput(
            f"limit is from 1 to {MAX_ENTRIES_PAGE}",
            [{"field": "limit", "message": f"from 1 to {MAX_ENTRIES_PAGE}"}],
        )
    after_key = (start.fund.value, start.receipt, start.item) if start else None
    with uow_factory() as uow:
        # one more than asked tells whether another page follows
        rows = uow.register.entries(
            fund.value if fund else None, act_number, after=after_key, limit=limit + 1
        )
        entries = _entries(uow, rows[:limit])
    more = len(rows) > limit
    return EntryPage(entries, entries[-1].number if more else None)


def _no_entry(fund: Fund, act_number: int, item: int) -> NotFound:
    # spelled out rather than through RegisterNumber, which refuses a receipt or item below 1:
    # a path naming item 0 is an entry that is not there, not a bad request
    return NotFound(f"no entry {fund.cyrillic} {act_number}/{item}")


def read_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, fund_text: str, act_number: int, item: int
) -> Entry:
    """One entry of the register with its amendments (:class:`NotFound` when there is none)."""
    require_reader(actor)
    fund = _fund_of_path(fund_text)
    with uow_factory() as uow:
        rows = uow.register.entries(fund.value, act_number, item)
        if not rows:
            raise _no_entry(fund, act_number, item)
        (entry,) = _entries(uow, rows)
    return entry


# -- amendments ------------------------------------------------------------------------------


def amend_entry(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    fund_text: str,
    act_number: int,
    item: int,
    field_name: str,
    new: Any,
    reason: str,
    now: datetime | None = None,
) -> Amendment:
    """Annotate one entry: the field's old and new value, who, when and why.

    The entry itself is never rewritten. A field the find carries also changes the find, as a
    museum revision that devices pull.
    """
    require_registrar(actor)
    fund = _fund_of_path(fund_text)
    try:
        amendable, value = parse_amendment(AMENDABLE, field_name, new)
    except RegisterError as error:
        where = "field" if field_name not in AMENDABLE else "new"
        raise InvalidInput(str(error), [{"field": where, "message": str(error)}]) from None
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "an amendment says why", [{"field": "reason", "message": "may not be empty"}]
        )
    now = now or now_utc()
    with uow_factory(write=True) as uow:
        rows = uow.register.entries(fund.value, act_number, item)
        if not rows:
            raise _no_entry(fund, act_number, item)
        (entry,) = _entries(uow, rows)
        old = entry.current.get(amendable.name)
        if old == value:
            raise InvalidInput(
                f"{entry.number.cyrillic} already holds this {amendable.name}",
                [{"field": "new", "message": "equals the entry's current value"}],
            )
        find_rev = None
        if amendable.on_find:
            find_rev = _amend_find(uow, actor, entry, amendable.name, value, reason, now)
        uow.register.add_amendment(
            {
                "entry_id": rows[0].id,
                "field": amendable.name,
                "old_value": json.dumps(old, ensure_ascii=False),
                "new_value": json.dumps(value, ensure_ascii=False),
                "reason": reason,
                "user_id": actor.user_id,
                "at": now,
                "find_server_rev": find_rev,
            }
        )
        uow.audit.add(
            now,
            actor.user_id,
            "register.amend",
            f"entry:{entry.number.cyrillic}",
            {"field": amendable.name, "old": old, "new": value, "find_server_rev": find_rev},
            reason,
        )
        uow.commit()
    return Amendment(amendable.name, old, value, reason, actor.username, now, find_rev)


def _amend_find(
    uow: UnitOfWork, actor: Actor, entry: Entry, name: str, value: Any, reason: str, now: datetime
) -> int:
    find = load_find(uow, entry.find_uuid, lock=True)
    data, problems = validate_record_data("find", {**find.data, name: value})
    if data is None:
        raise InvalidInput("the amended find would not be a valid find", problems)
    return record_museum_revision(
        uow,
        find,
        user_id=actor.user_id,
        now=now,
        action="register.amend",
        reason=reason,
        data=data,
        detail={"register_number": entry.number.cyrillic},
    )
