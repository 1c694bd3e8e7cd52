"""field-server cleanup: unfinished uploads left alone and stored photos no record names go
once older than the set age; whatever a record, a find or an earlier revision names stays;
a record pushed while a photo is being removed keeps it; on SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from field_server.adapters import tables
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.upload_staging import UploadStaging
from field_server.cli import main
from field_server.services.auth import now_utc
from field_server.services.cleanup import CleanupReport, clean_up
from field_server.services.errors import NotAllowed
from tests import media_factory as media
from tests import samples
from tests.integration import tus_client as tus
from tests.integration.conftest import World


def cleanup(world: World, days: float = 0, *, dry_run: bool = False) -> CleanupReport:
    config = world.runtime.config
    return clean_up(
        world.runtime.uow,
        UploadStaging(config.uploads_dir),
        FilesystemPhotoStore(config.photos_dir),
        days,
        dry_run=dry_run,
    )


def files_of(world: World, digest: str) -> list[str]:
    return sorted(p.name for p in world.runtime.config.photos_dir.rglob(f"*{digest}*"))


def rows(world: World, table: tables.Table, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with world.runtime.uow() as uow:
        return uow.connection.execute(query).scalar_one()


def staged(world: World, path: str) -> Path:
    return world.runtime.config.uploads_dir / path.rsplit("/", 1)[-1]


def test_a_photo_no_record_names_goes_with_its_thumbnail_a_named_one_stays(
    world: World,
) -> None:
    stray = media.noise_jpeg_bytes(90, 60, seed=31)
    tus.upload(world, "recorder", stray)
    thumb = world.client.get(
        f"/api/v1/photos/{media.sha256(stray)}/thumb", headers=world.headers("recorder")
    )
    assert thumb.status_code == 200
    assert len(files_of(world, media.sha256(stray))) == 2
    named = tus.stored_photo(world, "recorder", media.noise_jpeg_bytes(90, 60, seed=32))

    report = cleanup(world)

    assert (report.photos, report.photo_bytes) == (1, len(stray))
    assert files_of(world, media.sha256(stray)) == []
    assert rows(world, tables.photo_blobs, sha256=media.sha256(stray)) == 0
    assert rows(world, tables.photo_uploads, sha256=media.sha256(stray)) == 0
    assert files_of(world, named) == [named]
    assert rows(world, tables.photo_blobs, sha256=named) == 1
    gone = world.client.get(
        f"/api/v1/photos/{media.sha256(stray)}", headers=world.headers("recorder")
    )
    assert gone.status_code == 404
    missing = world.client.post(
        "/api/v1/photos/missing",
        json={"sha256": [media.sha256(stray), named]},
        headers=world.headers("recorder"),
    )
    assert missing.get_json() == {"missing": [media.sha256(stray)]}


def test_a_photo_a_find_names_now_or_named_in_an_earlier_revision_stays(world: World) -> None:
    survey, template = samples.survey_of("ULY-2026").survey, samples.survey_of("ULY-2026").finds[0]
    first = media.noise_jpeg_bytes(80, 60, seed=33)
    second = media.noise_jpeg_bytes(80, 60, seed=34)
    find = samples.fresh_find(template, photos=[media.sha256(first), media.sha256(second)])
    world.pushed("recorder", [survey, find])
    tus.upload(world, "recorder", first)
    tus.upload(world, "recorder", second)
    # the second photo is taken off the find: its earlier revision still shows it
    edited = {**find, "base_rev": 1, "rev": 2}
    edited["data"] = {**find["data"], "photos": [media.sha256(first)]}
    results = world.pushed("recorder", [edited])["results"]
    assert results[0]["status"] == "updated", results

    report = cleanup(world)

    assert report.photos == 0
    assert files_of(world, media.sha256(first)) == [media.sha256(first)]
    assert files_of(world, media.sha256(second)) == [media.sha256(second)]


def test_nothing_younger_than_the_age_goes_and_a_dry_run_only_counts(world: World) -> None:
    stray = media.noise_jpeg_bytes(70, 50, seed=35)
    tus.upload(world, "recorder", stray)
    path = tus.created(world, "recorder", b"", digest=media.sha256(b"late"), length=5_000)
    assert tus.patch(world, "recorder", path, 0, b"x" * 1_000).status_code == 204

    young = cleanup(world, days=7)
    assert (young.uploads, young.photos) == (0, 0)
    dry = cleanup(world, dry_run=True)
    assert (dry.uploads, dry.upload_bytes, dry.photos, dry.photo_bytes) == (
        1,
        1_000,
        1,
        len(stray),
    )
    assert "would remove 1 unfinished uploads (1000 bytes received)" in dry.sentence()
    assert files_of(world, media.sha256(stray)) == [media.sha256(stray)]
    assert tus.offset_of(world, "recorder", path) == 1_000


def test_an_unfinished_upload_goes_with_its_staging_file_and_answers_404(world: World) -> None:
    path = tus.created(world, "recorder", b"", digest=media.sha256(b"left"), length=5_000)
    assert tus.patch(world, "recorder", path, 0, b"y" * 2_000).status_code == 204
    assert staged(world, path).stat().st_size == 2_000
    never_sent = tus.created(world, "leader", b"", digest=media.sha256(b"none"), length=9)

    report = cleanup(world)

    assert (report.uploads, report.upload_bytes) == (2, 2_000)
    assert not staged(world, path).exists()
    assert not staged(world, never_sent).exists()
    assert rows(world, tables.photo_uploads) == 0
    assert tus.head(world, "recorder", path).status_code == 404
    assert tus.patch(world, "recorder", path, 2_000, b"y").status_code == 404


def test_a_record_pushed_while_its_photo_is_being_removed_keeps_the_photo(world: World) -> None:
    data = media.noise_jpeg_bytes(60, 40, seed=36)
    tus.upload(world, "recorder", data)
    digest = media.sha256(data)
    store = FilesystemPhotoStore(world.runtime.config.photos_dir)
    cutoff = now_utc()
    with world.runtime.uow() as uow:
        assert [blob.sha256 for blob in uow.blobs.unnamed_before(cutoff)] == [digest]

    def forget_after_a_push(stored_at: float | None) -> bool:
        assert stored_at is not None and not store.contains(digest)  # set aside meanwhile
        survey = media.survey_record()
        world.pushed("recorder", [survey, media.photo_record(survey["uuid"], data)])
        with world.runtime.uow(write=True, sequenced=False) as uow:
            forgotten = uow.blobs.forget_if_unnamed(digest, cutoff)
            uow.commit()
        return forgotten

    assert store.remove(digest, forget_after_a_push) is None
    assert store.contains(digest)
    assert rows(world, tables.photo_blobs, sha256=digest) == 1
    served = world.client.get(
        f"/api/v1/photos/{digest}", headers=world.headers("recorder"), buffered=True
    )
    assert served.status_code == 200 and served.get_data() == data


def test_a_photo_sent_again_since_the_cut_off_stays(world: World) -> None:
    data = media.noise_jpeg_bytes(60, 40, seed=37)
    tus.upload(world, "recorder", data)
    cutoff_before_resend = now_utc()
    tus.upload(world, "leader", data)
    with world.runtime.uow() as uow:
        assert uow.blobs.unnamed_before(cutoff_before_resend) == []
        assert not uow.blobs.forget_if_unnamed(media.sha256(data), cutoff_before_resend)


def test_a_cleanup_during_a_backup_or_another_cleanup_is_refused_in_words(
    world: World,
) -> None:
    config = world.runtime.config
    data = media.noise_jpeg_bytes(60, 40, seed=38)
    tus.upload(world, "recorder", data)
    store = FilesystemPhotoStore(config.photos_dir)
    busy = "a backup or another field-server cleanup is using the photo store"
    with store.nothing_removed(), pytest.raises(NotAllowed, match=busy):
        cleanup(world)
    with (config.photos_dir / ".removal.lock").open("a") as running:
        fcntl.flock(running, fcntl.LOCK_EX)  # as a cleanup in another process holds it
        with pytest.raises(NotAllowed, match=busy):
            cleanup(world)
        assert files_of(world, media.sha256(data)) == [media.sha256(data)]
    assert cleanup(world).photos == 1


def test_the_command_says_in_one_line_what_it_removed_or_would(
    world: World, database_url: str
) -> None:
    tus.upload(world, "recorder", media.noise_jpeg_bytes(60, 40, seed=39))
    env = {
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(world.runtime.config.data_dir),
        "FIELD_SERVER_UNREFERENCED_DAYS": "0",
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["cleanup", *args], env=env, catch_exceptions=False)

    dry = run("--dry-run")
    assert dry.exit_code == 0
    assert dry.output.startswith("would remove 0 unfinished uploads (0 bytes received) and 1 ")
    assert dry.output.count("\n") == 1
    done = run()
    assert done.output.startswith("removed 0 unfinished uploads (0 bytes received) and 1 photos")
    assert "untouched for 0 days or more" in done.output
    assert run("--json").output.strip().startswith('{"older_than_days": 0.0, "dry_run": false')
    refused = CliRunner().invoke(
        main, ["cleanup"], env={**env, "FIELD_SERVER_UNREFERENCED_DAYS": "soon"}
    )
    assert refused.exit_code == 1
    assert refused.output.strip().endswith(
        "FIELD_SERVER_UNREFERENCED_DAYS must be a number of days of 0 or more, not 'soon'"
    )


def test_files_left_by_killed_work_go_once_an_hour_old_and_fresh_ones_stay(
    world: World,
) -> None:
    data_dir = world.runtime.config.data_dir
    attachments = data_dir / "collect-attachments"
    uploads = data_dir / "uploads"
    attachments.mkdir(parents=True, exist_ok=True)
    uploads.mkdir(parents=True, exist_ok=True)
    old = [attachments / "attachment-0a1b", uploads / ".restore-rows-7.sqlite3"]
    fresh = [attachments / "attachment-9f8e", uploads / ".restore-photo-1"]
    unrelated = uploads / "0123456789abcdef0123456789abcdef"  # a tus upload's staging file
    two_hours_ago = time.time() - 2 * 3600
    for path in [*old, *fresh, unrelated]:
        path.write_bytes(b"x" * 100)
    for path in [*old, unrelated]:
        os.utime(path, (two_hours_ago, two_hours_ago))
    config = world.runtime.config
    arguments = (
        world.runtime.uow,
        UploadStaging(config.uploads_dir),
        FilesystemPhotoStore(config.photos_dir),
        0,
    )
    dry = clean_up(*arguments, dry_run=True, data_dir=data_dir)
    assert (dry.leftovers, dry.leftover_bytes) == (2, 200)
    assert all(path.exists() for path in old)
    report = clean_up(*arguments, data_dir=data_dir)
    assert (report.leftovers, report.leftover_bytes) == (2, 200)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in [*fresh, unrelated])
    assert "2 files left by interrupted work (200 bytes)" in report.sentence()
