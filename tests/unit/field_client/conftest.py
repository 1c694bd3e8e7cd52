"""A store in a temporary folder and valid survey and find data for the client's unit tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
