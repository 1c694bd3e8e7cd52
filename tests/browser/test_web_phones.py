"""The phones' pages in a real browser: the keys page after issuing a key (its QR code) and
the submissions a reviewer corrects, at a desktop's width and a phone's (390 px), each
screenshotted to test-artifacts/ and checked by axe-core."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_web_ui import Page, Seeded, chromium, server
from tests.integration.conftest import PASSWORD
from tests.unit.collect.instances import instance

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


def kept_for_review(tab: Page) -> None:
    """A phone's submission with a material outside the vocabulary, sent as Collect sends it."""
    api = tab.page.context.request
    token = api.post(
        tab.base + "/api/v1/auth/token",
        data={"username": "leader", "password": PASSWORD, "device_name": "browser test"},
    ).json()["token"]
    key = api.post(
        tab.base + "/api/v1/expeditions/ULY-2026/collect-keys",
        headers={"Authorization": f"Bearer {token}"},
        data={"username": "recorder", "device_name": f"Redmi ({tab.width})"},  # type: ignore[attr-defined]
    ).json()
    xml = instance(photos=(), instance_id=str(uuid.uuid4()), answers={"material": "plutonium"})
    sent = api.post(
        tab.base + key["path"] + "/submission",
        multipart={
            "xml_submission_file": {"name": "submission.xml", "mimeType": "text/xml", "buffer": xml}
        },
    )
    assert sent.status == 201


def test_a_reviewer_corrects_a_phone_submission_into_a_find(tab: Page) -> None:
    kept_for_review(tab)
    tab.sign_in("reviewer")
    tab.go("/expeditions/ULY-2026")
    tab.page.click("#phones-card a")
    tab.page.wait_for_url("**/expeditions/ULY-2026/phones/submissions")
    section = tab.page.locator("section.submission").last
    section.locator("details.sent summary").click()
    section.locator("details.correction summary").click()
    fits_the_width(tab)
    tab.check_accessibility()
    tab.shot("phone-submissions" + suffix(tab))
    section.locator("select[name=material]").select_option("copper_alloy")
    section.locator("input[name=reason]").fill("материал қате оқылды")
    section.locator("form.correct-submission button[type=submit]").click()
    tab.page.wait_for_url("**/finds/*")
    assert tab.page.locator("h1", has_text="Қола пышақ").count() == 1
