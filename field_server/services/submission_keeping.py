"""Keeping a phone's submission as received (DESIGN §9), whichever way it reached the server:
straight from the phone (services.collect) or through the camp laptop as a pushed record of
type ``submission`` (services.sync_push). One function writes the row, so a submission is kept
one way, and one instanceID is one row of its expedition.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from field_core.collect.submission import Submission
from field_server.adapters.collect_repositories import (
    FILED,
    NEEDS_REVIEW,
    CollectKeys,
    CollectSubmissions,
)
from field_server.services.auth import token_digest

CAMP_LAPTOP = "camp laptop"
"""How a camp laptop's relay is named among an expedition's keys."""


def keep_submission(
    kept: CollectSubmissions,
    *,
    expedition_id: int,
    key_id: int,
    submission: Submission,
    xml_text: str,
    xml_sha256: str,
    received_at: datetime,
    now: datetime,
    find_uuid: str | None = None,
    find_rev: int | None = None,
    attachments_named: list[str] | None = None,
    attachments_received: dict[str, str] | None = None,
) -> int:
    """Keep one submission's XML as received; returns the row's id.

    A row without a find waits for a reviewer, who corrects it into one (services.collect).
    """
    return kept.add(
        {
            "expedition_id": expedition_id,
            "key_id": key_id,
            "instance_id": submission.instance_id,
            "deprecated_id": submission.deprecated_id,
            "form_version": (submission.version or "")[:64] or None,
            "xml": xml_text,
            "xml_sha256": xml_sha256,
            "received_at": received_at,
            "updated_at": now,
            "find_uuid": find_uuid,
            "find_rev": find_rev,
            "problems": [],
            "attachments_named": (
                list(submission.photo_files) if attachments_named is None else attachments_named
            ),
            "attachments_received": attachments_received or {},
            "status": FILED if find_uuid is not None else NEEDS_REVIEW,
        }
    )


def camp_laptop_key(
    keys: CollectKeys,
    *,
    expedition_id: int,
    user_id: int,
    device_id: str,
    survey_uuid: str,
    now: datetime,
) -> int:
    """The key row that submissions relayed by one camp laptop are kept under.

    Every kept submission names the key it came with (collect_submissions.key_id), and a
    reviewer's correction files the find in that key's member's name into its survey. A laptop
    issues its phones' keys itself, so the server knows none of them: it stands the laptop's
    relay in as a key of the member who pushes, for the laptop's device and the survey. The key
    is revoked as it is made and its secret is never told, so no phone can ever send with it.
    """
    device_name = f"{CAMP_LAPTOP} {device_id}"[:200]
    for key in keys.of_expedition(expedition_id):
        if (key.user_id, key.device_name, key.survey_uuid) == (user_id, device_name, survey_uuid):
            return key.id
    key_id = keys.add(
        token_digest(secrets.token_urlsafe(32)),
        expedition_id,
        user_id,
        device_name,
        survey_uuid,
        user_id,
        now,
    )
    keys.revoke(key_id, now)
    return key_id
