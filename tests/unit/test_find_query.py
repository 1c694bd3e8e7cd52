"""Choosing, sorting and paging a survey's finds for the review table."""

from __future__ import annotations

from typing import Any

from field_server.domain.find_query import FindQuery, FindSummary, choose_finds


def find(number: str, **data: Any) -> FindSummary:
    status = data.pop("status", "synced")
    return FindSummary(uuid=f"uuid-{number}", status=status, data={"find_number": number, **data})


FINDS = [
    find("DMB-10", material="ceramic", object_name="Rim sherd", context="102", site_code="DMB"),
    find("DMB-9", material="bone", object_name="Горшок", context="101", site_code="DMB"),
    find("DMB-11", material="ceramic", object_name="Қыш ыдыс", context=None, status="approved"),
    find("BSK-1", material="iron", object_name="Knife", context="7", site_code="BSK"),
]


def numbers(query: FindQuery) -> list[str]:
    return [f.data["find_number"] for f in choose_finds(FINDS, query).finds]


def test_find_numbers_sort_with_their_digits_as_numbers() -> None:
    assert numbers(FindQuery()) == ["BSK-1", "DMB-9", "DMB-10", "DMB-11"]
    assert numbers(FindQuery(descending=True)) == ["DMB-11", "DMB-10", "DMB-9", "BSK-1"]


def test_filters_combine() -> None:
    assert numbers(FindQuery(material="ceramic")) == ["DMB-10", "DMB-11"]
    assert numbers(FindQuery(material="ceramic", status="approved")) == ["DMB-11"]
    assert numbers(FindQuery(site="DMB", context="101")) == ["DMB-9"]


def test_search_ignores_case_in_any_script() -> None:
    assert numbers(FindQuery(search="горшок")) == ["DMB-9"]
    assert numbers(FindQuery(search="ҚЫШ")) == ["DMB-11"]
    assert numbers(FindQuery(search="rim")) == ["DMB-10"]


def test_finds_without_the_sorted_value_come_last_either_way() -> None:
    # contexts compare as numbers: 7, 101, 102
    assert numbers(FindQuery(sort="context")) == ["BSK-1", "DMB-9", "DMB-10", "DMB-11"]
    assert numbers(FindQuery(sort="context", descending=True)) == [
        "DMB-10",
        "DMB-9",
        "BSK-1",
        "DMB-11",
    ]


def test_a_page_past_the_end_shows_the_last_page() -> None:
    page = choose_finds(FINDS, FindQuery(per_page=25, page=9))
    assert (page.page, page.pages, page.total) == (1, 1, 4)


def test_paging_splits_the_sorted_finds() -> None:
    many = [find(f"N-{n}") for n in range(1, 61)]
    page = choose_finds(many, FindQuery(per_page=25, page=3))
    assert (page.page, page.pages, page.total) == (3, 3, 60)
    assert [f.data["find_number"] for f in page.finds] == [f"N-{n}" for n in range(51, 61)]


def test_a_query_string_that_makes_no_sense_falls_back_to_the_defaults() -> None:
    query = FindQuery.from_args(
        {"sort": "password", "page": "-3", "per_page": "1000000", "order": "sideways"}
    )
    assert query == FindQuery()
    assert FindQuery.from_args({"q": "x" * 10_000}).search == "x" * 200


def test_a_query_turns_back_into_the_same_query_string() -> None:
    query = FindQuery.from_args({"material": "bone", "sort": "status", "order": "desc"})
    assert FindQuery.from_args(query.args(page=2)) == FindQuery(
        material="bone", sort="status", descending=True, page=2
    )
    assert FindQuery().args() == {}


def test_the_choices_list_what_the_survey_holds() -> None:
    choices = choose_finds(FINDS, FindQuery(material="iron")).choices
    assert choices["material"] == ["bone", "ceramic", "iron"]
    assert choices["site"] == ["BSK", "DMB"]
    assert choices["status"] == ["approved", "synced"]
