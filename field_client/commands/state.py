"""field-client status and conflicts: what waits, what the server refused, what clashed."""

from __future__ import annotations

from typing import Any

import click

from field_client import conflicts as conflict_store
from field_client import records
from field_client.commands.common import console, emit_json, json_option, opened_store, short
from field_client.errors import ClientError
from field_client.merge import SIDES, Side
from field_client.validation import describe_problems
from field_client.views import Standing, conflict_view, record_view, status_view


def rejected_line(item: dict[str, Any]) -> str:
    """One rejected record with the server's reasons and flags (a phone's instance the server
    keeps with other XML is flagged instance_differs: a person decides which form is right)."""
    flags = "".join(
        f" [{flag.get('code')}: {flag.get('detail', '')}]"
        for flag in item.get("flags") or []
        if isinstance(flag, dict)
    )
    return (
        f"rejected {item['type']} {short(item['uuid'])} {item['label']}: "
        f"{describe_problems(item['problems'])}{flags}"
    )


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Pending records, photos not uploaded and the finds waiting for them, records the server
    rejected (with its reasons), and conflicts."""
    with opened_store() as (_, store), store.reading() as connection:
        view = status_view(connection)
    if as_json:
        emit_json(view)
        return
    who = f"{view['username']} at {view['server']}" if view["server"] else "not logged in"
    click.echo(f"{who}; device {view['device_id'] or 'not set up yet'}")
    click.echo(f"last sync: {view['last_sync_at'] or 'never'}")
    pending = view["pending"]
    waiting = ", ".join(
        f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in sorted(pending.items())
    )
    click.echo(f"waiting to be sent: {waiting or 'nothing'}")
    if view["unanswered_batches"]["batches"]:
        click.echo(
            f"sent but not yet answered: {view['unanswered_batches']['records']} records "
            "(field-client sync finishes them)"
        )
    numbers = view["find_numbers_left"]
    if numbers:
        click.echo(
            "find numbers left: " + ", ".join(f"{code} {count}" for code, count in numbers.items())
        )
    if view["photos_not_on_server"]:
        click.echo(
            f"photo files not on the server yet: {len(view['photos_not_on_server'])} "
            "(field-client sync uploads them)"
        )
    for item in view["finds_missing_photos"]:
        click.echo(
            f"find {short(item['uuid'])} {item['label']} is not synced until its "
            f"{len(item['photos'])} photo(s) are uploaded"
        )
    for item in view["rejected"]:
        click.echo(rejected_line(item))
    for item in view["conflicts"]:
        fields = ", ".join(item["fields"]) or "server side not pulled yet"
        click.echo(f"conflict {item['type']} {short(item['uuid'])} {item['label']}: {fields}")


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def conflicts(ctx: click.Context, as_json: bool) -> None:
    """Conflicts: list them; `show UUID` both sides; `resolve UUID` keep mine, theirs, or
    field by field."""
    if ctx.invoked_subcommand is not None:
        return
    with opened_store() as (_, store), store.reading() as connection:
        found = conflict_store.open_conflicts(connection)
        by_uuid = records.get_many(connection, [c.uuid for c in found])
        views = [conflict_view(c, by_uuid.get(c.uuid)) for c in found]
    if as_json:
        emit_json(views)
        return
    if not views:
        click.echo("no conflicts")
        return
    for view in views:
        fields = ", ".join(view["fields"]) or "server side not pulled yet (run field-client pull)"
        click.echo(f"{view['uuid']} {view['type']} {view['label']}: {fields}")


def _both_sides(connection: Any, key: str) -> tuple[Any, Any]:
    record = _record(connection, key)
    conflict = conflict_store.open_conflict(connection, record.uuid)
    if conflict is None:
        raise ClientError(f"{records.label(record)} ({record.uuid}) has no open conflict")
    return record, conflict


def _record(connection: Any, key: str) -> records.LocalRecord:
    for kind in ("find", "survey", "track", "photo"):
        try:
            return records.find_one(connection, kind, key)
        except ClientError:
            continue
    raise ClientError(f"no record {key} on this laptop")


@conflicts.command()
@click.argument("uuid")
@json_option
def show(uuid: str, as_json: bool) -> None:
    """Both sides of a conflict, field by field (UUID or its first characters)."""
    with opened_store() as (_, store), store.reading() as connection:
        record, conflict = _both_sides(connection, uuid)
    fields = conflict.fields
    if as_json:
        emit_json(
            {
                "uuid": record.uuid,
                "type": record.type,
                "label": records.label(record),
                "server_rev": conflict.theirs_rev,
                "fields": list(fields),
                "base": conflict.base,
                "mine": conflict.mine,
                "theirs": conflict.theirs,
            }
        )
        return
    click.echo(f"{record.type} {records.label(record)} ({record.uuid})")
    if conflict.theirs is None:
        click.echo("the server's side is not pulled yet: run field-client pull")
        return
    from rich.table import Table

    table = Table("field", "mine", "theirs (server rev " + str(conflict.theirs_rev) + ")", "")
    base = conflict.base
    for name in dict.fromkeys([*conflict.theirs, *conflict.mine]):
        mine, theirs = conflict.mine.get(name), conflict.theirs.get(name)
        if name in fields:
            marker = "CONFLICT"
        elif mine == theirs:
            marker = ""
        elif base is not None and base.get(name) == theirs:
            marker = "only mine changed: kept"
        else:
            marker = "only theirs changed: kept"
        table.add_row(name, _text(mine), _text(theirs), marker)
    console().print(table)


def _choices(values: tuple[str, ...]) -> dict[str, Side]:
    chosen: dict[str, Side] = {}
    for value in values:
        name, _, side = value.partition("=")
        if side not in SIDES or not name:
            raise ClientError(f"--field takes NAME=mine or NAME=theirs, not {value!r}")
        chosen[name.strip()] = side  # type: ignore[assignment]
    return chosen


@conflicts.command()
@click.argument("uuid")
@click.option(
    "--keep",
    type=click.Choice(SIDES),
    help="Settle every conflicting field for this side; changes only one side made are kept.",
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=mine|theirs",
    help="Settle one conflicting field (repeatable); overrides --keep for it.",
)
@json_option
def resolve(uuid: str, keep: Side | None, fields: tuple[str, ...], as_json: bool) -> None:
    """Resolve a conflict: a new local edit on top of the server's revision, sent by the next
    sync."""
    if keep is None and not fields:
        raise ClientError("say how: --keep mine, --keep theirs, or --field NAME=mine|theirs")
    with opened_store() as (_, store):
        with store.transaction() as connection:
            record, _ = _both_sides(connection, uuid)
            resolved, to_send = conflict_store.resolve_conflict(
                connection, record.uuid, keep, _choices(fields)
            )
        with store.reading() as connection:
            view = record_view(resolved, Standing.read(connection))
    if as_json:
        emit_json(view)
        return
    after = "it goes to the server at the next sync" if to_send else "nothing to send"
    click.echo(f"resolved {records.label(resolved)} ({resolved.uuid}); {after}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
