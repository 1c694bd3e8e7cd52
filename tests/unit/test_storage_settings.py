"""The storage limits and the cleanup age, read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from field_server.config import ServerConfig
from field_server.domain.quotas import GIB, StorageLimits


def config(tmp_path: Path, **env: str) -> ServerConfig:
    return ServerConfig.from_env(
        {"FIELD_SERVER_DATA_DIR": str(tmp_path), "FIELD_SERVER_SECRET_KEY": "k", **env}
    )


def test_unset_limits_fit_a_season_and_uploads_unnamed_for_a_week_go(tmp_path: Path) -> None:
    read = config(tmp_path)
    assert read.storage_limits == StorageLimits(20 * GIB, 100 * GIB, 20)
    assert read.unreferenced_days == 7


def test_every_limit_is_read(tmp_path: Path) -> None:
    read = config(
        tmp_path,
        FIELD_SERVER_QUOTA_USER_BYTES="1000",
        FIELD_SERVER_QUOTA_EXPEDITION_BYTES="5000",
        FIELD_SERVER_MAX_OPEN_UPLOADS="3",
        FIELD_SERVER_UNREFERENCED_DAYS="0.5",
    )
    assert read.storage_limits == StorageLimits(1000, 5000, 3)
    assert read.unreferenced_days == 0.5
    assert config(tmp_path, FIELD_SERVER_UNREFERENCED_DAYS="0").unreferenced_days == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIELD_SERVER_QUOTA_USER_BYTES", "-1"),
        ("FIELD_SERVER_QUOTA_USER_BYTES", "20G"),
        ("FIELD_SERVER_QUOTA_EXPEDITION_BYTES", "1e9"),
        ("FIELD_SERVER_MAX_OPEN_UPLOADS", "²"),
        ("FIELD_SERVER_UNREFERENCED_DAYS", "-1"),
        ("FIELD_SERVER_UNREFERENCED_DAYS", "nan"),
        ("FIELD_SERVER_UNREFERENCED_DAYS", "a week"),
    ],
)
def test_a_limit_that_is_not_a_count_names_itself(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        config(tmp_path, **{name: value})
