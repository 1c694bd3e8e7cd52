"""field-client photos: the photo records on this laptop and whether the server holds each file."""

from __future__ import annotations

from typing import Any

import click

from field_client import photos as photo_store
from field_client import records
from field_client.commands.common import console, emit_json, json_option, opened_store, short


@click.command("photos")
@click.option("--survey", "survey_key", metavar="UUID", help="Only this survey's photos.")
@json_option
def photos(survey_key: str | None, as_json: bool) -> None:
    """The photos on this laptop: time, position and its source, finds, and upload state."""
    with opened_store() as (_, store), store.reading() as connection:
        survey_uuid = (
            records.find_one(connection, "survey", survey_key).uuid if survey_key else None
        )
        found = records.list_of(connection, "photo", survey_uuid)
        stored = photo_store.on_server(connection)
    views: list[dict[str, Any]] = [
        {"uuid": r.uuid, **r.data, "on_server": r.data["sha256"] in stored} for r in found
    ]
    if as_json:
        emit_json(views)
        return
    if not views:
        click.echo("no photos yet: field-client import photos FOLDER")
        return
    from rich.table import Table

    table = Table("uuid", "sha256", "taken at", "lon", "lat", "from", "finds", "server")
    for view in views:
        position = view.get("position") or {}
        table.add_row(
            short(view["uuid"]),
            view["sha256"][:12],
            view.get("taken_at") or "",
            f"{position['lon']:.6f}" if position else "",
            f"{position['lat']:.6f}" if position else "",
            view["position_source"],
            str(len(view.get("find_uuids") or [])),
            "stored" if view["on_server"] else "not yet",
        )
    console().print(table)
