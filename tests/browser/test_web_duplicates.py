"""The duplicate queue in a real browser at a desktop's width and a phone's (390 px): a number
typed twice is one group shown by find numbers and names (never a uuid), in Kazakh, Russian
and English, screenshotted to test-artifacts/ and checked by axe-core."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_web_ui import Page, Seeded, chromium, server

__all__ = ["chromium", "server"]  # the review UI's fixtures, a server of this module's own

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 390
CATALOGS = Path(__file__).resolve().parents[2] / "field_server" / "web" / "translations"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(params=[1400, PHONE_WIDTH], ids=["desktop", "phone"])
def tab(request: pytest.FixtureRequest, chromium: Any, server: Seeded) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": request.param, "height": 900})
    page = Page(context.new_page(), server.base)
    page.width = request.param  # type: ignore[attr-defined]
    yield page
    context.close()
    assert page.errors == []


def test_a_number_typed_twice_is_one_group_in_every_language_at_any_width(tab: Page) -> None:
    tab.sign_in("reviewer")
    tab.go("/expeditions/ULY-2026/duplicates")
    group = tab.page.locator("section.group")
    assert group.count() == 1
    assert group.locator("table.members tbody tr").count() == 2
    assert group.locator("input[type=radio][name=keep]").count() == 2
    width = tab.width  # type: ignore[attr-defined]
    for lang in ("kk", "ru", "en"):
        tab.page.click(f"form.language button[value={lang}]")
        tab.page.wait_for_load_state()
        catalog = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
        heading = catalog["duplicates.group"].format(number="ULY26-0115", n=2)
        assert tab.page.locator("section.group h2").inner_text() == heading
        assert UUID.search(tab.page.locator("main").inner_text()) is None
        overflow = tab.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (lang, overflow)
        tab.check_accessibility()
        tab.shot(f"duplicates-group-{lang}" + ("-390" if width == PHONE_WIDTH else ""))
