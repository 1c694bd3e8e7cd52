"""A store in a temporary folder and valid survey and find data for the client's unit tests."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.cli import main
from field_client.store import Store
from tests import samples


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "field-client.sqlite3")
    yield opened
    opened.close()


def survey_data() -> dict[str, Any]:
    return copy.deepcopy(samples.survey_of("ULY-2026").survey["data"])


def find_data(survey_uuid: str, number: str = "ULY26-9001", **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(samples.survey_of("ULY-2026").finds[0]["data"])
    data.update(survey_uuid=survey_uuid, find_number=number, **changes)
    return data


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """FIELD_CLIENT_HOME in a temporary folder, for running the CLI in-process."""
    path = tmp_path / "home"
    monkeypatch.setenv("FIELD_CLIENT_HOME", str(path))
    umask = os.umask(0o022)
    os.umask(umask)
    yield path
    os.umask(umask)  # main() narrows it for the process


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``field-client ARGS`` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err
