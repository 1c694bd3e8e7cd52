"""A survey as the museum reviews it: its finds chosen, sorted and paged, and its map."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Protocol

from field_server.adapters.find_repositories import RecordText
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.find_query import (
    FindPage,
    FindQuery,
    FindSummary,
    choose_finds,
    matches,
)
from field_server.domain.survey_map import trench_outlines
from field_server.services.errors import Forbidden, NotFound


@dataclass(frozen=True)
class SurveySummary:
    uuid: str
    title: str
    team: list[str]
    started_on: str | None
    ended_on: str | None
    finds: int


@dataclass(frozen=True)
class SurveyView:
    expedition: ExpeditionRow
    survey: SurveySummary
    page: FindPage
    map: dict[str, Any]  # GeoJSON feature collections: sites, trenches, tracks, finds


def expedition_for(uow: UnitOfWork, actor: Actor, code: str) -> ExpeditionRow:
    expedition = uow.expeditions.by_code(code)
    if expedition is None:
        raise NotFound(f"no expedition {code!r}")
    if not actor.may_read(expedition.id):
        raise Forbidden(f"{actor.username} is not a member of {code}")
    return expedition


def readable_expeditions(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[ExpeditionRow]:
    with uow_factory() as uow:
        return [e for e in uow.expeditions.all() if actor.may_read(e.id)]


def survey_summaries(
    uow: UnitOfWork, expedition_id: int, finds: list[RecordText]
) -> list[SurveySummary]:
    """The expedition's surveys, each with how many of ``finds`` (the expedition's, already
    read by the caller) belong to it."""
    counts = Counter(find.survey_uuid for find in finds)
    return [
        _summary(survey, counts[survey.uuid])
        for survey in uow.finds.of_type("survey", expedition_id)
    ]


@dataclass(frozen=True)
class SurveyChoice:
    uuid: str
    title: str


@dataclass(frozen=True)
class ExportChoices:
    """What the exports form offers: the expedition's surveys and site codes."""

    expedition: ExpeditionRow
    surveys: list[SurveyChoice]
    sites: list[str]


def export_choices(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> ExportChoices:
    with uow_factory() as uow:
        expedition = expedition_for(uow, actor, code)
        surveys = uow.finds.of_type("survey", expedition.id)
        sites = [site.code for site in uow.expeditions.sites_of([expedition.id])]
    return ExportChoices(
        expedition=expedition,
        surveys=[SurveyChoice(s.uuid, json.loads(s.data).get("title", "")) for s in surveys],
        sites=sites,
    )


def survey_view(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, survey_uuid: str, query: FindQuery
) -> SurveyView:
    with uow_factory() as uow:
        expedition = expedition_for(uow, actor, code)
        survey = uow.finds.record(survey_uuid)
        if survey is None or survey.type != "survey" or survey.expedition_id != expedition.id:
            raise NotFound(f"no survey {survey_uuid} in {code}")
        finds = uow.finds.of_type("find", expedition.id, survey_uuid)
        tracks = uow.finds.of_type("track", expedition.id, survey_uuid)
        sites = uow.expeditions.sites_of([expedition.id])
        summaries = [find_summary(find) for find in finds]
        stored = uow.blobs.known(sorted({d for f in summaries for d in f.data.get("photos", [])}))
    summaries = [_with_missing_photos(f, stored) for f in summaries]
    page = choose_finds(summaries, query)
    # the map shows every find the filters let through, on any page
    mapped = [f for f in summaries if matches(f, query)]
    return SurveyView(
        expedition=expedition,
        survey=_summary(survey, len(finds)),
        page=page,
        map={
            "sites": _collection(
                _feature(s.boundary, {"code": s.code, "name": s.name}) for s in sites
            ),
            "trenches": _collection(
                _feature(o.geometry, {"site": o.site_code, "trench": o.trench, "finds": o.finds})
                for o in trench_outlines(
                    (
                        f.data.get("site_code"),
                        f.data.get("trench"),
                        f.data["position"]["lon"],
                        f.data["position"]["lat"],
                    )
                    for f in summaries
                )
            ),
            "tracks": _collection(_track_feature(track) for track in tracks),
            "finds": _collection(_find_feature(find) for find in mapped),
        },
    )


def _summary(survey: RecordText, finds: int) -> SurveySummary:
    data = json.loads(survey.data)
    return SurveySummary(
        uuid=survey.uuid,
        title=data.get("title", ""),
        team=list(data.get("team", [])),
        started_on=data.get("started_on"),
        ended_on=data.get("ended_on"),
        finds=finds,
    )


class FindColumns(Protocol):
    """What a find summary reads of a stored find: a RecordText or a records row."""

    uuid: str
    status: str | None
    data: str
    open_conflicts: int
    server_rev: int


def find_summary(find: FindColumns) -> FindSummary:
    return FindSummary(
        find.uuid, find.status, json.loads(find.data), find.open_conflicts, 0, find.server_rev
    )


def _with_missing_photos(find: FindSummary, stored: set[str]) -> FindSummary:
    missing = sum(1 for digest in find.data.get("photos", []) if digest not in stored)
    return replace(find, photos_missing=missing)


def _collection(features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _find_feature(find: FindSummary) -> dict[str, Any]:
    position = find.data["position"]
    return _feature(
        {"type": "Point", "coordinates": [position["lon"], position["lat"]]},
        {
            "uuid": find.uuid,
            "find_number": find.data.get("find_number"),
            "material": find.data.get("material"),
            "object_name": find.data.get("object_name"),
            "status": find.status,
        },
    )


def _track_feature(track: RecordText) -> dict[str, Any]:
    data = json.loads(track.data)
    coordinates = [[point[0], point[1]] for point in data.get("points", [])]
    if data.get("kind") == "waypoints" or len(coordinates) < 2:
        geometry: dict[str, Any] = {"type": "MultiPoint", "coordinates": coordinates}
    else:
        geometry = {"type": "LineString", "coordinates": coordinates}
    return _feature(geometry, {"name": data.get("name"), "kind": data.get("kind")})
