"""``field-server create-act``: an acceptance act from the server's command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from field_server.cli import main
from field_server.domain.find_numbers import natural_key
from field_server.domain.find_status import FindStatus
from tests.integration.conftest import World
from tests.integration.museum_status import set_status
from tests.integration.test_register import register_state
from tests.integration.test_register import uly as approved_uly

Run = Callable[..., Result]
uly = approved_uly  # the register tests' fixture: ULY-2026 pushed, all but two finds approved


@pytest.fixture
def run(world: World, database_url: str, tmp_path: Path) -> Run:
    """``field-server ARGS…`` on the world's database, in this process."""
    env = {
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(tmp_path / "data"),
        "FIELD_SERVER_SECRET_KEY": "cli-test",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def entries_of(world: World, fund: str, number: int) -> list[tuple[str, str]]:
    response = world.client.get(
        f"/api/v1/register/acts/{fund}/{number}", headers=world.headers("registrar")
    )
    assert response.status_code == 200
    return [(e["find_uuid"], e["register_number"]) for e in response.get_json()["entries"]]


def test_an_act_of_a_list_of_finds_is_made_and_its_documents_written(
    world: World, run: Run, uly: list[dict[str, Any]], tmp_path: Path
) -> None:
    chosen = [uly[4], uly[0], uly[2]]
    listing = tmp_path / "finds.txt"
    lines = ["# finds for the main fund", chosen[0]["uuid"], "", *(f["uuid"] for f in chosen[1:])]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "acts"
    result = run(
        "create-act",
        "ULY-2026",
        "--fund",
        "KP",
        "--finds",
        str(listing),
        "--registrar",
        "registrar",
        "--received-by",
        "Жанар Сейітова",
        "--storage-location",
        "Қор 2",
        "--out-dir",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["fund"], answer["act_number"]) == ("KP", 1)
    numbers = [(e["find_uuid"], e["register_number"]) for e in answer["entries"]]
    assert numbers == [(f["uuid"], f"КП 1/{n}") for n, f in enumerate(chosen, start=1)]
    assert entries_of(world, "KP", 1) == numbers
    assert answer["entries"][0]["register_number_ascii"] == "KP 1/1"

    names = ["act-KP-1-kk.pdf", "act-KP-1-kk.csv", "inventory-KP-1-kk.pdf", "inventory-KP-1-kk.csv"]
    assert answer["files"] == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no partial files left
    reader = PdfReader(out / "act-KP-1-kk.pdf")
    words = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Қабылдау актісі № КП 1" in words and "Жанар Сейітова" in words
    assert all(f"КП 1/{n}" in words for n in (1, 2, 3))
    rows = list(csv.reader(io.StringIO((out / "inventory-KP-1-kk.csv").read_text("utf-8"))))
    assert [row[2] for row in rows[1:]] == [f["data"]["find_number"] for f in chosen]


def test_all_approved_finds_go_in_find_number_order_and_the_rest_stay(
    world: World, run: Run, uly: list[dict[str, Any]]
) -> None:
    approved = sorted(uly[:-2], key=lambda f: natural_key(f["data"]["find_number"]))
    set_status(world, [approved[3]["uuid"]], FindStatus.REJECTED)
    del approved[3]
    result = run(
        "create-act", "ULY-2026", "--fund", "НВФ", "--all-approved", "--registrar", "admin"
    )
    assert result.exit_code == 0, result.output
    count = len(approved)
    assert result.stdout == f"act НВФ 1: {count} finds accessioned (НВФ 1/1 … НВФ 1/{count})\n"
    assert f"accessioning {count} finds of ULY-2026" in result.stderr
    assert entries_of(world, "NVF", 1) == [
        (f["uuid"], f"НВФ 1/{n}") for n, f in enumerate(approved, start=1)
    ]

    # nothing approved is left: a second run refuses and changes nothing
    before = register_state(world)
    again = run("create-act", "ULY-2026", "--fund", "KP", "--all-approved", "--registrar", "admin")
    assert again.exit_code == 1
    assert again.stderr == "Error: no finds to accession into an act of ULY-2026\n"
    assert register_state(world) == before


@pytest.mark.parametrize(
    ("case", "exit_code", "reason"),
    [
        (
            "unapproved",
            1,
            "not every find can be accessioned: ULY26-0118: only an approved find can be "
            "accessioned",
        ),
        ("unknown find", 1, "find_uuids[1]: no find 00000000-0000-4000-8000-000000000000"),
        ("reviewer", 1, "only a registrar or an admin changes the register"),
        ("no such user", 1, "no active user 'nobody'"),
        ("unknown fund", 1, "unknown fund 'VH': use KP or NVF (КП or НВФ)"),
        ("unknown expedition", 1, "no expedition 'NOPE-2026'"),
        ("not text", 1, "not UTF-8 text"),
        ("out-dir is a file", 2, "is a file"),
        ("out-dir under a file", 1, "Not a directory"),
        ("both lists", 2, "give either --finds FILE or --all-approved"),
        ("no list", 2, "give either --finds FILE or --all-approved"),
        ("unknown language", 2, "'fr' is not one of 'kk', 'ru', 'en'"),
    ],
)
def test_a_refused_act_says_why_in_one_line_and_changes_nothing(
    world: World,
    run: Run,
    uly: list[dict[str, Any]],
    tmp_path: Path,
    case: str,
    exit_code: int,
    reason: str,
) -> None:
    listing = tmp_path / "finds.txt"
    uuids = [uly[0]["uuid"]]
    code, fund, registrar = "ULY-2026", "KP", "registrar"
    extra: list[str] = []
    if case == "unapproved":
        uuids.append(uly[-1]["uuid"])
    elif case == "unknown find":
        uuids.append("00000000-0000-4000-8000-000000000000")
    elif case == "reviewer":
        registrar = "reviewer"
    elif case == "no such user":
        registrar = "nobody"
    elif case == "unknown fund":
        fund = "VH"
    elif case == "out-dir is a file":
        (tmp_path / "taken").write_text("a file", encoding="utf-8")
        extra = ["--out-dir", str(tmp_path / "taken")]
    elif case == "out-dir under a file":
        (tmp_path / "taken").write_text("a file", encoding="utf-8")
        extra = ["--out-dir", str(tmp_path / "taken" / "acts")]
    elif case == "both lists":
        extra = ["--all-approved"]
    elif case == "unknown language":
        extra = ["--lang", "fr", "--out-dir", str(tmp_path / "acts")]
    listing.write_text("\n".join(uuids), encoding="utf-8")
    if case == "not text":
        listing.write_bytes(b"\xff\xfe\x00not a list")
    lists = ["--finds", str(listing)]
    if case == "unknown expedition":
        code, lists = "NOPE-2026", ["--all-approved"]
    elif case == "no list":
        lists = []
    before = register_state(world)
    result = run("create-act", code, "--fund", fund, *lists, "--registrar", registrar, *extra)
    assert result.exit_code == exit_code
    assert reason in result.stderr
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and reason in last
    assert result.stderr.count(reason) == 1  # said once, not repeated from the details
    assert register_state(world) == before
