"""``field-server backup`` and ``restore`` (DESIGN §10): round trips between SQLite and
PostgreSQL, a backup taken while devices push, and every refusal leaving the target as it was."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from field_server.adapters import table_dump
from field_server.adapters.backup_archive import ArchiveReader
from field_server.adapters.photo_store import FilesystemPhotoStore, StoreBusy
from field_server.adapters.schema_migration import (
    _alembic_config,
    current_revision,
    head_revision,
)
from field_server.domain.backup_manifest import MANIFEST_NAME, Manifest
from field_server.domain.find_status import FindStatus
from field_server.services.backup import write_backup
from tests.integration.conftest import build_world, open_world
from tests.integration.museum_status import approved_finds, set_status
from tests.integration.museum_world import (
    BACKENDS,
    backed_up_museum,
    databases_for,
    edited,
    engine_of,
    files_under,
    fill_museum,
    push_fresh_finds,
    reserve_numbers,
    run_cli,
    table_rows,
)
from tests.media_factory import noise_jpeg_bytes

MakeDatabase = Callable[[str, str], str]


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    yield from databases_for(request, tmp_path)


def backed_up(url: str, data_dir: Path, out: Path) -> Path:
    result = run_cli(["backup", "--out", str(out), "--quiet"], url, data_dir)
    assert result.exit_code == 0, result.output
    assert out.is_file() and not Path(f"{out}.part").exists()
    return out


def restored(archive: Path, url: str, data_dir: Path) -> None:
    result = run_cli(["restore", str(archive), "--quiet"], url, data_dir)
    assert result.exit_code == 0, result.output


def scalar(url: str, sql: str) -> int:
    engine = engine_of(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "how"),
    [
        pytest.param("sqlite", "postgresql", "bare", marks=pytest.mark.postgres),
        pytest.param("postgresql", "sqlite", "bare", marks=pytest.mark.postgres),
        pytest.param("sqlite", "sqlite", "migrated"),
        pytest.param("postgresql", "postgresql", "migrated", marks=pytest.mark.postgres),
    ],
)
def test_a_restore_holds_every_row_and_photo_and_its_counters_go_on(
    databases: MakeDatabase, tmp_path: Path, source: str, target: str, how: str
) -> None:
    source_url = databases(source, "migrated")
    world = build_world(source_url, tmp_path / "source")
    museum = fill_museum(world)
    archive = backed_up(source_url, tmp_path / "source", tmp_path / "qazba.tar")
    before = table_rows(world.runtime.uow.engine)
    world.runtime.uow.engine.dispose()

    target_url = databases(target, how)
    restored(archive, target_url, tmp_path / "target")
    target_engine = engine_of(target_url)
    after = table_rows(target_engine)
    assert {name: len(rows) for name, rows in after.items()} == {
        name: len(rows) for name, rows in before.items()
    }
    assert after == before
    assert current_revision(target_engine) == head_revision()
    target_engine.dispose()
    store = FilesystemPhotoStore(tmp_path / "target" / "photos")
    for data in museum.photos:
        assert store.path(hashlib.sha256(data).hexdigest()).read_bytes() == data
    assert files_under(tmp_path / "target" / "uploads") == []
    check = run_cli(["check"], target_url, tmp_path / "target")
    assert check.exit_code == 0, check.output

    _counters_go_on(open_world(target_url, tmp_path / "target"), target_url, museum.find_uuids)


def _counters_go_on(world, url: str, finds: list[str]) -> None:  # type: ignore[no-untyped-def]
    last = {
        "seq": scalar(url, "SELECT max(seq) FROM records"),
        "conflict": scalar(url, "SELECT max(id) FROM conflicts"),
        "audit": scalar(url, "SELECT max(id) FROM audit_log"),
        "amendment": scalar(url, "SELECT max(id) FROM register_amendments"),
        "entry": scalar(url, "SELECT max(id) FROM register_entries"),
        "block": scalar(url, "SELECT max(last_number) FROM number_blocks"),
    }
    [new] = push_fresh_finds(world, 1)
    assert scalar(url, f"SELECT seq FROM records WHERE uuid = '{new}'") == last["seq"] + 1

    uuids = approved_finds(world, 2)
    act = world.client.post(
        "/api/v1/register/acts",
        json={"expedition_code": "ULY-2026", "fund": "KP", "find_uuids": uuids},
        headers=world.headers("registrar"),
    )
    assert act.status_code == 201, act.get_data(as_text=True)
    assert act.get_json()["act_number"] == 2
    assert [e["register_number"] for e in act.get_json()["entries"]] == ["КП 2/1", "КП 2/2"]
    assert scalar(url, "SELECT min(id) FROM register_entries WHERE act_number = 2") == (
        last["entry"] + 1
    )
    amended = world.client.post(
        "/api/v1/register/entries/KP/2/1/amendments",
        json={"field": "storage_location", "new": "Қор 4", "reason": "moved"},
        headers=world.headers("registrar"),
    )
    assert amended.status_code == 201, amended.get_data(as_text=True)
    assert scalar(url, "SELECT max(id) FROM register_amendments") == last["amendment"] + 1

    reserve_numbers(world, 5)
    assert scalar(url, "SELECT max(first_number) FROM number_blocks") == last["block"] + 1

    # a new conflict on a restored find, and the audit lines of the act above
    detail = world.client.get(f"/api/v1/finds/{finds[1]}", headers=world.headers("reviewer"))
    assert detail.status_code == 200, detail.get_data(as_text=True)
    rev = detail.get_json()["server_rev"]
    record = {"type": "find", "uuid": finds[1], "base_rev": rev, "rev": 9}
    record["data"] = detail.get_json()["data"]
    world.pushed("recorder", [edited(record, rev, 9, material="glass")], device_id="x")
    answer = world.pushed("leader", [edited(record, rev, 9, material="slag")], device_id="y")
    assert answer["results"][0]["status"] == "conflict"
    assert scalar(url, "SELECT max(id) FROM conflicts") == last["conflict"] + 1
    assert scalar(url, "SELECT count(*) FROM audit_log WHERE id > " + str(last["audit"])) > 0
    world.runtime.uow.engine.dispose()


# -- a backup while devices push --------------------------------------------------------------


def test_no_photo_is_removed_while_a_backup_runs(databases: MakeDatabase, tmp_path: Path) -> None:
    """From before its snapshot lists the photos until each is copied, the backup holds the
    store against removals (field-server cleanup is refused meanwhile)."""
    world = build_world(databases("sqlite", "migrated"), tmp_path / "data")
    fill_museum(world)
    store = FilesystemPhotoStore(tmp_path / "data" / "photos")
    refused = []

    def try_a_removal(_message: str) -> None:
        with pytest.raises(StoreBusy), store.removing():
            pass
        refused.append(True)

    write_backup(world.runtime.uow.engine, store, tmp_path / "a.tar", progress=try_a_removal)
    world.runtime.uow.engine.dispose()
    assert refused
    with store.removing():  # and let go once it is written
        pass


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_backup_taken_while_devices_push_is_one_moment(
    databases: MakeDatabase, tmp_path: Path, kind: str
) -> None:
    url = databases(kind, "migrated")
    world = build_world(url, tmp_path / "data")
    push_fresh_finds(world, 20)
    stop = threading.Event()
    pushes: list[int] = []

    def push_on() -> None:
        pusher = open_world(url, tmp_path / "data")
        while not stop.is_set():
            push_fresh_finds(pusher, 25)
            pushes.append(1)
        pusher.runtime.uow.engine.dispose()

    thread = threading.Thread(target=push_on)
    thread.start()
    try:
        while len(pushes) < 2:
            stop.wait(0.01)
        archives = []
        for number in range(3):
            out = tmp_path / f"during-{number}.tar"
            write_backup(
                world.runtime.uow.engine, FilesystemPhotoStore(tmp_path / "data" / "photos"), out
            )
            archives.append(out)
    finally:
        stop.set()
        thread.join()
    assert len(pushes) >= 3
    for archive in archives:
        with ArchiveReader(archive) as reader:
            reader.verify()
            rows = {t.table: list(reader.table_rows(t)) for t in reader.manifest.tables}
        columns = {t.table: [c for c, _ in t.columns] for t in reader.manifest.tables}

        def column(table: str, name: str, rows=rows, columns=columns) -> list[object]:  # type: ignore[no-untyped-def]
            index = columns[table].index(name)
            return [row[index] for row in rows[table]]

        seqs = column("records", "seq")
        [last_seq] = column("change_counter", "last_seq")
        assert last_seq == max(seqs) and len(set(seqs)) == len(seqs)
        records = set(column("records", "uuid"))
        assert set(column("revisions", "uuid")) == records
        finds = {
            u
            for u, t in zip(column("records", "uuid"), column("records", "type"), strict=True)
            if t == "find"
        }
        assert set(column("find_sheets", "uuid")) == finds == set(column("find_traits", "uuid"))
    world.runtime.uow.engine.dispose()


# -- an archive from an older schema ----------------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_archive_from_an_older_schema_is_restored_and_migrated_to_the_head(
    databases: MakeDatabase, tmp_path: Path, kind: str
) -> None:
    url = databases(kind, "migrated")
    world = build_world(url, tmp_path / "source")
    fill_museum(world)
    at_head = table_rows(world.runtime.uow.engine)
    engine = world.runtime.uow.engine
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    archive = backed_up(url, tmp_path / "source", tmp_path / "old.tar")
    engine.dispose()
    with ArchiveReader(archive) as reader:
        assert reader.manifest.schema_revision == "0005"
        assert "find_sheets" not in {t.table for t in reader.manifest.tables}

    # into a database already at the head: it is empty, so it is taken down to 0005 first
    target_url = databases(kind, "migrated")
    result = run_cli(["restore", str(archive)], target_url, tmp_path / "target")
    assert result.exit_code == 0, result.output
    assert "migrated from schema revision 0005 to" in result.output
    target = engine_of(target_url)
    assert current_revision(target) == head_revision()
    assert table_rows(target) == at_head  # find sheets made again by migration 0006
    target.dispose()


# -- refusals ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small museum's backup (SQLite), shared by the refusal tests, which never change it."""
    return backed_up_museum(tmp_path_factory.mktemp("archive"))


@dataclasses.dataclass
class Target:
    url: str
    data_dir: Path

    def refuses(self, archive: Path, *words: str) -> str:
        before = files_under(self.data_dir)
        result = run_cli(["restore", str(archive), "--quiet"], self.url, self.data_dir)
        assert result.exit_code != 0, result.output
        line = result.output.strip()
        assert "\n" not in line and line.startswith("Error: "), result.output
        for word in words:
            assert word in line, line
        assert files_under(self.data_dir) == before  # no photos, no temporary files
        return line


@pytest.fixture
def target(databases: MakeDatabase, tmp_path: Path) -> Target:
    data_dir = tmp_path / "target"
    data_dir.mkdir()
    return Target(databases("sqlite", "migrated"), data_dir)


def assert_empty(url: str) -> None:
    engine = engine_of(url)
    with engine.connect() as connection:
        assert table_dump.table_with_data(connection) is None
    engine.dispose()


Members = list[tuple[tarfile.TarInfo, bytes]]


def members_of(archive: Path) -> Members:
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]  # type: ignore[union-attr]
    for info, _ in members:
        # the writer puts each size in the PAX header too, where it outranks the size the
        # tests below set: rewritten members take theirs from TarInfo.size alone
        info.pax_headers.pop("size", None)
    return members


def write_members(members: Members, out: Path) -> Path:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out


def with_manifest(members: Members, change: Callable[[Manifest], Manifest]) -> Members:
    *body, (info, raw) = members
    assert info.name == MANIFEST_NAME
    data = change(Manifest.from_json(raw)).to_json()
    info.size = len(data)
    return [*body, (info, data)]


def test_a_target_holding_data_is_refused(
    archive: Path, databases: MakeDatabase, tmp_path: Path
) -> None:
    url = databases("sqlite", "migrated")
    world = build_world(url, tmp_path / "full")
    world.runtime.uow.engine.dispose()
    users = scalar(url, "SELECT count(*) FROM users")
    Target(url, tmp_path / "full").refuses(archive, "holds data")
    assert scalar(url, "SELECT count(*) FROM users") == users


@pytest.mark.postgres
def test_a_postgresql_target_holding_data_is_refused(
    archive: Path, databases: MakeDatabase, tmp_path: Path
) -> None:
    url = databases("postgresql", "migrated")
    engine = engine_of(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE register_funds SET last_receipt = 3 WHERE fund = 'KP'"))
    engine.dispose()
    (tmp_path / "pg").mkdir()
    Target(url, tmp_path / "pg").refuses(archive, "holds data", "register_funds")


def test_an_archive_from_a_newer_schema_is_refused(
    archive: Path, target: Target, tmp_path: Path
) -> None:
    newer = with_manifest(
        members_of(archive), lambda m: dataclasses.replace(m, schema_revision="9999")
    )
    target.refuses(write_members(newer, tmp_path / "newer.tar"), "9999", "does not know")
    assert_empty(target.url)


def test_an_archive_cut_short_is_refused(archive: Path, target: Target, tmp_path: Path) -> None:
    data = archive.read_bytes()
    with tarfile.open(archive) as tar:
        manifest = tar.getmembers()[-1]
    # the archive's end is zeros (tar's end blocks, padding): cut into the manifest instead
    for cut in (len(data) // 2, manifest.offset_data + manifest.size // 2, 700):
        short = tmp_path / f"short-{cut}.tar"
        short.write_bytes(data[:cut])
        target.refuses(short)
        assert_empty(target.url)


@pytest.mark.parametrize("which", ["table", "photo", "manifest"])
def test_one_changed_byte_is_refused(
    archive: Path, target: Target, tmp_path: Path, which: str
) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    member = {
        "table": next(m for m in members if m.name == "tables/records.jsonl"),
        "photo": next(m for m in members if m.name.startswith("photos/")),
        "manifest": members[-1],
    }[which]
    data = bytearray(archive.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0x01
    changed = tmp_path / "changed.tar"
    changed.write_bytes(bytes(data))
    target.refuses(changed)
    assert_empty(target.url)


def test_a_renamed_member_is_refused(archive: Path, target: Target, tmp_path: Path) -> None:
    members = members_of(archive)
    photo = next(info for info, _ in members if info.name.startswith("photos/"))
    photo.name = photo.name[:-1] + ("0" if photo.name[-1] != "0" else "1")
    target.refuses(write_members(members, tmp_path / "renamed.tar"), "not in the manifest")


def test_a_missing_member_is_refused(archive: Path, target: Target, tmp_path: Path) -> None:
    members = [(i, d) for i, d in members_of(archive) if i.name != "tables/audit_log.jsonl"]
    target.refuses(write_members(members, tmp_path / "missing.tar"), "audit_log", "missing")


@pytest.mark.parametrize(
    ("name", "words"),
    [("photos/../../evil", "'..'"), ("/etc/cron.d/evil", "absolute")],
)
def test_a_member_path_outside_the_archive_is_refused(
    archive: Path, target: Target, tmp_path: Path, name: str, words: str
) -> None:
    members = members_of(archive)
    evil = tarfile.TarInfo(name)
    evil.size = 4
    members.insert(1, (evil, b"evil"))
    target.refuses(write_members(members, tmp_path / "evil.tar"), words)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_links_and_devices_are_refused(
    archive: Path, target: Target, tmp_path: Path, kind: bytes
) -> None:
    members = members_of(archive)
    link = tarfile.TarInfo("photos/aa/bb/link")
    link.type = kind
    link.linkname = "/etc/passwd"
    members.insert(1, (link, b""))
    target.refuses(write_members(members, tmp_path / "link.tar"), "not a plain file")


@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_a_decompression_bomb_is_refused(
    archive: Path, target: Target, tmp_path: Path, declared: str
) -> None:
    """A table member of 64 MB of zeros in 64 KB of gzip (as archives of the first writer,
    whose tables were compressed, hold them): declared as such, or declared small."""
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    members = members_of(archive)
    info = next(i for i, _ in members if i.name == "tables/push_batches.jsonl")
    info.name = "tables/push_batches.jsonl.gz"
    info.size = len(bomb)
    members = [(i, bomb if i is info else d) for i, d in members]

    def swell(manifest: Manifest) -> Manifest:
        table = manifest.table("push_batches")
        swollen = dataclasses.replace(
            table,
            compression="gzip",
            size=len(bomb),
            sha256=hashlib.sha256(bomb).hexdigest(),
            expanded_size=64 * 1024 * 1024 if declared == "honest" else table.expanded_size,
        )
        tables = tuple(swollen if t is table else t for t in manifest.tables)
        return dataclasses.replace(manifest, tables=tables)

    bombed = write_members(with_manifest(members, swell), tmp_path / "bomb.tar")
    target.refuses(bombed, "decompression bomb")
    assert_empty(target.url)


def test_a_database_that_does_not_answer_is_refused(archive: Path, tmp_path: Path) -> None:
    Target("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path / "data").refuses(
        archive, "does not answer"
    )
    assert not (tmp_path / "data").exists()


def test_a_file_that_is_not_an_archive_is_refused(target: Target, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file at all" * 100)
    target.refuses(junk, "cannot be read as a tar file")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Callable[[str], Path]:
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"tmpfs-{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
        mounted.append(point)
        return point

    yield mount  # type: ignore[misc]
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_data_folder_that_cannot_be_written_is_refused(
    archive: Path, tmp_path: Path, tmpfs: Callable[[str], Path]
) -> None:
    read_only = tmpfs("size=1m,ro")
    url = f"sqlite:///{tmp_path}/elsewhere/qazba.sqlite3"
    Target(url, read_only).refuses(archive, "cannot be written")
    assert not (tmp_path / "elsewhere" / "qazba.sqlite3").exists()


def test_a_data_folder_that_fills_up_takes_everything_back(
    databases: MakeDatabase, tmp_path: Path, tmpfs: Callable[[str], Path]
) -> None:
    """Room for the first photo but not the second: the rows and the first photo go again."""
    url = databases("sqlite", "migrated")
    world = build_world(url, tmp_path / "source")
    photos = [noise_jpeg_bytes(900, 700, seed=seed) for seed in (5, 6)]
    from tests.integration import tus_client as tus

    for data in photos:
        tus.stored_photo(world, "recorder", data)
    world.runtime.uow.engine.dispose()
    big = backed_up(url, tmp_path / "source", tmp_path / "big.tar")
    room = tmpfs(f"size={len(photos[0]) + len(photos[1]) // 2 + 64 * 1024}")
    target_url = databases("sqlite", "migrated")
    Target(target_url, room).refuses(big, "could not be put", "nothing was restored")
    assert_empty(target_url)


def test_nothing_is_written_when_a_row_cannot_be_loaded(
    archive: Path, target: Target, tmp_path: Path
) -> None:
    """A row the manifest's digests agree with but the database refuses (a user twice) rolls
    the whole load back."""
    members = members_of(archive)
    info = next(i for i, _ in members if i.name == "tables/users.jsonl")
    rows = next(d for i, d in members if i is info)
    doubled = rows + rows.splitlines(keepends=True)[0]
    info.size = len(doubled)
    members = [(i, doubled if i is info else d) for i, d in members]

    def double(manifest: Manifest) -> Manifest:
        table = manifest.table("users")
        twice = dataclasses.replace(
            table,
            rows=table.rows + 1,
            size=len(doubled),
            sha256=hashlib.sha256(doubled).hexdigest(),
            expanded_size=len(doubled),
        )
        tables = tuple(twice if t is table else t for t in manifest.tables)
        return dataclasses.replace(manifest, tables=tables)

    bad = write_members(with_manifest(members, double), tmp_path / "double.tar")
    target.refuses(bad, "rolled back")
    assert_empty(target.url)


def test_a_row_naming_a_row_the_archive_lacks_is_refused(
    archive: Path, target: Target, tmp_path: Path
) -> None:
    """A revision of a record the archive does not hold, with the manifest's digests agreeing:
    SQLite loads without a lookup per row and checks every foreign key after the load; the
    row refuses the whole restore all the same."""
    members = members_of(archive)
    info = next(i for i, _ in members if i.name == "tables/revisions.jsonl")
    rows = next(d for i, d in members if i is info).splitlines(keepends=True)
    columns = [name for name, _ in Manifest.from_json(members[-1][1]).table("revisions").columns]
    orphan = json.loads(rows[0])
    orphan[columns.index("uuid")] = "00000000-0000-4000-8000-000000000000"
    changed = b"".join([json.dumps(orphan).encode() + b"\n", *rows[1:]])
    info.size = len(changed)
    members = [(i, changed if i is info else d) for i, d in members]

    def orphaned(manifest: Manifest) -> Manifest:
        table = manifest.table("revisions")
        edited = dataclasses.replace(
            table,
            size=len(changed),
            sha256=hashlib.sha256(changed).hexdigest(),
            expanded_size=len(changed),
        )
        tables = tuple(edited if t is table else t for t in manifest.tables)
        return dataclasses.replace(manifest, tables=tables)

    bad = write_members(with_manifest(members, orphaned), tmp_path / "orphan.tar")
    target.refuses(bad, "table revisions", "table records", "foreign key")
    assert_empty(target.url)


def test_the_backup_leaves_no_file_when_it_fails(tmp_path: Path, archive: Path) -> None:
    out = tmp_path / "no-such-folder" / "qazba.tar"
    result = run_cli(["backup", "--out", str(out)], "sqlite:///" + str(tmp_path / "x"), tmp_path)
    assert result.exit_code != 0 and "does not exist" in result.output
    assert files_under(tmp_path) == []


def test_one_archive_restores_alike_into_a_bare_and_a_migrated_target(
    databases: MakeDatabase, tmp_path: Path
) -> None:
    """A database with no tables and one migrated but empty take the same archive alike."""
    url = databases("sqlite", "migrated")
    world = build_world(url, tmp_path / "source")
    uuids = push_fresh_finds(world, 3)
    set_status(world, uuids, FindStatus.APPROVED)
    world.runtime.uow.engine.dispose()
    archive = backed_up(url, tmp_path / "source", tmp_path / "a.tar")
    first, second = databases("sqlite", "bare"), databases("sqlite", "migrated")
    restored(archive, first, tmp_path / "one")
    restored(archive, second, tmp_path / "two")
    engines = engine_of(first), engine_of(second)
    assert table_rows(engines[0]) == table_rows(engines[1])
    for engine in engines:
        engine.dispose()
