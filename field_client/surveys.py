"""Surveys on the laptop: starting one (it becomes the open survey), listing, closing."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from field_client import account, records, reference
from field_client.errors import ClientError
from field_client.records import LocalRecord
from field_client.store import get_setting, set_setting
from field_client.validation import checked_data

OPEN_SURVEY = "open_survey"


def open_survey_uuid(connection: sqlite3.Connection) -> str | None:
    return get_setting(connection, OPEN_SURVEY)


def start(
    connection: sqlite3.Connection,
    expedition_code: str,
    title: str,
    team: list[str],
    started_on: str | None,
    notes: str | None,
) -> LocalRecord:
    """A new survey, saved and made the open one (call inside a transaction)."""
    if reference.has_reference(connection):
        known = [e.code for e in reference.expeditions(connection)]
        if expedition_code not in known:
            raise ClientError(
                f"no expedition {expedition_code!r} in the reference pulled from the server; "
                f"known: {', '.join(known)}"
            )
    members = team or [name for name in [account.username(connection)] if name]
    data: dict[str, Any] = {
        "expedition_code": expedition_code,
        "title": title,
        "team": members,
        "started_on": started_on or date.today().isoformat(),
        "ended_on": None,
        "notes": notes,
    }
    record = records.create(connection, "survey", checked_data("survey", data))
    set_setting(connection, OPEN_SURVEY, record.uuid)
    return record


def choose(connection: sqlite3.Connection, given: str | None) -> LocalRecord:
    """The survey named by --survey, else the open one."""
    if given:
        return records.find_one(connection, "survey", given)
    current = open_survey_uuid(connection)
    if current is None:
        raise ClientError(
            "no open survey: start one with field-client survey start, or give --survey UUID"
        )
    record = records.get(connection, current)
    if record is None:
        raise ClientError("the open survey is missing from the store; give --survey UUID")
    return record


def close(
    connection: sqlite3.Connection, given: str | None, ended_on: str | None
) -> tuple[LocalRecord, bool]:
    """End a survey: ended_on is set (today unless given or already set), and it is no longer
    the open one. Returns the survey and whether its record changed."""
    survey = choose(connection, given)
    data = dict(survey.data)
    wanted = ended_on or data.get("ended_on") or date.today().isoformat()
    if wanted < data["started_on"]:
        raise ClientError(f"a survey cannot end ({wanted}) before it starts ({data['started_on']})")
    changed = data.get("ended_on") != wanted
    if changed:
        data["ended_on"] = wanted
        records.revise(connection, survey, checked_data("survey", data))
    if open_survey_uuid(connection) == survey.uuid:
        set_setting(connection, OPEN_SURVEY, None)
    refreshed = records.get(connection, survey.uuid)
    assert refreshed is not None
    return refreshed, changed


def find_counts(connection: sqlite3.Connection) -> dict[str, int]:
    return {
        survey_uuid: count
        for survey_uuid, count in connection.execute(
            "SELECT survey_uuid, count(*) FROM record WHERE type = 'find' GROUP BY survey_uuid"
        )
    }
