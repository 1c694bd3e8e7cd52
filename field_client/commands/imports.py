"""field-client import gpx|photos|csv: GPS logs, camera folders and survey exports, offline."""

from __future__ import annotations

import os
from datetime import timedelta, timezone
from pathlib import Path

import click

from field_client import csv_import, photo_files, records, tracks
from field_client import photos as photo_store
from field_client import surveys as survey_store
from field_client.commands.common import echo_err, emit_json, json_option, opened_store
from field_client.errors import ClientError
from field_client.records import LocalRecord
from field_core.geo.exif import PhotoError, read_photo
from field_core.geo.geotag import (
    KAZAKHSTAN_TIME,
    CameraClock,
    parse_camera_offset,
    parse_utc_offset,
)
from field_core.geo.gpx import GpxError, GpxImport, read_gpx
from field_core.geo.source_file import source_file_name


@click.group("import")
def import_() -> None:
    """Import GPS files and camera photos into a survey."""


@import_.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--survey", "survey_key", metavar="UUID", help="Default: the open survey.")
@json_option
def gpx(files: tuple[Path, ...], survey_key: str | None, as_json: bool) -> None:
    """Import the tracks, routes and waypoints of GPX files.

    Each track and route becomes a track record, and a file's waypoints one more. Importing
    the same file again into the same survey adds nothing. A file that is not GPX fails the
    whole command and nothing is imported.
    """
    # Every file is read before anything is saved, so one bad file leaves the store untouched.
    read: list[GpxImport] = []
    for path in files:
        try:
            read.append(read_gpx(path))
        except GpxError as error:
            raise ClientError(str(error)) from None
    outcome = tracks.TrackImport()
    with opened_store() as (_, store), store.transaction() as connection:
        survey = survey_store.choose(connection, survey_key)
        for gpx_import in read:
            tracks.save_tracks(connection, survey.uuid, gpx_import, outcome)
    for warning in outcome.warnings:
        echo_err(f"warning: {warning}")
    if as_json:
        emit_json(
            {
                "survey_uuid": survey.uuid,
                "created": [_summary(r) for r in outcome.created],
                "already_imported": [_summary(r) for r in outcome.already_here],
                "warnings": outcome.warnings,
            }
        )
        return
    for record in outcome.created:
        summary = _summary(record)
        click.echo(
            f"{summary['kind']} {summary['name'] or ''} ({summary['points']} points) "
            f"from {summary['source_file']}: {record.uuid}".replace("  ", " ")
        )
    click.echo(
        f"{len(outcome.created)} new track record(s) in survey {survey.uuid}; "
        f"{len(outcome.already_here)} already imported"
    )


def _summary(record: LocalRecord) -> dict[str, object]:
    data = record.data
    return {
        "uuid": record.uuid,
        "kind": data["kind"],
        "name": data.get("name"),
        "source_file": data["source_file"],
        "points": len(data["points"]),
    }


def _camera_offset(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta:
    try:
        return timedelta(0) if value is None else parse_camera_offset(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _zone(ctx: click.Context, param: click.Parameter, value: str | None) -> timezone:
    try:
        return KAZAKHSTAN_TIME if value is None else parse_utc_offset(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@import_.command("photos")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--survey", "survey_key", metavar="UUID", help="Default: the open survey.")
@click.option(
    "--camera-offset",
    callback=_camera_offset,
    metavar="[+-]H:MM:SS",
    help="How far the camera clock is ahead of true time, e.g. +00:02:13 (default 0).",
)
@click.option(
    "--tz",
    "zone",
    callback=_zone,
    metavar="OFFSET",
    help="The zone the camera clock is set to, e.g. +05:00 (default: +05:00, Kazakhstan).",
)
@click.option(
    "--attach-pattern",
    metavar="REGEX",
    help="Finds the find number in a file name: its group 'find', or its first group "
    "(default: a find number of the survey at the start of the name).",
)
@click.option("--find", "find_key", metavar="UUID", help="Attach every photo to this find.")
@json_option
def photos(
    folder: Path,
    survey_key: str | None,
    camera_offset: timedelta,
    zone: timezone,
    attach_pattern: str | None,
    find_key: str | None,
    as_json: bool,
) -> None:
    """Import a folder of camera photos (not its subfolders).

    Each photo is first copied into the laptop's photo folder (the card may be wiped), then
    read: time, GPS and size. A photo without GPS is placed on the survey's imported tracks by
    its corrected camera time. A file that is not a readable photo is skipped with a warning.
    Importing the same folder again adds nothing.
    """
    if attach_pattern is not None:
        photo_store.compile_pattern(attach_pattern)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        raise ClientError(
            f"{source_file_name(folder)}: cannot read the folder: {error.strerror or error}"
        ) from None
    outcome = photo_store.PhotoImport()
    with opened_store() as (home, store):
        with store.reading() as connection:
            survey_store.choose(connection, survey_key)
            if find_key is not None:
                records.find_one(connection, "find", find_key)
        copied = _copy_and_read(home, entries, outcome.warnings)
        with store.transaction() as connection:
            survey = survey_store.choose(connection, survey_key)
            explicit = records.find_one(connection, "find", find_key) if find_key else None
            matcher = photo_store.FindMatcher(
                records.list_of(connection, "find", survey.uuid), attach_pattern
            )
            photo_store.save_photos(
                connection,
                survey,
                copied,
                CameraClock(zone=zone, offset=camera_offset),
                matcher,
                explicit,
                outcome,
            )
    for warning in outcome.warnings:
        echo_err(f"warning: {warning}")
    if as_json:
        emit_json(
            {
                "survey_uuid": survey.uuid,
                "created": [_photo_summary(r) for r in outcome.created],
                "already_imported": [_photo_summary(r) for r in outcome.already_here],
                "finds_edited": sorted(outcome.finds_edited),
                "warnings": outcome.warnings,
            }
        )
        return
    click.echo(
        f"{len(outcome.created)} new photo(s) in survey {survey.uuid}, "
        f"{len(outcome.already_here)} already imported, {len(outcome.finds_edited)} find(s) "
        f"given photos, {len(outcome.warnings)} warning(s)"
    )


def _copy_and_read(
    home: Path, entries: list[os.DirEntry[str]], warnings: list[str]
) -> list[photo_store.CopiedPhoto]:
    copied: list[photo_store.CopiedPhoto] = []
    for entry in entries:
        name = source_file_name(entry.name)
        if entry.is_dir(follow_symlinks=False):
            continue
        try:
            _, stored, new = photo_files.copy_in(home, Path(entry.path))
        except photo_files.CopyFailed as error:
            warnings.append(f"{name}: {error.reason}")
            continue
        try:
            reading = read_photo(stored)
        except PhotoError as error:
            warnings.append(f"{name}: {error.reason}; skipped")
            if new:
                photo_files.discard(stored)
            continue
        copied.append(photo_store.CopiedPhoto(name, stored, reading))
    return copied


def _photo_summary(record: LocalRecord) -> dict[str, object]:
    data = record.data
    return {
        "uuid": record.uuid,
        "sha256": data["sha256"],
        "taken_at": data.get("taken_at"),
        "position": data.get("position"),
        "position_source": data["position_source"],
        "find_uuids": data.get("find_uuids", []),
    }


@import_.command("csv")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--epsg",
    required=True,
    type=click.IntRange(1, 10**6),
    metavar="CODE",
    help="The CRS of the file's coordinates, e.g. 32642 (UTM 42N), 28412 (Pulkovo 1942 / GK "
    "zone 12), 4326 (WGS 84 longitude, latitude).",
)
@click.option(
    "--columns",
    required=True,
    metavar="FIELD=COLUMN,…",
    help="Which column holds which find field, e.g. 'find_number=No,lon=E,lat=N,material=Mat,"
    "object_name=Name'; lon and lat are the x/east and y/north columns in the source CRS.",
)
@click.option("--encoding", default="utf-8", show_default=True, help="The file's text encoding.")
@click.option(
    "--method",
    type=click.Choice(["gnss", "total_station", "tape", "map", "unknown"]),
    help="How the positions were measured, for rows without a method column.",
)
@click.option("--recorded-by", metavar="NAME", help="Default: the logged-in user.")
@click.option("--survey", "survey_key", metavar="UUID", help="Default: the open survey.")
@json_option
def csv_(
    file: Path,
    epsg: int,
    columns: str,
    encoding: str,
    method: str | None,
    recorded_by: str | None,
    survey_key: str | None,
    as_json: bool,
) -> None:
    """Import finds from a CSV export (total station, spreadsheet), converted to WGS 84.

    The delimiter (comma, semicolon, tab) is detected; with a semicolon or tab, decimal commas
    are read too. The whole file is checked first: a bad row fails the command with its line
    number and nothing is saved. Rows whose find number is already on the laptop are skipped,
    so importing the same file again adds nothing.
    """
    mapping = csv_import.parse_columns(columns)
    transformer = csv_import.transformer_from(epsg)
    try:
        rows = csv_import.read_rows(file, mapping, transformer, encoding)
    except csv_import.CsvError as error:
        raise ClientError(str(error)) from None
    outcome = csv_import.CsvImport()
    defaults = {"method": method, "recorded_by": recorded_by}
    with opened_store() as (_, store), store.transaction() as connection:
        survey = survey_store.choose(connection, survey_key)
        csv_import.save_finds(
            connection, survey.uuid, rows, source_file_name(file), defaults, outcome
        )
    for warning in outcome.warnings:
        echo_err(f"warning: {warning}")
    if as_json:
        emit_json(
            {
                "survey_uuid": survey.uuid,
                "created": [
                    {
                        "uuid": r.uuid,
                        "find_number": r.data["find_number"],
                        "position": r.data.get("position"),
                    }
                    for r in outcome.created
                ],
                "warnings": outcome.warnings,
            }
        )
        return
    click.echo(
        f"{len(outcome.created)} find(s) imported into survey {survey.uuid}, "
        f"{len(outcome.warnings)} warning(s)"
    )
