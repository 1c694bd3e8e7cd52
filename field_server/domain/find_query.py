"""Choosing the finds a reviewer asked for: filters, search, sort order and one page of them.

A survey is one team's campaign, hundreds to a few thousand finds, so its finds are read
once and chosen here; the rules stay pure and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from field_server.domain.find_numbers import natural_key

SORT_KEYS = ("find_number", "material", "object_name", "site", "context", "found_on", "status")
PAGE_SIZES = (25, 50, 100)
MAX_SEARCH = 200
# fields a search looks into: what a reviewer remembers of a find
SEARCHED = ("find_number", "object_name", "description", "notes", "context", "trench", "condition")


@dataclass(frozen=True)
class FindSummary:
    uuid: str
    status: str | None
    data: Mapping[str, Any]
    open_conflicts: int = 0
    photos_missing: int = 0
    server_rev: int = 0  # what a review form carries, to refuse a decision on an older find


@dataclass(frozen=True)
class FindQuery:
    status: str = ""
    material: str = ""
    site: str = ""
    context: str = ""
    search: str = ""
    sort: str = "find_number"
    descending: bool = False
    page: int = 1
    per_page: int = PAGE_SIZES[0]

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> FindQuery:
        """Read a query string leniently: a value that makes no sense falls back to the
        default, so a hand-edited or stale link still shows a page."""

        def text(name: str) -> str:
            return str(args.get(name, "")).strip()[:MAX_SEARCH]

        sort = text("sort")
        per_page = _integer(args.get("per_page"), PAGE_SIZES[0])
        return cls(
            status=text("status"),
            material=text("material"),
            site=text("site"),
            context=text("context"),
            search=text("q"),
            sort=sort if sort in SORT_KEYS else "find_number",
            descending=args.get("order") == "desc",
            page=max(1, _integer(args.get("page"), 1)),
            per_page=per_page if per_page in PAGE_SIZES else PAGE_SIZES[0],
        )

    def args(self, **changes: Any) -> dict[str, str]:
        """This query as query-string arguments (defaults left out), with ``changes``."""
        query = replace(self, **changes)
        pairs = {
            "status": query.status,
            "material": query.material,
            "site": query.site,
            "context": query.context,
            "q": query.search,
            "sort": "" if query.sort == "find_number" else query.sort,
            "order": "desc" if query.descending else "",
            "page": "" if query.page == 1 else str(query.page),
            "per_page": "" if query.per_page == PAGE_SIZES[0] else str(query.per_page),
        }
        return {name: value for name, value in pairs.items() if value}


@dataclass(frozen=True)
class FindPage:
    finds: list[FindSummary]
    total: int
    page: int
    pages: int
    query: FindQuery
    choices: dict[str, list[str]] = field(default_factory=dict)


def choose_finds(finds: Sequence[FindSummary], query: FindQuery) -> FindPage:
    chosen = [f for f in finds if matches(f, query)]
    # finds without the sorted value come last in either direction
    present = [f for f in chosen if _value(f, query.sort) is not None]
    absent = [f for f in chosen if _value(f, query.sort) is None]
    present.sort(key=_sort_key(query.sort), reverse=query.descending)
    absent.sort(key=_sort_key("find_number"))
    chosen = present + absent
    pages = max(1, math.ceil(len(chosen) / query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    return FindPage(
        finds=chosen[start : start + query.per_page],
        total=len(chosen),
        page=page,
        pages=pages,
        query=replace(query, page=page),
        choices={
            "status": _distinct(f.status for f in finds),
            "material": _distinct(f.data.get("material") for f in finds),
            "site": _distinct(f.data.get("site_code") for f in finds),
            "context": _distinct(f.data.get("context") for f in finds),
        },
    )


def matches(find: FindSummary, query: FindQuery) -> bool:
    """Whether the find passes the query's filters and search (its sort and page aside)."""
    data = find.data
    if query.status and find.status != query.status:
        return False
    if query.material and data.get("material") != query.material:
        return False
    if query.site and data.get("site_code") != query.site:
        return False
    if query.context and data.get("context") != query.context:
        return False
    if query.search:
        needle = query.search.casefold()
        return any(needle in str(data.get(name) or "").casefold() for name in SEARCHED)
    return True


def _value(find: FindSummary, sort: str) -> Any:
    if sort == "status":
        return find.status
    if sort == "site":
        return find.data.get("site_code")
    return find.data.get(sort)


def _sort_key(sort: str) -> Callable[[FindSummary], tuple[Any, ...]]:
    def key(find: FindSummary) -> tuple[Any, ...]:
        value = _value(find, sort)
        # the find number settles ties the same way each time
        text = "" if value is None else str(value)
        return (natural_key(text), natural_key(str(find.data.get("find_number", ""))))

    return key


def _distinct(values: Any) -> list[str]:
    return sorted({str(v) for v in values if v not in (None, "")}, key=natural_key)


def _integer(value: Any, default: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return number if 0 < number < 1_000_000 else default
