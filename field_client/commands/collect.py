"""field-client collect: the laptop as the phones' server in camp (DESIGN §9, "In camp")."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from types import FrameType

import click

from field_client.commands.common import (
    console,
    echo_err,
    emit_json,
    json_option,
    opened_store,
)
from field_client.errors import ClientError
from field_client.home import ensure_home, home_dir, store_path
from field_client.phone_server import CampServer, PhoneApp, phone_server
from field_client.phones import (
    DEFAULT_PORT,
    KeyOnRecord,
    default_url,
    issue_key,
    keys_on_record,
    revoke_key,
)
from field_client.photo_files import clear_partials
from field_client.store import Store


@click.group()
def collect() -> None:
    """Phones with ODK Collect, served by this laptop where there is no network."""


@collect.command("key")
@click.argument("username")
@click.option(
    "--device", "device_name", required=True, help="The phone's name, e.g. 'Aigerim A52'."
)
@click.option(
    "--url",
    metavar="http://LAPTOP:PORT",
    help=f"How phones reach this laptop; default: its first network address, port {DEFAULT_PORT}.",
)
@click.option("--qr", "qr_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write Collect's configuration QR code to this PNG file.")  # fmt: skip
@json_option
def key(
    username: str, device_name: str, url: str | None, qr_path: Path | None, as_json: bool
) -> None:
    """Issue a key for USERNAME's phone, sending into the open survey through this laptop.

    Scan the QR code (or the settings) in Collect; its finds are recorded by USERNAME.
    """
    base_url = (url or default_url()).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ClientError(f"--url {base_url!r} is not an http:// address")
    with opened_store() as (_, store), store.transaction() as connection:
        issued = issue_key(connection, username, device_name, base_url)
    if qr_path is not None:
        _write_qr(issued.settings, qr_path)
    if as_json:
        emit_json(issued.answer())
        return
    click.echo(f"key {issued.id} for {issued.username} ({issued.device_name})")
    click.echo(f"server URL for Collect: {issued.server_url}")
    if qr_path is not None:
        click.echo(f"QR code for Collect written to {qr_path}")
    else:
        click.echo(f"settings for Collect's QR code: {issued.settings}")
    click.echo("start the phones' server with: field-client collect serve")


@collect.command("keys")
@json_option
def keys(as_json: bool) -> None:
    """The keys this laptop issued to phones: whose, which phone, when last used, revoked."""
    with opened_store() as (_, store), store.transaction() as connection:
        issued = keys_on_record(connection)
    if as_json:
        emit_json([k.answer() for k in issued])
        return
    if not issued:
        click.echo("no keys: issue one with field-client collect key USER --device NAME")
        return
    from rich.table import Table

    table = Table("key", "member", "phone", "survey", "issued", "last used", "finds", "state")
    for k in issued:
        table.add_row(
            str(k.id),
            k.username,
            k.device_name,
            k.survey_title or k.expedition_code,
            _kazakhstan_time(k.issued_at),
            _kazakhstan_time(k.last_used_at),
            str(k.submissions),
            f"revoked {_kazakhstan_time(k.revoked_at)}" if k.revoked_at else "in use",
        )
    console().print(table)


@collect.command("revoke")
@click.argument("key_id", metavar="KEY", type=int)
@json_option
def revoke(key_id: int, as_json: bool) -> None:
    """Revoke key KEY (its number in collect keys): the phone's next request is refused.

    What the phone sent before stays in the store and goes out with the next sync.
    """
    with opened_store() as (_, store), store.transaction() as connection:
        revoked, changed = revoke_key(connection, key_id)
    if as_json:
        emit_json({**revoked.answer(), "revoked_now": changed})
        return
    click.echo(_revoked_line(revoked, changed))


def _revoked_line(key: KeyOnRecord, changed: bool) -> str:
    whose = f"key {key.id} of {key.username} ({key.device_name})"
    if changed:
        return f"{whose} revoked: the phone's next request is refused"
    return f"{whose} was already revoked on {_kazakhstan_time(key.revoked_at)}"


def _kazakhstan_time(stamp: str | None) -> str:
    """A stored UTC time as the camp reads it: Kazakhstan time, to the minute."""
    if not stamp:
        return ""
    from datetime import datetime

    from field_core.geo.geotag import KAZAKHSTAN_TIME

    moment = datetime.fromisoformat(stamp).astimezone(KAZAKHSTAN_TIME)
    return moment.strftime("%Y-%m-%d %H:%M (UTC+5)")


def _write_qr(settings: str, target: Path) -> None:
    """The QR code as PNG, written beside the target and renamed: never half a file."""
    import segno

    folder = target.parent if str(target.parent) else Path(".")
    handle, partial = tempfile.mkstemp(dir=folder, suffix=".png.partial")
    try:
        with os.fdopen(handle, "wb") as out:
            segno.make(settings, error="m").save(out, kind="png", scale=6, border=4)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


class _Stop(Exception):
    """SIGTERM: end the server as Ctrl-C does."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


@collect.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Requests answered at once (each phone sends one at a time).")  # fmt: skip
def serve(host: str, port: int, threads: int) -> None:
    """Answer phones' Collect requests (form list, form, submissions) until Ctrl-C.

    One line per submission. Finds, photos and submissions go into this laptop's outbox;
    field-client sync takes them to the server once online.
    """
    home = ensure_home(home_dir())
    path = store_path(home)
    Store.open(path).close()  # migrated and checked now, not at the first phone's request
    left = clear_partials(home)  # what a collect serve killed mid-copy left behind
    if left:
        echo_err(f"removed {left} half-received photo file(s) left by an interrupted run")
    camp = CampServer(home, path)
    app = PhoneApp(camp, log=echo_err)
    # waitress (already a dependency, the server's own) rather than http.server: it answers
    # many phones on threads and keeps request bodies in temporary files; phone_server makes
    # its own refusals OpenRosa answers
    server = phone_server(app, host, port, threads)
    previous = signal.signal(signal.SIGTERM, _stop)
    echo_err(f"serving phones on http://{host}:{port}/odk/key/…  (Ctrl-C stops)")
    try:
        server.run()
    except (KeyboardInterrupt, _Stop):
        echo_err("stopped; every submission answered 201 is in the store")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
