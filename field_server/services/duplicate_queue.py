"""The duplicate queue as a reviewer reads it, a page at a time: each open pair with its two
finds side by side, each number group with its finds one under another, their photos and
whether the server holds each photo's file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from field_server.adapters.duplicate_repositories import OPEN
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.services import duplicates

PAGE = 20  # candidates per page: a phone's screenful of decisions, whatever the queue's length
SHOWN = 50  # finds of one group shown on the page; a merge takes every one of them


@dataclass(frozen=True)
class PairedFind:
    uuid: str
    status: str | None
    server_rev: int
    data: dict[str, Any]
    photos: list[tuple[str, bool]]  # (sha256, the file is on the server)


@dataclass(frozen=True)
class QueuedCandidate:
    id: int
    score: float
    rules: list[str]
    distance_m: float | None
    find_number: str | None  # a number group's number; None for a pair
    finds: list[PairedFind]  # a pair's two, or a group's first SHOWN
    total: int  # how many finds the candidate holds


@dataclass(frozen=True)
class DuplicateQueue:
    expedition: ExpeditionRow
    candidates: list[QueuedCandidate]
    open: int  # open candidates in all
    next: str | None  # the after of the next page
    after: str | None  # the after of this page


def duplicate_queue(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, after: str | None = None
) -> DuplicateQueue:
    """A page of the open candidates of ``code``, strongest first (the reviewers' queue)."""
    with uow_factory() as uow:
        # no membership check of its own: a reviewer reads every expedition
        expedition, rows, following = duplicates.candidates_for_review(
            uow, actor, code, OPEN, PAGE, after
        )
        total = uow.candidates.count(expedition.id, OPEN)
        wanted = [u for row in rows for u in row.standing[:SHOWN]]
        records = uow.records.get_many(wanted)
        datas = {uuid: json.loads(r.data) for uuid, r in records.items()}
        stored = uow.blobs.known(sorted({d for data in datas.values() for d in data["photos"]}))
    queued = []
    for row in rows:
        finds = []
        for uuid in row.standing[:SHOWN]:
            record = records.get(uuid)
            if record is None:  # a find is never deleted; a row without one is none to show
                continue
            data = datas[uuid]
            finds.append(
                PairedFind(
                    uuid,
                    record.status,
                    record.server_rev,
                    data,
                    [(digest, digest in stored) for digest in data["photos"]],
                )
            )
        if len(finds) >= 2:
            queued.append(
                QueuedCandidate(
                    row.id,
                    row.score,
                    list(row.rules),
                    row.distance_m,
                    row.find_number,
                    finds,
                    len(row.standing),
                )
            )
    return DuplicateQueue(expedition, queued, total, following, after)
