"""The phones' pages in a real browser: the keys page after issuing a key (its QR code) and
the submissions a reviewer corrects, at a desktop's width and a phone's (390 px), each
screenshotted to test-artifacts/ and checked by axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_web_ui import Page, Seeded, chromium, server

__all__ = ["chromium", "server"]  # the module's fixtures, shared with the review UI's tests

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 390


@pytest.fixture(params=[1400, PHONE_WIDTH], ids=["desktop", "phone"])
def tab(request: pytest.FixtureRequest, chromium: Any, server: Seeded) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": request.param, "height": 900})
    page = Page(context.new_page(), server.base)
    page.width = request.param  # type: ignore[attr-defined]
    yield page
    context.close()
    assert page.errors == []


def suffix(tab: Page) -> str:
    return "-390" if tab.width == PHONE_WIDTH else ""  # type: ignore[attr-defined]


def fits_the_width(tab: Page) -> None:
    """Nothing makes the page scroll sideways: wide tables scroll inside their own box."""
    overflow = tab.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, overflow


def test_the_leader_issues_a_phone_key_and_sees_its_qr_code(tab: Page) -> None:
    tab.sign_in("leader")
    tab.go("/expeditions/ULY-2026")
    tab.page.click("header nav a[href='/expeditions/ULY-2026/phones']")
    tab.page.wait_for_url("**/expeditions/ULY-2026/phones")
    tab.page.select_option("#key-username", "recorder")
    tab.page.fill("#key-device", f"Samsung A14 ({tab.width})")  # type: ignore[attr-defined]
    tab.page.click("form.issue button[type=submit]")
    tab.page.wait_for_load_state()
    qr = tab.page.locator("img.qr")
    assert qr.count() == 1
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")
    assert tab.page.locator("code.address").count() == 1
    fits_the_width(tab)
    tab.check_accessibility()
    tab.shot("phone-keys-issued" + suffix(tab))
    tab.go("/expeditions/ULY-2026/phones")
    assert tab.page.locator("img.qr").count() == 0
    assert tab.page.locator("table.keys tbody tr").count() >= 1
    fits_the_width(tab)
    tab.check_accessibility()
    tab.shot("phone-keys" + suffix(tab))
