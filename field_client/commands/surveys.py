"""field-client survey start|list|close: all offline."""

from __future__ import annotations

from typing import Any

import click

from field_client import records
from field_client import surveys as survey_store
from field_client.commands.common import console, emit_json, json_option, opened_store, short
from field_client.views import Standing, record_view


@click.group()
def survey() -> None:
    """Surveys: a team's recording campaign; finds go to the open one."""


def _team(values: tuple[str, ...]) -> list[str]:
    # --team may be repeated, and each value may hold several names separated by commas
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@survey.command()
@click.option("--expedition", required=True, metavar="CODE", help="Expedition code, e.g. ULY-2026.")
@click.option("--title", required=True, metavar="TEXT")
@click.option(
    "--team", multiple=True, metavar="NAME[,NAME…]", help="Team members (repeatable); default: you."
)
@click.option("--started-on", metavar="YYYY-MM-DD", help="Default: today.")
@click.option("--notes", metavar="TEXT")
@json_option
def start(
    expedition: str,
    title: str,
    team: tuple[str, ...],
    started_on: str | None,
    notes: str | None,
    as_json: bool,
) -> None:
    """Start a survey; it becomes the open survey."""
    with opened_store() as (_, store):
        with store.transaction() as connection:
            record = survey_store.start(
                connection, expedition, title, _team(team), started_on, notes
            )
        with store.reading() as connection:
            view = record_view(record, Standing.read(connection))
    if as_json:
        emit_json({**view, "open": True})
        return
    click.echo(f"survey {record.uuid} started for {expedition}: {title} (now the open survey)")


@survey.command("list")
@json_option
def list_surveys(as_json: bool) -> None:
    """The surveys on this laptop, with their finds and sync state."""
    with opened_store() as (_, store), store.reading() as connection:
        found = records.list_of(connection, "survey")
        standing = Standing.read(connection)
        open_uuid = survey_store.open_survey_uuid(connection)
        counts = survey_store.find_counts(connection)
    views: list[dict[str, Any]] = [
        {**record_view(r, standing), "open": r.uuid == open_uuid, "finds": counts.get(r.uuid, 0)}
        for r in found
    ]
    if as_json:
        emit_json(views)
        return
    if not views:
        click.echo("no surveys yet: field-client survey start --expedition CODE --title TEXT")
        return
    from rich.table import Table

    table = Table("", "uuid", "expedition", "title", "started", "ended", "finds", "sync")
    for view in views:
        table.add_row(
            "open" if view["open"] else "",
            short(view["uuid"]),
            view["expedition_code"],
            view["title"],
            view["started_on"],
            view["ended_on"] or "",
            str(view["finds"]),
            view["sync"]["status"],
        )
    console().print(table)


@survey.command()
@click.option("--survey", "survey_key", metavar="UUID", help="Default: the open survey.")
@click.option("--ended-on", metavar="YYYY-MM-DD", help="Default: today (or the date already set).")
@json_option
def close(survey_key: str | None, ended_on: str | None, as_json: bool) -> None:
    """End a survey: it gets its end date and is no longer the open survey."""
    with opened_store() as (_, store):
        with store.transaction() as connection:
            record, _ = survey_store.close(connection, survey_key, ended_on)
        with store.reading() as connection:
            view = record_view(record, Standing.read(connection))
    if as_json:
        emit_json({**view, "open": False})
        return
    click.echo(f"survey {record.uuid} closed on {record.data['ended_on']}")
