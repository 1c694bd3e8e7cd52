"""field-client find add|edit|show|list: all offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from field_client import conflicts, records, surveys
from field_client import finds as find_store
from field_client.commands.common import (
    FiniteFloat,
    console,
    echo_err,
    emit_json,
    json_option,
    opened_store,
    short,
)
from field_client.views import Standing, record_view

F = TypeVar("F", bound=Callable[..., Any])

NUMBER = FiniteFloat()
# option name, contract name, click type, help
_FIELD_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    (
        "--material",
        "material",
        str,
        "Material code or its kk/ru/en label (e.g. ceramic, керамика).",
    ),
    ("--object-name", "object_name", str, "What the find is."),
    ("--kind", "kind", click.Choice(["small_find", "bulk", "sample"]), "Default: small_find."),
    ("--quantity", "quantity", int, "Pieces in the lot (default 1)."),
    ("--weight", "weight_g", NUMBER, "Weight in grams."),
    ("--length", "length_mm", NUMBER, "Length in millimetres."),
    ("--width", "width_mm", NUMBER, "Width in millimetres."),
    ("--height", "height_mm", NUMBER, "Height or thickness in millimetres."),
    ("--condition", "condition", str, "State of preservation."),
    ("--lon", "lon", NUMBER, "Longitude, WGS 84 decimal degrees."),
    ("--lat", "lat", NUMBER, "Latitude, WGS 84 decimal degrees."),
    ("--elevation", "elevation_m", NUMBER, "Elevation in metres."),
    ("--depth", "depth_m", NUMBER, "Depth below the surface or datum in metres."),
    ("--accuracy", "horizontal_accuracy_m", NUMBER, "Horizontal accuracy in metres."),
    ("--vertical-accuracy", "vertical_accuracy_m", NUMBER, "Vertical accuracy in metres."),
    (
        "--method",
        "method",
        click.Choice(["gnss", "total_station", "tape", "map", "unknown"]),
        "How the position was taken (default: unknown).",
    ),
    ("--site", "site_code", str, "Site code, e.g. DMB."),
    ("--trench", "trench", str, "Trench or excavation unit."),
    ("--context", "context", str, "Stratigraphic context."),
    ("--find-number", "find_number", str, "Default on add: the next reserved number."),
    ("--found-on", "found_on", str, "YYYY-MM-DD (default on add: today)."),
    ("--description", "description", str, "Description."),
    ("--notes", "notes", str, "Notes."),
    ("--recorded-by", "recorded_by", str, "Default on add: the logged-in user."),
)


def _field_options(command: F) -> F:
    for option, name, kind, text in reversed(_FIELD_OPTIONS):
        command = click.option(option, name, type=kind, default=None, help=text)(command)
    return command


def _values(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs.get(name) for _, name, _, _ in _FIELD_OPTIONS}


@click.group()
def find() -> None:
    """Finds: record, correct, show and list them (no network needed)."""


@find.command()
@_field_options
@click.option("--survey", "survey_key", metavar="UUID", help="Default: the open survey.")
@json_option
def add(survey_key: str | None, as_json: bool, **fields: Any) -> None:
    """Record a find; it is saved on this laptop before this command says so."""
    with opened_store() as (_, store):
        with store.transaction() as connection:
            saved = find_store.add(connection, survey_key, _values(fields))
        with store.reading() as connection:
            view = record_view(saved.record, Standing.read(connection))
    for warning in saved.warnings:
        echo_err(f"warning: {warning}")
    if as_json:
        emit_json(view)
        return
    click.echo(f"saved find {view['find_number']} ({saved.record.uuid}): {view['object_name']}")


@find.command()
@click.argument("uuid")
@_field_options
@click.option(
    "--clear",
    multiple=True,
    metavar="FIELD",
    help=f"Empty an optional field (repeatable): {', '.join(find_store.CLEARABLE)}.",
)
@json_option
def edit(uuid: str, clear: tuple[str, ...], as_json: bool, **fields: Any) -> None:
    """Change fields of a find (UUID or its first characters): a new local revision."""
    with opened_store() as (_, store):
        with store.transaction() as connection:
            saved = find_store.edit(connection, uuid, _values(fields), list(clear))
        with store.reading() as connection:
            view = record_view(saved.record, Standing.read(connection))
    for warning in saved.warnings:
        echo_err(f"warning: {warning}")
    if as_json:
        emit_json(view)
        return
    if not saved.changed:
        click.echo(f"find {view['find_number']} ({saved.record.uuid}) unchanged")
        return
    click.echo(
        f"saved find {view['find_number']} ({saved.record.uuid}) as local revision "
        f"{saved.record.rev}"
    )


@find.command()
@click.argument("uuid")
@json_option
def show(uuid: str, as_json: bool) -> None:
    """One find with every field and where it stands with the server."""
    with opened_store() as (_, store), store.reading() as connection:
        record = records.find_one(connection, "find", uuid)
        view = record_view(record, Standing.read(connection))
        conflict = conflicts.open_conflict(connection, record.uuid)
    if as_json:
        emit_json(view)
        return
    from rich.table import Table

    table = Table("field", "value", show_header=False)
    sync = view.pop("sync")
    position = view.pop("position") or {}
    for name, value in view.items():
        table.add_row(name, _text(value))
    for name, value in position.items():
        table.add_row(f"position.{name}", _text(value))
    table.add_row(
        "sync", f"{sync['status']} (local rev {sync['rev']}, server rev {sync['base_rev']})"
    )
    for problem in sync["problems"]:
        table.add_row("problem", f"{problem.get('field')}: {problem.get('message')}")
    for flag in sync["flags"]:
        table.add_row("flag", f"{flag.get('code')}: {flag.get('detail')}")
    if sync["server_status"]:
        table.add_row("museum status", sync["server_status"])
    if sync["register_number"]:
        table.add_row("register number", sync["register_number"])
    if conflict is not None:
        table.add_row("conflict", "see field-client conflicts show " + record.uuid)
    console().print(table)


@find.command("list")
@click.option("--survey", "survey_key", metavar="UUID", help="Only this survey's finds.")
@click.option(
    "--status",
    type=click.Choice(
        ["pending", "synced", "rejected", "conflict", "awaiting_pull", "photos_missing"]
    ),
    help="Only finds that stand so with the server.",
)
@json_option
def list_finds(survey_key: str | None, status: str | None, as_json: bool) -> None:
    """The finds on this laptop (all surveys unless --survey)."""
    with opened_store() as (_, store), store.reading() as connection:
        survey_uuid = surveys.choose(connection, survey_key).uuid if survey_key else None
        standing = Standing.read(connection)
        views = [record_view(r, standing) for r in records.list_of(connection, "find", survey_uuid)]
    if status:
        views = [v for v in views if v["sync"]["status"] == status]
    views.sort(key=lambda v: (v["expedition_code"], v["find_number"]))
    if as_json:
        emit_json(views)
        return
    if not views:
        click.echo("no finds")
        return
    from rich.table import Table

    table = Table(
        "number", "material", "object", "site", "trench", "context", "found", "sync", "uuid"
    )
    for view in views:
        table.add_row(
            view["find_number"],
            view["material"],
            view["object_name"],
            view["site_code"] or "",
            view["trench"] or "",
            view["context"] or "",
            view["found_on"],
            view["sync"]["status"],
            short(view["uuid"]),
        )
    console().print(table)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
