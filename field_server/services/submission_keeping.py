"""Keeping a phone's submission as received (DESIGN §9), whichever way it reached the server:
straight from the phone (services.collect) or through the camp laptop as a pushed record of
type ``submission`` (services.sync_push). One function writes the row, so a submission is kept
one way, and one instanceID is one row of its expedition.
"""

from __future__ import annotations

from datetime import datetime

from field_core.collect.submission import Submission
from field_server.adapters.collect_repositories import (
    FILED,
    NEEDS_REVIEW,
    CollectSubmissions,
)


def keep_submission(
    kept: CollectSubmissions,
    *,
    expedition_id: int,
    key_id: int | None,
    relayed_by_device: str | None,
    recorded_by_user_id: int,
    survey_uuid: str,
    submission: Submission,
    xml_text: str,
    xml_sha256: str,
    received_at: datetime,
    now: datetime,
    find_uuid: str | None = None,
    find_rev: int | None = None,
    attachments_named: list[str] | None = None,
    attachments_received: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
) -> int:
    """Keep one submission's XML as received; returns the row's id.

    A row without a find waits for a reviewer, who corrects it into one (services.collect).
    A phone's submission names its key; one the camp laptop relayed names the laptop's device
    instead (``relayed_by_device``), since the laptop issues its phones' keys itself and the
    server knows none of them. Either way ``recorded_by_user_id`` is the member a find made of
    it is recorded by, and ``survey_uuid`` the survey it goes into.
    """
    return kept.add(
        {
            "expedition_id": expedition_id,
            "key_id": key_id,
            "relayed_by_device": relayed_by_device,
            "recorded_by_user_id": recorded_by_user_id,
            "survey_uuid": survey_uuid,
            "instance_id": submission.instance_id,
            "deprecated_id": submission.deprecated_id,
            "form_version": (submission.version or "")[:64] or None,
            "xml": xml_text,
            "xml_sha256": xml_sha256,
            "received_at": received_at,
            "updated_at": now,
            "find_uuid": find_uuid,
            "find_rev": find_rev,
            "problems": problems or [],
            "attachments_named": (
                list(submission.photo_files) if attachments_named is None else attachments_named
            ),
            "attachments_received": attachments_received or {},
            "status": FILED if find_uuid is not None else NEEDS_REVIEW,
        }
    )
