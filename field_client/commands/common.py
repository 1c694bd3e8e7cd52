"""What every command shares: the opened store, --json output, option types, human output."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from field_client.home import ensure_home, home_dir, store_path
from field_client.store import Store
from field_client.transport import RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def opened_store() -> Iterator[tuple[Path, Store]]:
    """The home folder and its store, open for one command and closed after it."""
    home = ensure_home(home_dir())
    store = Store.open(store_path(home))
    try:
        yield home, store
    finally:
        store.close()


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)


def retries_option(command: F) -> F:
    return click.option(
        "--retries",
        type=click.IntRange(1, 100),
        default=5,
        show_default=True,
        help="Attempts per request; waits between them double from 0.5 s (network errors, "
        "429 and 5xx answers).",
    )(command)


def retry_policy(retries: int) -> RetryPolicy:
    return RetryPolicy(attempts=retries)


class FiniteFloat(click.ParamType):
    """A decimal number with a point (not a comma); NaN and infinities are refused."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            hint = " (use a decimal point, not a comma)" if "," in str(value) else ""
            self.fail(f"{value!r} is not a number{hint}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def console() -> Any:
    """A rich console on stdout that writes UTF-8 text without colour codes when piped."""
    from rich.console import Console

    # Piped, rich would squeeze tables into 80 columns and cut Kazakh names short.
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, soft_wrap=False, file=sys.stdout, width=width)


def short(uuid: str) -> str:
    return uuid[:8]
