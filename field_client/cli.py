"""The field-client command: one line of reason and a non-zero exit on any failure."""

from __future__ import annotations

import io
import os
import sqlite3
import sys

import click

from field_client import __version__
from field_client.commands.collect import collect
from field_client.commands.finds import find
from field_client.commands.imports import import_
from field_client.commands.online import login, pull, sync
from field_client.commands.photos import photos
from field_client.commands.state import conflicts, status
from field_client.commands.surveys import survey
from field_client.errors import EXIT_FAILED, ClientError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="field-client")
def cli() -> None:
    """Qazba's field client: record surveys and finds offline, sync when a network is reached.

    The store lives in FIELD_CLIENT_HOME (default ~/.field-client). Only login, pull and sync
    need the network.
    """


for command in (login, pull, sync, survey, find, import_, photos, collect, status, conflicts):
    cli.add_command(command)


def _fail(message: str, code: int) -> None:
    click.echo(f"field-client: {message}", err=True)
    sys.exit(code)


def _utf8_streams() -> None:
    # Kazakh and Russian text must print even under a C locale or a pipe with another default.
    for stream in (sys.stdout, sys.stderr):
        if (
            isinstance(stream, io.TextIOWrapper)
            and stream.encoding.replace("-", "").lower() != "utf8"
        ):
            stream.reconfigure(encoding="utf-8")


def _utf8_arguments(argv: list[str]) -> list[str]:
    """Arguments as UTF-8 text even where the locale is C: Python then decodes them as ASCII and
    keeps the other bytes as surrogates, which no record may hold."""
    fixed = []
    for arg in argv:
        try:
            fixed.append(os.fsencode(arg).decode("utf-8"))
        except UnicodeDecodeError:
            fixed.append(arg)
    return fixed


def main(argv: list[str] | None = None) -> None:
    # The store, its WAL and the token are the team's unsent season: no one else reads them.
    os.umask(0o077)
    _utf8_streams()
    try:
        code = cli.main(
            args=_utf8_arguments(sys.argv[1:] if argv is None else argv),
            prog_name="field-client",
            standalone_mode=False,
        )
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx else "field-client"
        _fail(f"{error.format_message()} (see {where} --help)", EXIT_USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except click.Abort:
        _fail("aborted", EXIT_FAILED)
    except ClientError as error:
        _fail(error.reason, error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; run the command again to finish", EXIT_INTERRUPTED)
    except sqlite3.Error as error:
        _fail(f"the local store failed: {error}", EXIT_FAILED)
    except Exception as error:
        # A bug still gets one line, not a traceback; its type says where to look.
        _fail(f"unexpected {type(error).__name__}: {error}", EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
