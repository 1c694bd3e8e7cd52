"""The duplicate queue as a reviewer reads it: each open candidate with its two finds side by
side, their photos and whether the server holds each photo's file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from field_server.adapters.duplicate_repositories import OPEN
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.services import duplicates


@dataclass(frozen=True)
class PairedFind:
    uuid: str
    status: str | None
    server_rev: int
    data: dict[str, Any]
    photos: list[tuple[str, bool]]  # (sha256, the file is on the server)


@dataclass(frozen=True)
class QueuedPair:
    id: int
    score: float
    rules: list[str]
    distance_m: float
    finds: tuple[PairedFind, PairedFind]


@dataclass(frozen=True)
class DuplicateQueue:
    expedition: ExpeditionRow
    pairs: list[QueuedPair]


def duplicate_queue(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> DuplicateQueue:
    """The open candidates of ``code``, strongest first (the reviewers' queue only)."""
    with uow_factory() as uow:
        # no membership check of its own: a reviewer reads every expedition
        expedition, candidates = duplicates.candidates_for_review(uow, actor, code, OPEN)
        records = uow.records.get_many(u for c in candidates for u in c.pair)
        datas = {uuid: json.loads(r.data) for uuid, r in records.items()}
        stored = uow.blobs.known(sorted({d for data in datas.values() for d in data["photos"]}))
    pairs = []
    for candidate in candidates:
        sides = []
        for uuid in candidate.pair:
            record = records.get(uuid)
            if record is None:  # a find is never deleted; a row without one is no pair to show
                break
            data = datas[uuid]
            sides.append(
                PairedFind(
                    uuid,
                    record.status,
                    record.server_rev,
                    data,
                    [(digest, digest in stored) for digest in data["photos"]],
                )
            )
        if len(sides) == 2:
            pairs.append(
                QueuedPair(
                    candidate.id,
                    candidate.score,
                    list(candidate.rules),
                    candidate.distance_m,
                    (sides[0], sides[1]),
                )
            )
    return DuplicateQueue(expedition, pairs)
