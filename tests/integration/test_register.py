"""The accession register through the API, on SQLite and PostgreSQL (DESIGN §6)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from field_server.domain.access import Actor, Role
from field_server.domain.find_status import FindStatus
from field_server.services import register
from field_server.services.errors import InvalidInput
from tests.integration.conftest import World, sample_batch
from tests.integration.museum_status import set_status

ACTS = "/api/v1/register/acts"


def finds_of(batch: list[dict[str, Any]], kind: str | None = None) -> list[dict[str, Any]]:
    return [r for r in batch if r["type"] == "find" and (kind is None or r["data"]["kind"] == kind)]


@pytest.fixture
def uly(world: World) -> list[dict[str, Any]]:
    """ULY-2026 pushed by its recorder, every find approved but the last two."""
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    finds = finds_of(batch)
    set_status(world, [f["uuid"] for f in finds[:-2]], FindStatus.APPROVED)
    return finds


def post_act(world: World, who: str, uuids: list[str], fund: str = "KP", **extra: Any) -> Any:
    body = {"expedition_code": "ULY-2026", "fund": fund, "find_uuids": uuids, **extra}
    return world.client.post(ACTS, json=body, headers=world.headers(who))


def created_act(world: World, uuids: list[str], fund: str = "KP", **extra: Any) -> dict[str, Any]:
    response = post_act(world, "registrar", uuids, fund, **extra)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def register_state(world: World) -> dict[str, Any]:
    """Everything an act or an amendment could change: counters, rows, finds, the cursor."""
    with world.runtime.uow() as uow:
        c = uow.connection
        return {
            "funds": uow.register.last_receipts(),
            "acts": c.execute(text("SELECT count(*) FROM register_acts")).scalar_one(),
            "entries": c.execute(text("SELECT count(*) FROM register_entries")).scalar_one(),
            "amendments": c.execute(text("SELECT count(*) FROM register_amendments")).scalar_one(),
            "finds": sorted(
                c.execute(
                    text("SELECT uuid, server_rev, status, register_number, data FROM records")
                ).all()
            ),
            "audit": c.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
            "seq": uow.changes.committed_value(),
        }


# -- acts -------------------------------------------------------------------------------------


def test_an_act_numbers_its_items_in_order_and_devices_pull_the_numbers(
    world: World, uly: list[dict[str, Any]]
) -> None:
    _, cursor = world.pull_all("recorder")
    small = [f["uuid"] for f in uly if f["data"]["kind"] == "small_find"][:5]
    answer = created_act(world, small, received_by="Ж. Сейітова", storage_location="Қор 2")
    assert answer["fund"] == "KP" and answer["act_number"] == 1
    assert [(e["find_uuid"], e["register_number"]) for e in answer["entries"]] == [
        (uuid, f"КП 1/{item}") for item, uuid in enumerate(small, start=1)
    ]
    assert answer["entries"][2]["register_number_ascii"] == "KP 1/3"

    changes, _ = world.pull_all("recorder", since=cursor)
    pulled = {c["uuid"]: c for c in changes}
    assert list(pulled) == small
    for item, uuid in enumerate(small, start=1):
        state = pulled[uuid]["state"]
        assert state["status"] == "accessioned" and state["register_number"] == f"КП 1/{item}"
        assert pulled[uuid]["server_rev"] == 3  # pushed, approved, accessioned

    with world.runtime.uow() as uow:
        (line,) = [a for a in uow.audit.for_subject("act:КП 1")]
        find_lines = uow.audit.for_subject(f"find:{small[0]}")
    assert line.action == "register.act" and json.loads(line.detail)["items"] == 5
    assert find_lines[-1].action == "register.accession" and find_lines[-1].reason == "act КП 1"


def test_an_act_is_handed_over_by_the_expeditions_leaders_only(
    world: World, uly: list[dict[str, Any]]
) -> None:
    created_act(world, [uly[0]["uuid"]])
    act = world.client.get(f"{ACTS}/KP/1", headers=world.headers("registrar")).get_json()
    assert act["handed_over_by"] == "leader"  # the recorder is a member but not a leader


def test_each_fund_counts_its_own_receipts_without_gaps(
    world: World, uly: list[dict[str, Any]]
) -> None:
    approved = [f["uuid"] for f in uly[:-2]]
    first = created_act(world, approved[:2])
    bulk = created_act(world, approved[2:4], fund="НВФ")
    second = created_act(world, approved[4:5], fund="КП")
    assert [(a["fund"], a["act_number"]) for a in (first, bulk, second)] == [
        ("KP", 1),
        ("NVF", 1),
        ("KP", 2),
    ]
    assert [e["register_number"] for e in bulk["entries"]] == ["НВФ 1/1", "НВФ 1/2"]
    assert register_state(world)["funds"] == {"KP": 2, "NVF": 1}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unapproved", 409, "not_allowed"),
        ("rejected", 409, "not_allowed"),
        ("merged", 409, "not_allowed"),
        ("accessioned", 409, "not_allowed"),
        ("other expedition", 422, "invalid_input"),
        ("unknown find", 422, "invalid_input"),
        ("repeated find", 422, "invalid_input"),
        ("unknown expedition", 422, "invalid_input"),
        ("unknown fund", 422, "invalid_input"),
        ("no finds", 422, "invalid_input"),
        ("reviewer", 403, "forbidden"),
        ("recorder", 403, "forbidden"),
    ],
)
def test_a_refused_act_changes_nothing(
    world: World, uly: list[dict[str, Any]], case: str, status: int, code: str
) -> None:
    approved = [f["uuid"] for f in uly[:-2]]
    unapproved = uly[-1]["uuid"]
    created_act(world, approved[:1])  # КП 1, so that "accessioned" has a find to refuse
    who, body = "registrar", {"expedition_code": "ULY-2026", "fund": "KP"}
    uuids = approved[1:4]
    if case == "unapproved":
        uuids = [*uuids, unapproved]
    elif case == "rejected":
        set_status(world, [approved[5]], FindStatus.REJECTED)
        uuids = [*uuids, approved[5]]
    elif case == "merged":
        set_status(world, [approved[5]], FindStatus.MERGED, merged_into=approved[6])
        uuids = [*uuids, approved[5]]
    elif case == "accessioned":
        uuids = [*uuids, approved[0]]
    elif case == "other expedition":
        zhz = sample_batch("ZHZ-2026")
        world.pushed("admin", zhz)
        set_status(world, [zhz[1]["uuid"]], FindStatus.APPROVED)
        uuids = [*uuids, zhz[1]["uuid"]]
    elif case == "unknown find":
        uuids = [*uuids, "00000000-0000-4000-8000-000000000000"]
    elif case == "repeated find":
        uuids = [*uuids, uuids[0]]
    elif case == "unknown expedition":
        body["expedition_code"] = "NOPE-2026"
    elif case == "unknown fund":
        body["fund"] = "VH"
    elif case == "no finds":
        uuids = []
    else:
        who = case
    headers = world.headers(who)  # logging in writes an audit line of its own
    before = register_state(world)
    response = world.client.post(ACTS, json={**body, "find_uuids": uuids}, headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (status, code)
    assert response.mimetype == "application/problem+json"
    assert register_state(world) == before


def test_a_refusal_names_every_find_that_cannot_be_taken(
    world: World, uly: list[dict[str, Any]]
) -> None:
    approved = [f["uuid"] for f in uly[:-2]]
    set_status(world, [approved[1]], FindStatus.REJECTED)
    response = post_act(world, "registrar", [approved[0], approved[1], uly[-1]["uuid"]])
    problem = response.get_json()
    assert response.status_code == 409
    assert [e["field"] for e in problem["errors"]] == ["find_uuids[1]", "find_uuids[2]"]
    assert "rejected find cannot be accessioned" in problem["errors"][0]["message"]
    assert "only an approved find" in problem["errors"][1]["message"]


def test_the_database_refuses_to_rewrite_the_register(
    world: World, uly: list[dict[str, Any]]
) -> None:
    created_act(world, [uly[0]["uuid"]])
    for statement in (
        "UPDATE register_entries SET register_number = 'КП 9/9'",
        "DELETE FROM register_entries",
        "UPDATE register_acts SET item_count = 7",
        "DELETE FROM register_acts",
    ):
        with (
            pytest.raises(DBAPIError, match="the register is permanent"),
            world.runtime.uow.engine.begin() as connection,
        ):
            connection.execute(text(statement))
    with world.runtime.uow() as uow:
        (entry,) = uow.register.entries()
    assert entry.register_number == "КП 1/1"


# -- entries and amendments -------------------------------------------------------------------


def amend(world: World, who: str, path: str, field: str, new: Any, reason: str = "re-measured"):
    return world.client.post(
        f"/api/v1/register/entries/{path}/amendments",
        json={"field": field, "new": new, "reason": reason},
        headers=world.headers(who),
    )


def test_an_amendment_annotates_the_entry_and_a_find_field_reaches_devices(
    world: World, uly: list[dict[str, Any]]
) -> None:
    uuids = [f["uuid"] for f in uly[:2]]
    created_act(world, uuids, storage_location="Қор 2")
    _, cursor = world.pull_all("recorder")

    moved = amend(world, "registrar", "KP/1/2", "storage_location", "Қор 3, сөре 1", "moved")
    assert moved.status_code == 201, moved.get_data(as_text=True)
    assert moved.get_json() | {"at": None} == {
        "field": "storage_location",
        "old": "Қор 2",
        "new": "Қор 3, сөре 1",
        "reason": "moved",
        "by": "registrar",
        "at": None,
        "find_server_rev": None,
    }
    assert world.pull_all("recorder", since=cursor)[0] == []  # the register's own field

    renamed = amend(world, "admin", "КП/1/1", "object_name", "Қыш құмыра ернеуі", "misread")
    assert renamed.status_code == 201 and renamed.get_json()["find_server_rev"] == 4
    assert renamed.get_json()["old"] == uly[0]["data"]["object_name"]
    (change,) = world.pull_all("recorder", since=cursor)[0]
    assert change["uuid"] == uuids[0] and change["server_rev"] == 4
    assert change["data"]["object_name"] == "Қыш құмыра ернеуі"
    assert change["state"]["register_number"] == "КП 1/1"

    listed = world.client.get(
        "/api/v1/register/entries?fund=КП", headers=world.headers("reviewer")
    ).get_json()
    assert [e["register_number"] for e in listed] == ["КП 1/1", "КП 1/2"]
    assert listed[0]["values"]["object_name"] == "Қыш құмыра ернеуі"
    assert [a["field"] for a in listed[0]["amendments"]] == ["object_name"]
    assert listed[1]["storage_location"] == "Қор 3, сөре 1"
    assert listed[1]["amendments"][0]["old"] == "Қор 2"
    # the act itself prints what was accessioned, with the amendments under it
    act = world.client.get(f"{ACTS}/KP/1.html", headers=world.headers("registrar"))
    page = act.get_data(as_text=True)
    assert uly[0]["data"]["object_name"] in page and "Қыш құмыра ернеуі" in page


@pytest.mark.parametrize(
    ("who", "path", "field", "new", "status"),
    [
        ("registrar", "KP/1/1", "register_number", "КП 9/9", 422),
        ("registrar", "KP/1/1", "colour", "red", 422),
        ("registrar", "KP/1/1", "quantity", "three", 422),
        ("registrar", "KP/1/1", "quantity", 0, 422),
        ("registrar", "KP/1/1", "material", "bronze", 422),
        ("registrar", "KP/1/1", "object_name", None, 422),
        ("registrar", "KP/1/1", "storage_location", "Қор 2", 422),  # the value it holds
        ("registrar", "KP/1/9", "notes", "x", 404),
        ("registrar", "KP/2/1", "notes", "x", 404),
        ("registrar", "VH/1/1", "notes", "x", 404),
        ("registrar", "KP/01/1", "notes", "x", 404),
        ("reviewer", "KP/1/1", "notes", "x", 403),
        ("recorder", "KP/1/1", "notes", "x", 403),
    ],
)
def test_a_refused_amendment_changes_nothing(
    world: World, uly: list[dict[str, Any]], who: str, path: str, field: str, new: Any, status: int
) -> None:
    created_act(world, [uly[0]["uuid"]], storage_location="Қор 2")
    world.headers(who)  # logging in writes an audit line of its own
    before = register_state(world)
    response = amend(world, who, path, field, new)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert register_state(world) == before


def test_an_amendment_without_a_reason_is_refused(world: World, uly: list[dict[str, Any]]) -> None:
    created_act(world, [uly[0]["uuid"]])
    assert amend(world, "registrar", "KP/1/1", "notes", "x", reason="   ").status_code == 422
    assert amend(world, "registrar", "KP/1/1", "notes", "x", reason="").status_code == 422


# -- documents --------------------------------------------------------------------------------


def test_the_acts_pdf_carries_its_kazakh_headings_names_and_numbers(
    world: World, uly: list[dict[str, Any]]
) -> None:
    chosen = uly[:6]
    created_act(world, [f["uuid"] for f in chosen], received_by="Жанар Сейітова")
    response = world.client.get(f"{ACTS}/KP/1.pdf", headers=world.headers("registrar"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.data))
    words = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    for heading in ("Қабылдау актісі № КП 1", "Негізгі қор (КП)", "Тіркеу нөмірі", "БЕКІТЕМІН"):
        assert heading in words
    for caption in ("Бас қор сақтаушы", "Тапсырған", "Қабылдаған", "Жанар Сейітова"):
        assert caption in words
    for item, find in enumerate(chosen, start=1):
        assert f"КП 1/{item}" in words
        # a name may wrap inside its cell, so only its first words are sure to be together
        name_words = find["data"]["object_name"].split()
        assert " ".join(name_words[:2]) in words
    assert f"1 / {len(reader.pages)}" in words


def test_the_pdf_repeats_the_header_and_numbers_its_pages(
    world: World, uly: list[dict[str, Any]]
) -> None:
    # sixteen finds with long descriptions fill more than one landscape page
    created_act(world, [f["uuid"] for f in uly[:-2]], fund="NVF")
    response = world.client.get(
        f"{ACTS}/NVF/1/inventory.pdf?lang=ru", headers=world.headers("admin")
    )
    reader = PdfReader(io.BytesIO(response.data))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in page
        assert "Номер находки" in page  # the column header on every page
    assert "Полевая опись (акт № НВФ 1)" in pages[0]


@pytest.mark.parametrize(
    ("lang", "title", "column"),
    [
        ("kk", "Қабылдау актісі № КП 1", "Атауы және қысқаша сипаттамасы"),
        ("ru", "Акт приёма № КП 1", "Наименование и краткое описание"),
        ("en", "Acceptance act No. КП 1", "Name and short description"),
    ],
)
def test_the_act_speaks_each_language(
    world: World, uly: list[dict[str, Any]], lang: str, title: str, column: str
) -> None:
    created_act(world, [uly[0]["uuid"]])
    page = world.client.get(
        f"{ACTS}/KP/1.html?lang={lang}", headers=world.headers("reviewer")
    ).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and title in page and column in page


def test_the_csv_is_rfc_4180_with_an_optional_bom(world: World, uly: list[dict[str, Any]]) -> None:
    chosen = [f["uuid"] for f in uly[:3]]
    created_act(world, chosen)
    plain = world.client.get(f"{ACTS}/KP/1.csv", headers=world.headers("registrar"))
    assert plain.mimetype == "text/csv" and "attachment" in plain.headers["Content-Disposition"]
    assert not plain.data.startswith(b"\xef\xbb\xbf") and b"\r\n" in plain.data
    rows = list(csv.reader(io.StringIO(plain.data.decode("utf-8"), newline="")))
    assert rows[0][:2] == ["№", "Тіркеу нөмірі"]
    assert [r[1] for r in rows[1:]] == ["КП 1/1", "КП 1/2", "КП 1/3"]
    assert rows[1][4].startswith(uly[0]["data"]["object_name"])
    with_bom = world.client.get(f"{ACTS}/KP/1.csv?bom=1", headers=world.headers("registrar"))
    assert with_bom.data == b"\xef\xbb\xbf" + plain.data

    inventory = world.client.get(f"{ACTS}/KP/1/inventory.csv", headers=world.headers("admin"))
    rows = list(csv.reader(io.StringIO(inventory.data.decode("utf-8"), newline="")))
    assert rows[0][2] == "Олжа нөмірі"
    assert [r[2] for r in rows[1:]] == [f["data"]["find_number"] for f in uly[:3]]


def test_the_format_follows_the_accept_header_when_there_is_no_suffix(
    world: World, uly: list[dict[str, Any]]
) -> None:
    created_act(world, [uly[0]["uuid"]])
    headers = world.headers("registrar")
    assert world.client.get(f"{ACTS}/KP/1", headers=headers).get_json()["label"] == "КП 1"
    for accept, mimetype in [
        ("application/pdf", "application/pdf"),
        ("text/csv", "text/csv"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
    ]:
        response = world.client.get(f"{ACTS}/КП/1", headers={**headers, "Accept": accept})
        assert (response.status_code, response.mimetype) == (200, mimetype)
    inventory = world.client.get(f"{ACTS}/KP/1/inventory", headers=headers).get_json()
    assert inventory["rows"][0][2] == uly[0]["data"]["find_number"]


def test_html_escapes_what_came_from_the_field(world: World) -> None:
    batch = sample_batch("ULY-2026")
    find = batch[1]
    find["data"]["object_name"] = "<script>alert(1)</script> & сынық"
    world.pushed("recorder", batch)
    set_status(world, [find["uuid"]], FindStatus.APPROVED)
    created_act(world, [find["uuid"]])
    page = world.client.get(f"{ACTS}/KP/1.html", headers=world.headers("registrar"))
    body = page.get_data(as_text=True)
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; сынық" in body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("KP/2", 404),
        ("KP/0", 404),
        ("KP/1.docx", 404),
        ("XX/1", 404),
        ("KP/1/protocol", 404),
        ("KP/1?lang=de", 422),
        ("KP/1.pdf?lang=fr", 422),
    ],
)
def test_a_document_that_does_not_exist_is_a_problem(
    world: World, uly: list[dict[str, Any]], path: str, status: int
) -> None:
    created_act(world, [uly[0]["uuid"]])
    response = world.client.get(f"{ACTS}/{path}", headers=world.headers("registrar"))
    assert response.status_code == status and response.mimetype == "application/problem+json"


# -- the register a page at a time ---------------------------------------------------------------


def test_the_register_comes_a_page_at_a_time_following_the_link(
    world: World, uly: list[dict[str, Any]]
) -> None:
    approved = [f["uuid"] for f in uly[:-2]]
    created_act(world, approved[:3])  # КП 1/1…3
    created_act(world, approved[3:5], fund="NVF")  # НВФ 1/1…2
    created_act(world, approved[5:7])  # КП 2/1…2
    headers = world.headers("reviewer")

    def pages(url: str) -> list[list[str]]:
        seen = []
        while url:
            response = world.client.get(url, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            seen.append([e["register_number"] for e in response.get_json()])
            link = response.headers.get("Link")
            url = link[1 : link.index(">")] if link else ""
            assert not link or link.endswith('>; rel="next"')
        return seen

    everything = ["КП 1/1", "КП 1/2", "КП 1/3", "КП 2/1", "КП 2/2", "НВФ 1/1", "НВФ 1/2"]
    assert pages("/api/v1/register/entries") == [everything]  # one default page
    assert pages("/api/v1/register/entries?limit=3") == [
        everything[:3],
        everything[3:6],
        everything[6:],
    ]
    assert pages("/api/v1/register/entries?limit=5") == [everything[:5], everything[5:]]
    # a page that ends the register exactly has no link after it
    assert pages("/api/v1/register/entries?fund=KP&limit=5") == [everything[:5]]
    assert pages("/api/v1/register/entries?fund=KP&limit=2") == [
        ["КП 1/1", "КП 1/2"],
        ["КП 1/3", "КП 2/1"],
        ["КП 2/2"],
    ]
    assert pages("/api/v1/register/entries?fund=KP&act=1&limit=2") == [
        ["КП 1/1", "КП 1/2"],
        ["КП 1/3"],
    ]
    # the cursor is a register number in either alphabet
    assert pages("/api/v1/register/entries?after=КП%201/3&limit=2") == [
        ["КП 2/1", "КП 2/2"],
        ["НВФ 1/1", "НВФ 1/2"],
    ]
    assert pages("/api/v1/register/entries?after=KP%202/2") == [everything[5:]]
    assert pages("/api/v1/register/entries?after=NVF%209/9") == [[]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("after=12", "after"),
        ("after=VH%201/1", "after"),
        ("after=KP%201/0", "after"),
        ("act=1", "act"),
        ("fund=KP&act=x", "act"),
    ],
)
def test_a_bad_page_request_is_a_problem(
    world: World, uly: list[dict[str, Any]], query: str, field: str
) -> None:
    created_act(world, [uly[0]["uuid"]])
    response = world.client.get(
        f"/api/v1/register/entries?{query}", headers=world.headers("registrar")
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_the_service_takes_an_act_number_only_with_its_fund(world: World) -> None:
    registrar = Actor(0, "registrar", frozenset({Role.REGISTRAR}), frozenset())
    with pytest.raises(InvalidInput) as refused:
        register.list_entries(world.runtime.uow, registrar, None, 1)
    assert refused.value.errors == [
        {"field": "act", "message": "a positive whole number, with fund"}
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/acts/KP/1", None),
        ("GET", "/acts/KP/x1.pdf", None),
        ("GET", "/acts/VH/1", None),
        ("GET", "/acts/KP/1.pdf?lang=fr", None),
        ("GET", "/acts/KP/1/nothing", None),
        ("GET", "/acts/KP/999/inventory.csv", None),
        ("GET", "/entries?act=x", None),
        ("GET", "/entries?limit=0&after=nonsense", None),
        ("POST", "/acts", {"fund": "VH"}),
        ("POST", "/acts", "not json"),
        ("POST", "/entries/KP/x/1/amendments", {"field": "nope"}),
        ("POST", "/entries/VH/1/1/amendments", None),
    ],
)
def test_who_may_not_use_the_register_is_refused_before_anything_is_checked(
    world: World, uly: list[dict[str, Any]], method: str, path: str, body: Any
) -> None:
    created_act(world, [uly[0]["uuid"]])
    url = f"/api/v1/register{path}"
    writing = method == "POST"
    for who in ("recorder", "leader", "outsider", *(["reviewer"] if writing else [])):
        if body == "not json":
            response = world.client.open(
                url,
                method=method,
                data="{",
                headers=world.headers(who),
                content_type="application/json",
            )
        else:
            response = world.client.open(url, method=method, json=body, headers=world.headers(who))
        assert response.status_code == 403, (who, response.get_data(as_text=True))
        assert response.get_json()["code"] == "forbidden"
    assert world.client.open(url, method=method, json=body).status_code == 401
