"""An expedition at a glance: finds by status, each device's last sync, finds still waiting
for photos, and records with open conflicts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from field_server.adapters.duplicate_repositories import OPEN
from field_server.adapters.find_repositories import DeviceSync
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.find_status import FindStatus
from field_server.services.survey_view import SurveySummary, expedition_for, survey_summaries

FIND_STATUSES = tuple(status.value for status in FindStatus)


@dataclass(frozen=True)
class FindLine:
    uuid: str
    find_number: str
    object_name: str
    detail: int  # photos missing, or open conflicts


@dataclass(frozen=True)
class Dashboard:
    expedition: ExpeditionRow
    status_counts: dict[str, int]
    finds: int
    surveys: list[SurveySummary]
    devices: list[DeviceSync]
    photos_missing: list[FindLine]
    open_conflicts: list[FindLine]
    open_duplicates: int
    may_manage_team: bool
    may_review: bool


def dashboard(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Dashboard:
    with uow_factory() as uow:
        expedition = expedition_for(uow, actor, code)
        finds = uow.finds.of_type("find", expedition.id)
        surveys = survey_summaries(uow, expedition.id, finds)
        devices = uow.finds.device_syncs(expedition.id)
        open_duplicates = uow.candidates.count(expedition.id, OPEN)
        wanted = {f.uuid: json.loads(f.data) for f in finds}
        stored = uow.blobs.known(sorted({d for data in wanted.values() for d in data["photos"]}))
    missing = []
    for uuid, data in wanted.items():
        absent = sum(1 for digest in data["photos"] if digest not in stored)
        if absent:
            missing.append(FindLine(uuid, data["find_number"], data["object_name"], absent))
    conflicts = [
        FindLine(
            find.uuid,
            wanted[find.uuid]["find_number"],
            wanted[find.uuid]["object_name"],
            find.open_conflicts,
        )
        for find in finds
        if find.open_conflicts > 0
    ]
    counts = Counter(find.status for find in finds)
    ordered = {status: counts.get(status, 0) for status in FIND_STATUSES}
    ordered.update({s: n for s, n in counts.items() if s is not None and s not in ordered})
    return Dashboard(
        expedition=expedition,
        status_counts=ordered,
        finds=len(finds),
        surveys=surveys,
        devices=devices,
        photos_missing=missing,
        open_conflicts=conflicts,
        open_duplicates=open_duplicates,
        may_manage_team=actor.may_manage_team(expedition.id),
        may_review=actor.may_review(),
    )
