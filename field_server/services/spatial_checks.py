"""Checking an expedition's stored finds against its sites and accuracy threshold again.

The push-time rules (field_server.domain.spatial_checks) run over every find of the
expedition as it now stands, after a boundary was redrawn or the threshold changed. The answer
is a report; stored flags are the push's and are not rewritten here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from field_server.adapters.repositories import FindFilter
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.site_boundary import site_boundary
from field_server.domain.spatial_checks import accuracy_threshold, spatial_flags
from field_server.services.errors import Forbidden, NotFound


def check_expedition(
    uow_factory: UnitOfWorkFactory, actor: Actor | None, code: str
) -> dict[str, Any]:
    """``{expedition_code, threshold_m, checked, counts, finds: [{uuid, find_number,
    site_code, flags}]}`` with only the flagged finds listed."""
    with uow_factory() as uow:
        expedition = uow.expeditions.by_code(code)
        if expedition is None:
            raise NotFound(f"no expedition {code!r}")
        if actor is not None and not actor.may_read(expedition.id):
            raise Forbidden(f"{actor.username} is not a member of {code}")
        sites = {
            s.code: site_boundary(s.code, s.boundary)
            for s in uow.expeditions.sites_of([expedition.id])
        }
        threshold = accuracy_threshold(expedition.accuracy_threshold_m)
        flagged: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        checked = 0
        for rows in uow.records.stream_finds(FindFilter(expedition.id)):
            datas = [json.loads(row.data) for row in rows]
            # distances a site at a time: one projection per site and chunk
            by_site: dict[str, list[int]] = defaultdict(list)
            for index, data in enumerate(datas):
                if data.get("site_code") in sites:
                    by_site[data["site_code"]].append(index)
            distances: dict[int, float] = {}
            for site_code, indexes in by_site.items():
                lons = [datas[i]["position"]["lon"] for i in indexes]
                lats = [datas[i]["position"]["lat"] for i in indexes]
                measured = sites[site_code].distances_outside_m(lons, lats)
                distances.update(zip(indexes, measured, strict=True))
            for index, (row, data) in enumerate(zip(rows, datas, strict=True)):
                checked += 1
                flags = spatial_flags(
                    data["position"],
                    data.get("site_code"),
                    set(sites),
                    distances.get(index),
                    code,
                    threshold,
                )
                if flags:
                    counts.update(flag["code"] for flag in flags)
                    flagged.append(
                        {
                            "uuid": row.uuid,
                            "find_number": data["find_number"],
                            "site_code": data.get("site_code"),
                            "flags": flags,
                        }
                    )
    return {
        "expedition_code": code,
        "threshold_m": threshold,
        "checked": checked,
        "counts": dict(sorted(counts.items())),
        "finds": flagged,
    }
