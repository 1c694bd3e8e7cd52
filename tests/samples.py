"""The sample surveys as test data: expeditions with sites, surveys and their finds."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_surveys"
# field text full of markup: every page must show it as text, never run it
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass(frozen=True)
class SampleSurvey:
    folder: str
    survey: dict[str, Any]
    finds: list[dict[str, Any]]

    @property
    def expedition_code(self) -> str:
        return self.survey["data"]["expedition_code"]


@cache
def expeditions() -> list[dict[str, Any]]:
    return json.loads((SAMPLE_DIR / "expeditions.json").read_text(encoding="utf-8"))["expeditions"]


@cache
def surveys() -> list[SampleSurvey]:
    found = []
    for folder in sorted(p for p in SAMPLE_DIR.iterdir() if (p / "survey.json").exists()):
        survey = json.loads((folder / "survey.json").read_text(encoding="utf-8"))
        finds = json.loads((folder / "finds.json").read_text(encoding="utf-8"))
        found.append(SampleSurvey(folder.name, survey, finds))
    return found


def survey_of(code: str) -> SampleSurvey:
    return next(s for s in surveys() if s.expedition_code == code)


def camp_batch() -> list[dict[str, Any]]:
    """The Baskamyr camp survey: its finds are planted duplicates of the Baskamyr survey's."""
    camp = next(s for s in surveys() if s.folder == "uly-2026-baskamyr-camp")
    return json.loads(json.dumps([camp.survey, *camp.finds]))


def fresh_find(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a sample find under a new uuid and find number, as a new device record."""
    record = json.loads(json.dumps(template))
    record["uuid"] = str(uuid.uuid4())
    record["base_rev"], record["rev"] = 0, 1
    record["data"]["find_number"] = "T-" + record["uuid"][:8]
    record["data"].update(changes)
    return record
