"""The commands that talk to the server: login, pull, sync."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from field_client import account, batches, conflicts, outbox, records, reference
from field_client.commands.common import (
    echo_err,
    emit_json,
    json_option,
    opened_store,
    retries_option,
    retry_policy,
)
from field_client.commands.state import rejected_line
from field_client.errors import ClientError, NeedsAttention
from field_client.home import write_token
from field_client.photos import missing_on_server as photo_files_waiting
from field_client.store import Store
from field_client.sync import SyncEngine, SyncReport
from field_client.transport import Transport
from field_client.tus import CHUNK_BYTES
from field_client.views import status_view


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        # one line; its newline is not part of the password
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, default="", show_default=False)
    else:
        raise ClientError("no password: give --password-stdin and write it to standard input")
    if not password:
        raise ClientError("the password is empty")
    return str(password)


def _device_name(device_id: str) -> str:
    return f"field-client on {socket.gethostname()[:120]} ({device_id[:8]})"


@click.command()
@click.option(
    "--server",
    required=True,
    metavar="URL",
    help="The museum server, e.g. https://qazba.example.kz",
)
@click.option("--username", required=True, metavar="NAME")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--device-name", metavar="NAME", help="How the server lists this laptop.")
@retries_option
@json_option
def login(
    server: str,
    username: str,
    password_stdin: bool,
    device_name: str | None,
    retries: int,
    as_json: bool,
) -> None:
    """Log in, keep the token (file mode 0600), and take the reference and find numbers."""
    url = account.normalise_server_url(server)
    password = _read_password(password_stdin)
    with opened_store() as (home, store):
        with store.reading() as connection:
            account.check_same_server(connection, url)
        device = account.device_id(store)
        with Transport(url, retry=retry_policy(retries)) as transport:
            answer = transport.post(
                "/api/v1/auth/token",
                {
                    "username": username,
                    "password": password,
                    "device_name": (device_name or _device_name(device))[:200],
                },
            )
            try:
                token = str(answer["token"])
                user = str(answer["user"]["username"])
                roles = [str(role) for role in answer["user"]["roles"]]
            except (KeyError, TypeError):
                raise ClientError(
                    "the server's login answer is not in the expected shape"
                ) from None
            write_token(home, token)
            with store.transaction() as connection:
                account.remember_login(connection, url, user, roles)
            transport.token = token
            engine = SyncEngine(store, transport, account.current(store, home))
            engine.refresh_reference()
            engine.top_up_numbers()
        with store.reading() as connection:
            codes = [e.code for e in reference.expeditions(connection) if e.member]
    result = {
        "server": url,
        "username": user,
        "roles": roles,
        "device_id": device,
        "expeditions": codes,
        "numbers_reserved": engine.report.numbers_reserved,
        "warnings": engine.report.warnings,
    }
    if as_json:
        emit_json(result)
        return
    for warning in engine.report.warnings:
        echo_err(f"warning: {warning}")
    recording = ", ".join(codes) or "no expedition yet"
    click.echo(f"logged in to {url} as {user} ({', '.join(roles)}); records for {recording}")


@contextmanager
def _online(retries: int) -> Iterator[tuple[Store, Transport, account.Account]]:
    with opened_store() as (home, store):
        current = account.current(store, home)
        with Transport(current.server_url, current.token, retry=retry_policy(retries)) as transport:
            yield store, transport, current


@click.command()
@retries_option
@json_option
def pull(retries: int, as_json: bool) -> None:
    """Take the reference (expeditions, sites, materials) and the changes since the last pull."""
    with _online(retries) as (store, transport, current):
        engine = SyncEngine(store, transport, current)
        report = engine.pull()
        totals = _totals(store)
    if as_json:
        emit_json(_report_view(report, totals))
        return
    for warning in report.warnings:
        echo_err(f"warning: {warning}")
    click.echo(f"pull done: {_pulled_text(report)}; {_left_text(totals)}")


class _ProgressObserver:
    """The sync's rich progress bars for records and photo bytes, and pulled changes."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.push_task = progress.add_task("records", total=0)
        self.pull_task = progress.add_task("changes pulled", total=None, visible=False)
        self.bytes_task = progress.add_task("photo bytes", total=None, visible=False)
        self.total = 0

    def records_to_push(self, total: int) -> None:
        self.total += total
        self.progress.update(self.push_task, total=self.total)

    def records_answered(self, count: int) -> None:
        self.progress.advance(self.push_task, count)

    def changes_pulled(self, count: int) -> None:
        self.progress.update(self.pull_task, visible=True)
        self.progress.advance(self.pull_task, count)

    def photo_bytes_to_send(self, total: int) -> None:
        if total:
            self.progress.update(self.bytes_task, total=total, visible=True)

    def bytes_sent(self, count: int) -> None:
        self.progress.advance(self.bytes_task, count)


@contextmanager
def _progress(enabled: bool) -> Iterator[_ProgressObserver | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        yield _ProgressObserver(progress)


@click.command()
@click.option(
    "--batch-size",
    type=click.IntRange(1, batches.MAX_BATCH),
    default=batches.MAX_BATCH,
    show_default=True,
    help="Records per push request; smaller batches lose less on a link that keeps dropping.",
)
@click.option(
    "--chunk-size",
    "chunk_mib",
    type=click.IntRange(1, 64),
    default=CHUNK_BYTES // (1024 * 1024),
    show_default=True,
    help="MiB per photo upload request; after an interruption at most one chunk is sent again.",
)
@retries_option
@json_option
def sync(batch_size: int, chunk_mib: int, retries: int, as_json: bool) -> None:
    """Send every waiting change, then take the server's: safe to interrupt and run again.

    Photo files the server lacks are uploaded after the records (tus, resumable: an upload cut
    off is taken up again from the server's offset by the next sync).

    Exits 0 when every record sent got an answer, every photo is stored on the server and
    nothing waits for you; 4, listing them, when records the server rejected or conflicts
    need you (they stay listed by field-client status and conflicts); 3 when the server could
    not be reached; 1 on other failures.
    """
    # A bar only where a person watches: piped, it would leave stray lines in the log.
    show = not as_json and sys.stderr.isatty()
    with _online(retries) as (store, transport, current), _progress(show) as observer:
        engine = SyncEngine(
            store, transport, current, observer, batch_size, chunk_bytes=chunk_mib * 1024 * 1024
        )
        report = engine.sync()
        totals = _totals(store)
        with store.reading() as connection:
            waiting_rejected = status_view(connection)["rejected"]
    if as_json:
        emit_json(_report_view(report, totals))
        _needs_you(totals, waiting_rejected, listed=False)
        return
    for warning in report.warnings:
        echo_err(f"warning: {warning}")
    pushed = report.records_pushed
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(report.pushed.items()))
    pushed_text = (
        f"{pushed} record{'s' if pushed != 1 else ''} sent ({statuses}) in "
        f"{report.batches} batch{'es' if report.batches != 1 else ''}"
        if pushed
        else "nothing to send"
    )
    photos = report.photos
    photo_text = (
        f"{photos.uploaded} photo(s) uploaded ({photos.bytes_sent / 1e6:.1f} MB)"
        if photos.uploaded
        else "no photos to upload"
    )
    click.echo(
        f"sync done: {pushed_text}; {photo_text}; {_pulled_text(report)}; {_left_text(totals)}"
    )
    _needs_you(totals, waiting_rejected, listed=True)


def _needs_you(totals: dict[str, int], rejected: list[dict[str, Any]], listed: bool) -> None:
    """Exit 4 when rejected records or conflicts wait for a person (DESIGN §8), each rejected
    record on its own line first (with --json they are in the JSON report already)."""
    if not (totals["rejected"] or totals["conflicts"]):
        return
    if listed:
        for item in rejected:
            echo_err(rejected_line(item))
    raise NeedsAttention(
        f"{totals['rejected']} rejected record(s) and {totals['conflicts']} conflict(s) need "
        "you: see field-client status and field-client conflicts"
    )


def _totals(store: Store) -> dict[str, int]:
    with store.reading() as connection:
        pending = outbox.pending_uuids(connection)
        rejected = sum(1 for r in records.get_many(connection, pending).values() if r.rejected)
        return {
            "pending": len(pending),
            "rejected": rejected,
            "conflicts": len(conflicts.open_conflicts(connection)),
            "photos_not_on_server": len(photo_files_waiting(connection)),
        }


def _pulled_text(report: SyncReport) -> str:
    count = report.changes_pulled
    if not count:
        return "no changes from the server"
    new = report.pulled.get("new", 0)
    return f"{count} change{'s' if count != 1 else ''} pulled ({new} new)"


def _left_text(totals: dict[str, int]) -> str:
    parts = []
    waiting = totals["pending"] - totals["rejected"]
    if waiting:
        parts.append(f"{waiting} waiting")
    if totals["rejected"]:
        parts.append(f"{totals['rejected']} rejected")
    if totals["conflicts"]:
        parts.append(f"{totals['conflicts']} in conflict")
    if totals["photos_not_on_server"]:
        parts.append(f"{totals['photos_not_on_server']} photo file(s) not uploaded")
    if not parts:
        return "everything is on the server"
    return ", ".join(parts) + " (see field-client status)"


def _report_view(report: SyncReport, totals: dict[str, int]) -> dict[str, Any]:
    return {
        "records_sent": report.records_pushed,
        "results": dict(sorted(report.pushed.items())),
        "batches": report.batches,
        "changes_pulled": report.changes_pulled,
        "pulled": dict(sorted(report.pulled.items())),
        "numbers_reserved": report.numbers_reserved,
        "warnings": report.warnings,
        "photos_uploaded": report.photos.uploaded,
        "photo_bytes_sent": report.photos.bytes_sent,
        "photos_resumed_from": report.photos.resumed_from,
        "photos_already_on_server": report.photos.already_on_server,
        **totals,
    }
