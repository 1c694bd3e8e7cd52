"""The ``field-server`` command: set up the database, people and expeditions, and serve."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
from field_core.contract import LANGUAGES
from sqlalchemy.exc import SQLAlchemyError

from field_server import __version__
from field_server.adapters.database import error_line, make_engine
from field_server.adapters.schema_migration import upgrade_database
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.config import ServerConfig
from field_server.domain.access import Role
from field_server.private_files import PRIVATE_UMASK, keep_private
from field_server.services.errors import ServiceError

RECEIVE_BYTES = 256 * 1024  # what serve's socket reads take at once (waitress: 8 KB)
# A request body up to this size stays in memory instead of a temporary file (waitress:
# 512 KB). waitress holds a body before the app has checked its token, so every open
# connection may hold this much: CONNECTION_LIMIT × BODY_IN_MEMORY_BYTES (400 MB) is the
# worst case.
BODY_IN_MEMORY_BYTES = 1024 * 1024
# Connections a client opens and leaves idle (or feeds a byte at a time) must not use up the
# server: 50 such made the health check time out. Enough slots that a few hundred cost
# nothing, and an idle one is closed after CHANNEL_TIMEOUT_S (waitress: 120 s), checked every
# CLEANUP_INTERVAL_S.
CONNECTION_LIMIT = 400
CHANNEL_TIMEOUT_S = 30
CLEANUP_INTERVAL_S = 10


def _one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ServiceError as error:
            raise click.ClickException(str(error)) from None
        except (OSError, ValueError) as error:
            raise click.ClickException(str(error)) from None

    return run


def _factory() -> tuple[ServerConfig, UnitOfWorkFactory]:
    config = ServerConfig.from_env()
    return config, UnitOfWorkFactory(make_engine(config.database_url))


@contextmanager
def _closing_factory() -> Iterator[UnitOfWorkFactory]:
    """A unit-of-work factory whose connections are closed when the command ends."""
    _, uow = _factory()
    try:
        yield uow
    finally:
        uow.engine.dispose()


@click.group()
@click.version_option(__version__, prog_name="field-server")
def main() -> None:
    """Qazba's museum server (configuration: FIELD_SERVER_DATABASE_URL, FIELD_SERVER_DATA_DIR,
    FIELD_SERVER_SECRET_KEY)."""
    # whatever a command writes (database, photos, backups, documents) is the server user's only
    os.umask(PRIVATE_UMASK)


@main.command("init-db")
@_one_line_errors
def init_db() -> None:
    """Create the database, or migrate it to the newest schema."""
    config = ServerConfig.from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    keep_private(config.data_dir, config.database_url)
    revision = upgrade_database(make_engine(config.database_url))
    click.echo(f"database ready at schema revision {revision}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        # one line; its newline (LF or CRLF) is not part of the password
        return line.removesuffix("\n").removesuffix("\r")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@main.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="repeat for several roles",
)
@click.option("--password-stdin", is_flag=True, help="read the password as one line of stdin")
@_one_line_errors
def create_user(username: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    """Create a user with one or more roles."""
    from field_server.services import auth

    config, uow = _factory()
    password = _read_password(password_stdin)
    auth.create_user(uow, username, password, list(roles), cost=config.scrypt_cost)
    click.echo(f"user {username} created ({', '.join(sorted(roles))})")


@main.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password as one line of stdin")
@_one_line_errors
def set_password(username: str, password_stdin: bool) -> None:
    """Set a user's password; their tokens are revoked."""
    from field_server.services import auth

    config, uow = _factory()
    auth.set_password(uow, username, _read_password(password_stdin), cost=config.scrypt_cost)
    click.echo(f"password of {username} set; their tokens are revoked")


@main.command("revoke-tokens")
@click.argument("username")
@_one_line_errors
def revoke_tokens(username: str) -> None:
    """Revoke every token of a user (a lost laptop)."""
    from field_server.services import auth

    _, uow = _factory()
    count = auth.revoke_tokens_of(uow, username)
    click.echo(f"{count} token(s) of {username} revoked")


@main.command("create-expedition")
@click.argument("code")
@click.option("--title", required=True)
@click.option("--year", type=int, required=True)
@click.option(
    "--find-number-format",
    default=None,
    help="a format with one {n}, e.g. 'DMB-26-{n:04d}' (default CODE-{n:04d})",
)
@click.option(
    "--accuracy-threshold",
    type=float,
    default=None,
    help="flag finds whose horizontal accuracy is worse (metres; default 10)",
)
@_one_line_errors
def create_expedition(
    code: str,
    title: str,
    year: int,
    find_number_format: str | None,
    accuracy_threshold: float | None,
) -> None:
    """Create an expedition."""
    from field_server.services import expeditions

    _, uow = _factory()
    spec = expeditions.ExpeditionSpec(code, title, year, find_number_format, accuracy_threshold)
    row = expeditions.create_expedition(uow, None, spec)
    click.echo(
        f"expedition {row.code} created (find numbers like {row.find_number_format.format(n=1)})"
    )


@main.command("add-member")
@click.argument("code")
@click.argument("username")
@click.option("--leader", is_flag=True, help="the member leads the expedition")
@_one_line_errors
def add_member(code: str, username: str, leader: bool) -> None:
    """Add a user to an expedition's team."""
    from field_server.services import expeditions

    _, uow = _factory()
    expeditions.add_member(uow, None, code, username, leader)
    click.echo(f"{username} is in {code}{' as leader' if leader else ''}")


@main.command("add-site")
@click.argument("code")
@click.argument("site_code")
@click.option("--name", required=True)
@click.option(
    "--boundary",
    "boundary_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="a GeoJSON file: Polygon, MultiPolygon or a Feature",
)
@_one_line_errors
def add_site(code: str, site_code: str, name: str, boundary_file: Path) -> None:
    """Add a site with its boundary to an expedition."""
    from field_server.services import expeditions

    _, uow = _factory()
    if boundary_file.stat().st_size > 16 * 1024 * 1024:
        raise click.ClickException(f"{boundary_file}: larger than 16 MB")
    try:
        geometry = json.loads(boundary_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{boundary_file}: not GeoJSON ({error})") from None
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    expeditions.add_site(uow, None, code, site_code, name, geometry)
    click.echo(f"site {site_code} added to {code}")


@main.command("detect-duplicates")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@_one_line_errors
def detect_duplicates(code: str, as_json: bool) -> None:
    """Compare every find of an expedition and update its duplicate queue."""
    from field_server.services import duplicates

    _, uow = _factory()
    report = duplicates.detect_expedition(uow, None, code)
    if as_json:
        click.echo(json.dumps(report.__dict__))
        return
    click.echo(
        f"{report.expedition_code}: {report.finds} finds compared; {report.open} open "
        f"candidates ({report.added} new, {report.updated} updated, "
        f"{report.withdrawn} withdrawn)"
    )


MAX_FIND_LIST_BYTES = 4 * 1024 * 1024  # 10,000 uuids (an act's limit) take 370 KB


def _find_list(path: Path) -> list[str]:
    """Find uuids from a file, one a line, in item order; blank lines and ``#`` notes skipped."""
    if path.stat().st_size > MAX_FIND_LIST_BYTES:
        raise click.ClickException(f"{path}: larger than {MAX_FIND_LIST_BYTES // 2**20} MB")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path}: not UTF-8 text ({error.reason})") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _finds(count: int) -> str:
    return f"{count} find" if count == 1 else f"{count} finds"


@contextmanager
def _part_file(path: Path) -> Iterator[Path]:
    """A file beside ``path`` to write; it replaces ``path`` only once it is whole, so a failed
    write leaves no half file under the name asked for."""
    part = path.with_name(f".{path.name}.part")
    part.unlink(missing_ok=True)  # a GeoPackage must be made new, not opened from a killed run
    try:
        yield part
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def _write_file(path: Path, content: bytes) -> None:
    with _part_file(path) as part:
        part.write_bytes(content)


@main.command("create-act")
@click.argument("code")
@click.option("--fund", required=True, metavar="KP|NVF", help="main fund (КП) or auxiliary (НВФ)")
@click.option(
    "--finds",
    "finds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file of find uuids, one a line, in the order of the act's items",
)
@click.option(
    "--all-approved", is_flag=True, help="every approved find of CODE, in find-number order"
)
@click.option(
    "--registrar", required=True, help="user name of the registrar (or admin) making the act"
)
@click.option("--received-by", default=None, help="who receives the finds for the fund")
@click.option("--storage-location", default=None, help="where the finds are kept")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="write the act and its field inventory here, as PDF and CSV",
)
@click.option("--lang", type=click.Choice(LANGUAGES), default="kk", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the act's numbers as JSON")
@_one_line_errors
def create_act(
    code: str,
    fund: str,
    finds_file: Path | None,
    all_approved: bool,
    registrar: str,
    received_by: str | None,
    storage_location: str | None,
    out_dir: Path | None,
    lang: str,
    as_json: bool,
) -> None:
    """Accession approved finds of expedition CODE into a fund by an acceptance act."""
    from field_server.adapters.fonts import FontMissing
    from field_server.domain.register_numbers import act_label
    from field_server.services import auth, register

    if (finds_file is None) == (not all_approved):
        raise click.UsageError("give either --finds FILE or --all-approved")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)  # before the act: a bad folder changes nothing
    with _closing_factory() as uow:
        actor = auth.actor_for_username(uow, registrar)
        uuids = (
            _find_list(finds_file) if finds_file else register.approved_finds_of(uow, actor, code)
        )
        if not uuids:
            raise click.ClickException(f"no finds to accession into an act of {code}")
        click.echo(f"accessioning {_finds(len(uuids))} of {code}…", err=True)
        try:
            created = register.create_act(
                uow,
                actor,
                register.ActRequest(code, fund, uuids, received_by, storage_location),
            )
        except ServiceError as error:
            first = error.errors[0] if error.errors else None
            if first and first["message"] not in str(error):  # so the one line says which find
                more = f" (and {len(error.errors) - 1} more)" if len(error.errors) > 1 else ""
                raise click.ClickException(
                    f"{error}: {first['field']}: {first['message']}{more}"
                ) from None
            raise
        label = act_label(created.fund, created.act_number)
        written: list[str] = []
        if out_dir is not None:
            # imported here: fpdf2 takes most of a second to load, and only this needs it
            from field_server.services import register_documents

            try:
                rendered = register_documents.act_documents(
                    uow,
                    actor,
                    created.fund.value,
                    created.act_number,
                    formats=("pdf", "csv"),
                    lang=lang,
                )
                for document in rendered:
                    _write_file(out_dir / document.filename, document.content)
                    written.append(str(out_dir / document.filename))
            except (OSError, ServiceError, FontMissing) as error:
                raise click.ClickException(
                    f"act {label} is made, but its documents were not all written: {error}"
                ) from None
        numbers = [number for _, number in created.entries]
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "fund": created.fund.value,
                        "act_number": created.act_number,
                        "entries": [
                            {
                                "item": number.item,
                                "find_uuid": uuid,
                                "register_number": number.cyrillic,
                                "register_number_ascii": number.ascii,
                            }
                            for uuid, number in created.entries
                        ],
                        "files": written,
                    },
                    ensure_ascii=False,
                )
            )
            return
        span = numbers[0].cyrillic
        if len(numbers) > 1:
            span += f" … {numbers[-1].cyrillic}"
        click.echo(f"act {label}: {_finds(len(numbers))} accessioned ({span})")
        for path in written:
            click.echo(f"written {path}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@_one_line_errors
def serve(host: str, port: int, threads: int) -> None:
    """Serve the API with waitress (for PostgreSQL at scale, see the README: gunicorn)."""
    import logging

    from waitress.server import create_server

    from field_server.app import create_app
    from field_server.early_refusals import answer_refusals_in_kind
    from field_server.request_limits import BodyLimits

    app = create_app()
    config = app.extensions["qazba"].config
    keep_private(config.data_dir, config.database_url)
    click.echo(f"serving Qazba on http://{host}:{port}/ (Ctrl+C stops)", err=True)
    # waitress sets TCP_NODELAY on its sockets by default; small answers are not held back.
    # It buffers a request body (to a temporary file past BODY_IN_MEMORY_BYTES) before the app
    # sees it, up to the limit of the request's route (early_refusals, request_limits). Its
    # default of 8 KB a read costs a turn of its Python loop (and a write to that file) per
    # 8 KB: a photo chunk of 8 MB took a thousand of them.
    limits = BodyLimits(config.max_json_bytes, config.max_upload_bytes, config.max_submission_bytes)
    listeners: dict[Any, Any] = {}
    server = create_server(
        app,
        map=listeners,
        host=host,
        port=port,
        threads=threads,
        ident="qazba",
        max_request_body_size=limits.largest + 1,
        recv_bytes=RECEIVE_BYTES,
        inbuf_overflow=BODY_IN_MEMORY_BYTES,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=CHANNEL_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
    )
    answer_refusals_in_kind(listeners, limits)
    logging.basicConfig()
    server.print_listen("Serving on http://{}:{}")
    server.run()


@main.command("export")
@click.argument("code")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["geojson", "kml", "gpx", "csv", "gpkg", "svg", "png", "pdf"]),
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="EPSG code for csv, gpkg and the figure")
@click.option("--survey", default=None, help="only this survey's finds (uuid)")
@click.option("--site", default=None, help="only this site's finds (code)")
@click.option("--status", default=None, help="synced, approved, rejected, merged, accessioned")
@click.option("--material", default=None, help="a material code")
@click.option("--from", "found_from", default=None, help="found on or after (YYYY-MM-DD)")
@click.option("--to", "found_to", default=None, help="found on or before (YYYY-MM-DD)")
@click.option("--bom", is_flag=True, help="csv: start with a UTF-8 byte order mark")
@click.option("--lang", default=None, help="the figure's language: kk (default), ru or en")
@click.option("--base-url", default="", help="photo links in KML/GPX (default: relative)")
@_one_line_errors
def export(
    code: str,
    fmt: str,
    out_path: Path,
    base_url: str,
    bom: bool,
    **options: str | None,
) -> None:
    """Write an expedition's export to a file (GeoJSON, KML, GPX, CSV, GeoPackage, figure)."""
    from field_server.services.exports import FILE_FORMATS, plan_export

    names = {"found_from": "from", "found_to": "to"}
    query = {names.get(k, k): v for k, v in options.items() if v is not None}
    if bom:
        query["bom"] = "1"
    with _closing_factory() as uow:
        plan = plan_export(uow, None, code, fmt, query, photo_base_url=base_url)
        with _part_file(out_path) as part:
            if fmt in FILE_FORMATS:
                # written straight to the part file: write_to would make it under a scratch
                # name of its own and copy it over
                plan.write_file(part)
            else:
                with part.open("wb") as out:
                    plan.write_to(out, out_path.parent)
    click.echo(f"{plan.filename} written to {out_path}")


def _store_config() -> ServerConfig:
    """The configuration for backup, restore and check, which sign nothing: the stored
    secret is not needed, so none is made (a refused restore must not leave one behind)."""
    env = dict(os.environ)
    if not env.get("FIELD_SERVER_SECRET_KEY"):
        env["FIELD_SERVER_SECRET_KEY"] = "not-used-by-backup-restore-or-check"
    return ServerConfig.from_env(env)


def _stderr(message: str) -> None:
    click.echo(message, err=True)


@main.command("backup")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the archive to write (a tar file); written as FILE.part and renamed when whole",
)
@click.option("--quiet", is_flag=True, help="no progress lines on stderr")
@_one_line_errors
def backup(out_path: Path, quiet: bool) -> None:
    """Write every table and stored photo to one archive, while the server keeps serving."""
    from field_server.adapters.photo_store import FilesystemPhotoStore
    from field_server.services.backup import write_backup

    config = _store_config()
    engine = make_engine(config.database_url)
    try:
        report = write_backup(
            engine,
            FilesystemPhotoStore(config.photos_dir),
            out_path,
            progress=(lambda _: None) if quiet else _stderr,
        )
    except SQLAlchemyError as error:
        raise click.ClickException(f"the database could not be read: {error_line(error)}") from None
    finally:
        engine.dispose()
    manifest = report.manifest
    for sha in manifest.photos_missing:
        _stderr(f"warning: photo {sha} is recorded as stored but missing from the store")
    for sha in report.photos_damaged:
        _stderr(f"warning: photo {sha} no longer hashes to its name; kept but not restorable")
    click.echo(
        f"backup written to {report.path}: {len(manifest.tables)} tables, {report.rows} rows, "
        f"{len(manifest.photos)} photos, {report.archive_bytes / 1e6:.1f} MB, "
        f"schema revision {manifest.schema_revision}"
    )


@main.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="no progress lines on stderr")
@_one_line_errors
def restore(archive: Path, quiet: bool) -> None:
    """Load a backup archive into the configured database and data folder, which must hold no
    data; the whole archive is checked before anything is written."""
    from field_server.services.restore import restore_backup

    if not archive.is_file():
        raise click.ClickException(f"{archive}: no such archive file")
    config = _store_config()
    report = restore_backup(
        archive,
        config.database_url,
        config.data_dir,
        progress=(lambda _: None) if quiet else _stderr,
    )
    manifest = report.manifest
    migrated = (
        f", migrated from schema revision {manifest.schema_revision} to {report.revision}"
        if report.migrated
        else f", schema revision {report.revision}"
    )
    click.echo(
        f"restored {report.rows} rows of {len(manifest.tables)} tables and "
        f"{len(manifest.photos)} photos ({report.photos_placed} put into the store) from "
        f"the backup of {manifest.created_at.isoformat(timespec='seconds')}{migrated}"
    )


@main.command("check")
@click.option("--json", "as_json", is_flag=True, help="print the problems as JSON")
@_one_line_errors
def check(as_json: bool) -> None:
    """Check the database (schema revision, integrity, counters) and every stored photo; exit
    1 listing what is wrong, 0 when all is well."""
    from field_server.adapters.photo_store import FilesystemPhotoStore
    from field_server.services.self_check import check_server

    config = _store_config()
    engine = make_engine(config.database_url)
    try:
        report = check_server(engine, FilesystemPhotoStore(config.photos_dir))
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for problem in report.problems:
            click.echo(problem.detail)
        if report.ok:
            awaiting = (
                f"; {report.photos_awaiting_upload} photos named by records await their upload"
                if report.photos_awaiting_upload
                else ""
            )
            click.echo(
                f"all well: schema revision {report.revision}, {report.photos_checked} photos "
                f"checked{awaiting}"
            )
    if not report.ok:
        sys.exit(1)


@main.command("cleanup")
@click.option("--dry-run", is_flag=True, help="count what would go, remove nothing")
@click.option("--json", "as_json", is_flag=True, help="print the counts as JSON")
@_one_line_errors
def cleanup(dry_run: bool, as_json: bool) -> None:
    """Remove unfinished uploads and stored photos no record names that were left untouched
    for FIELD_SERVER_UNREFERENCED_DAYS (default 7); safe while the server serves."""
    from field_server.adapters.photo_store import FilesystemPhotoStore
    from field_server.adapters.upload_staging import UploadStaging
    from field_server.services.cleanup import clean_up

    config = _store_config()
    engine = make_engine(config.database_url)
    try:
        report = clean_up(
            UnitOfWorkFactory(engine),
            UploadStaging(config.uploads_dir),
            FilesystemPhotoStore(config.photos_dir),
            config.unreferenced_days,
            dry_run=dry_run,
            data_dir=config.data_dir,
        )
    finally:
        engine.dispose()
    click.echo(json.dumps(report.to_json()) if as_json else report.sentence())


@main.command("collect-key")
@click.argument("code")
@click.argument("username")
@click.option("--device", "device_name", required=True, help="the phone's name, e.g. 'Samsung A14'")
@click.option("--survey", "survey_uuid", default=None, help="the survey its finds go into")
@click.option(
    "--qr",
    "qr_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write Collect's configuration QR code to this PNG file",
)
@click.option("--json", "as_json", is_flag=True, help="print the key as the API answers it")
@_one_line_errors
def collect_key(
    code: str,
    username: str,
    device_name: str,
    survey_uuid: str | None,
    qr_file: Path | None,
    as_json: bool,
) -> None:
    """Issue a key for USERNAME's phone with ODK Collect in expedition CODE (the address a
    phone reaches is FIELD_SERVER_PUBLIC_URL)."""
    import segno

    from field_server.services import collect_keys

    config = ServerConfig.from_env()
    if config.public_url is None:
        raise click.ClickException(
            "set FIELD_SERVER_PUBLIC_URL to the address phones reach: the key's URL names it"
        )
    with _closing_factory() as uow:
        issued = collect_keys.issue_key(
            uow, None, code, username, device_name, survey_uuid, config.public_url
        )
    if qr_file is not None:
        # error level M: the payload of a few hundred characters stays a scannable size
        qr = segno.make(issued.settings, error="m", micro=False)
        with _part_file(qr_file) as part:
            qr.save(str(part), kind="png", scale=6, border=4)
    answer = {
        "id": issued.id,
        "key": issued.key,
        "path": issued.path,
        "server_url": issued.server_url,
        "settings": issued.settings,
        "survey_uuid": issued.survey_uuid,
    }
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False))
        return
    click.echo(f"key {issued.id} for {username} · {device_name}: {issued.server_url}")
    if qr_file is not None:
        click.echo(f"scan {qr_file} in Collect (Project settings → Reconfigure with QR code)")
