"""Checking an expedition's stored finds against its sites and accuracy threshold again.

The push-time rules (field_server.domain.spatial_checks) run over every find of the
expedition as it now stands, after a boundary was redrawn or the threshold changed. The answer
is a report; stored flags are the push's and are not rewritten here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from field_server.adapters.repositories import FindFilter
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.site_boundary import site_boundary
from field_server.domain.spatial_checks import accuracy_threshold, spatial_flags
from field_server.services.errors import Forbidden, NotFound

# what the checks read of each find (from the find sheet)
_CHECKED = ("uuid", "find_number", "site_code", "horizontal_accuracy_m")


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
        # each row: uuid, find number, site code, horizontal accuracy, then lon and lat
        for rows in uow.sheets.stream_columns(FindFilter(expedition.id), _CHECKED):
            # distances a site at a time: one projection per site and chunk
            by_site: dict[str, list[int]] = defaultdict(list)
            for index, row in enumerate(rows):
                if row[2] in sites:
                    by_site[row[2]].append(index)
            distances: dict[int, float] = {}
            for site_code, indexes in by_site.items():
                lons = [rows[i][-2] for i in indexes]
                lats = [rows[i][-1] for i in indexes]
                measured = sites[site_code].distances_outside_m(lons, lats)
                distances.update(zip(indexes, measured, strict=True))
            for index, (uuid, number, site_code, accuracy, lon, lat) in enumerate(rows):
                checked += 1
                position = {"lon": lon, "lat": lat, "horizontal_accuracy_m": accuracy}
                flags = spatial_flags(
                    position, site_code, set(sites), distances.get(index), code, threshold
                )
                if flags:
                    counts.update(flag["code"] for flag in flags)
                    flagged.append(
                        {"uuid": uuid, "find_number": number, "site_code": site_code,
                         "flags": flags}
                    )  # fmt: skip
    return {
        "expedition_code": code,
        "threshold_m": threshold,
        "checked": checked,
        "counts": dict(sorted(counts.items())),
        "finds": flagged,
    }
