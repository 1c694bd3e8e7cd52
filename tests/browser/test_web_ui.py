"""The review UI in a real browser: Debian's chromium driven by Playwright against a real
server process holding the sample surveys. Every page is screenshotted to test-artifacts/,
checked by axe-core for serious accessibility faults, and must log no JavaScript error."""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import upgrade_database
from tests import media_factory, samples
from tests.e2e.server_process import running_server
from tests.integration import tus_client as tus
from tests.integration.conftest import PASSWORD, build_world, sample_batch
from tests.samples import HOSTILE

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need(path: Path, what: str) -> None:
    if path.exists():
        return
    message = f"{what} is missing at {path}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Seeded:
    def __init__(self, base: str, surveys: dict[str, dict[str, Any]]) -> None:
        self.base = base
        self.surveys = surveys  # name -> {"uuid", "finds"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    _need(Path(CHROMIUM), "Debian's chromium (scripts/install_test_tools.sh installs it)")
    _need(AXE, "axe-core (make installs it with npm ci)")
    folder = tmp_path_factory.mktemp("web-ui")
    url = f"sqlite:///{folder}/qazba.sqlite3"
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()
    world = build_world(url, folder / "data")
    photo = media_factory.noise_jpeg_bytes(width=320, height=240, seed=7)
    digest = tus.stored_photo(world, "recorder", photo)

    uly = sample_batch("ULY-2026")
    uly[1]["data"]["photos"] = [digest]
    world.pushed("recorder", uly)
    zhz = sample_batch("ZHZ-2026")
    world.pushed("outsider", zhz)

    # a survey of one find whose every text field carries markup
    lone = copy.deepcopy(uly[:2])
    lone[0]["uuid"] = "0f0e0d0c-0b0a-4000-8000-000000000001"
    lone[0]["data"]["title"] = "Hostile " + HOSTILE
    lone[1]["uuid"] = "0f0e0d0c-0b0a-4000-8000-000000000002"
    lone[1]["data"].update(
        survey_uuid=lone[0]["uuid"],
        find_number="ULY26-9999",
        object_name=HOSTILE,
        description=HOSTILE,
        context=HOSTILE,
        photos=[],
    )
    world.pushed("recorder", lone)
    # the camp's second entry of two Baskamyr finds: the planted duplicate pairs
    camp = next(s for s in samples.surveys() if s.folder == "uly-2026-baskamyr-camp")
    world.pushed("leader", json.loads(json.dumps([camp.survey, *camp.finds])))
    world.runtime.uow.engine.dispose()

    surveys = {
        "uly": {"uuid": uly[0]["uuid"], "finds": len(uly) - 1},
        "hostile": {"uuid": lone[0]["uuid"], "finds": 1},
    }
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server(url, folder / "data") as base:
        yield Seeded(base, surveys)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Page:
    """A browser tab that records console errors, uncaught exceptions and dialogs."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: self.errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def check_accessibility(self) -> None:
        # evaluated, not added as a <script>: the pages' policy forbids inline scripts
        self.page.evaluate(AXE.read_text(encoding="utf-8"))
        violations = self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {
                    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
                });
                return result.violations
                    .filter(v => v.impact === "critical" || v.impact === "serious")
                    .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "));
            }"""
        )
        assert violations == [], violations

    def sign_in(self, who: str) -> None:
        self.go("/login")
        self.page.fill("#username", who)
        self.page.fill("#password", PASSWORD)
        self.page.press("#password", "Enter")
        self.page.wait_for_url(self.base + "/")


@pytest.fixture
def tab(chromium: Any, server: Seeded) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = Page(context.new_page(), server.base)
    yield page
    context.close()
    assert page.errors == []


def test_a_reviewer_signs_in_with_the_keyboard_alone(tab: Page) -> None:
    tab.go("/")
    assert tab.page.url.startswith(tab.base + "/login")
    assert tab.page.locator("html").get_attribute("lang") == "kk"
    tab.check_accessibility()
    tab.shot("login")
    focused = []
    for _ in range(20):
        tab.page.keyboard.press("Tab")
        focused.append(tab.page.evaluate("document.activeElement.id"))
        if focused[-1] == "username":
            break
    assert focused[-1] == "username", focused
    tab.page.keyboard.type("reviewer")
    tab.page.keyboard.press("Tab")
    assert tab.page.evaluate("document.activeElement.id") == "password"
    tab.page.keyboard.type(PASSWORD)
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_url(tab.base + "/")
    assert tab.page.locator("main h1").inner_text() == "Экспедициялар"
    tab.check_accessibility()
    tab.shot("expeditions")


def test_the_sample_survey_shows_its_finds_on_the_map_and_in_the_table(
    tab: Page, server: Seeded
) -> None:
    tab.sign_in("reviewer")
    tab.page.click("text=ULY-2026")
    tab.page.wait_for_url("**/expeditions/ULY-2026")
    tab.check_accessibility()
    tab.shot("dashboard")
    survey = server.surveys["uly"]
    tab.page.click(f"a[href$='/surveys/{survey['uuid']}']")
    markers = tab.page.locator("path.find-marker")
    markers.first.wait_for()
    assert markers.count() == survey["finds"]
    assert tab.page.locator(".leaflet-control-scale").count() == 1
    assert tab.page.locator("table.finds tbody tr").count() == min(25, survey["finds"])
    tab.check_accessibility()
    tab.shot("survey")

    markers.first.click(force=True)
    popup = tab.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator("a").get_attribute("href").startswith("/finds/")


def test_a_find_page_shows_its_photo_and_history(tab: Page, server: Seeded) -> None:
    tab.sign_in("reviewer")
    tab.go(f"/expeditions/ULY-2026/surveys/{server.surveys['uly']['uuid']}?sort=find_number")
    tab.page.locator("table.finds tbody tr a").first.click()
    tab.page.wait_for_url("**/finds/**")
    image = tab.page.locator(".photo img")
    image.wait_for()
    tab.page.wait_for_function("() => document.querySelector('.photo img').naturalWidth > 0")
    assert tab.page.locator("table.revision").count() >= 1
    tab.check_accessibility()
    tab.shot("find")


def test_markup_in_a_find_stays_text_on_the_page_and_in_the_map_popup(
    tab: Page, server: Seeded
) -> None:
    tab.sign_in("reviewer")
    tab.go(f"/expeditions/ULY-2026/surveys/{server.surveys['hostile']['uuid']}")
    assert HOSTILE in tab.page.locator("table.finds").inner_text()
    marker = tab.page.locator("path.find-marker")
    marker.wait_for()
    marker.click(force=True)
    popup = tab.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert HOSTILE in popup.inner_text()
    assert popup.locator("img, script").count() == 0
    assert tab.page.locator("main img").count() == 0
    tab.shot("hostile-survey")


def test_the_language_switches_from_kazakh_to_russian_to_english(tab: Page) -> None:
    tab.sign_in("reviewer")
    assert tab.page.locator("html").get_attribute("lang") == "kk"
    tab.page.click("button[name=lang][value=ru]")
    tab.page.wait_for_function("() => document.documentElement.lang === 'ru'")
    assert tab.page.locator("main h1").inner_text() == "Экспедиции"
    tab.shot("expeditions-ru")
    tab.page.click("button[name=lang][value=en]")
    tab.page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert tab.page.locator("main h1").inner_text() == "Expeditions"
    tab.check_accessibility()
    tab.shot("expeditions-en")


def test_an_admin_creates_a_user_and_adds_them_to_a_team(tab: Page) -> None:
    tab.sign_in("admin")
    tab.page.click("header nav a[href='/admin/users']")
    tab.page.wait_for_url("**/admin/users")
    tab.check_accessibility()
    tab.page.fill("#new-username", "b.serikuly")
    tab.page.fill("#new-password", "жаңа құпиясөз 2026")
    tab.page.check("form[action='/admin/users'] input[value=recorder]")
    tab.page.click("form[action='/admin/users'] button[type=submit]")
    tab.page.wait_for_url("**/admin/users")
    assert tab.page.locator("th[scope=row]", has_text="b.serikuly").count() == 1
    tab.shot("users")
    tab.go("/expeditions/ULY-2026/team")
    tab.page.select_option("#member-username", "b.serikuly")
    tab.page.click("form[action$='/team'] button[type=submit]")
    tab.page.wait_for_url("**/expeditions/ULY-2026/team")
    assert tab.page.locator("main table td", has_text="b.serikuly").count() == 1
    tab.check_accessibility()
    tab.shot("team")


def test_a_reviewer_detects_and_merges_the_planted_duplicate(tab: Page) -> None:
    tab.sign_in("reviewer")
    tab.go("/expeditions/ULY-2026")
    tab.page.click("#duplicates-card a")
    tab.page.wait_for_url("**/expeditions/ULY-2026/duplicates")
    tab.page.click("#detect-now")
    tab.page.wait_for_url("**/duplicates?detected=*")
    pair = tab.page.locator("section.pair", has_text="ULY26-0301")
    assert pair.count() == 1
    assert pair.locator("table.side-by-side tbody tr").count() > 10
    tab.check_accessibility()
    tab.shot("duplicates")
    pair.locator("label", has_text="ULY26-0101").locator("input[type=radio]").check()
    pair.locator("form.merge button[type=submit]").click()
    tab.page.wait_for_load_state()
    assert tab.page.locator("section.pair", has_text="ULY26-0301").count() == 0
    tab.go("/finds/c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8")
    assert tab.page.locator(".meta .status-merged").count() == 1


def test_a_reviewer_approves_the_ticked_finds_of_a_survey(tab: Page, server: Seeded) -> None:
    tab.sign_in("reviewer")
    tab.go(f"/expeditions/ULY-2026/surveys/{server.surveys['uly']['uuid']}?sort=find_number")
    rows = tab.page.locator("table.finds tbody tr")
    rows.first.wait_for()
    for index in range(3):
        rows.nth(index).locator("input[type=checkbox]").check()
    tab.check_accessibility()
    tab.page.click("button[name=decision][value=approve]")
    tab.page.wait_for_load_state()
    approved = tab.page.locator("table.finds tbody tr .status-approved")
    assert approved.count() >= 3
    tab.shot("survey-reviewed")


def test_a_registrar_makes_an_act_and_downloads_its_pdf(tab: Page, server: Seeded) -> None:
    # the reviewer approves the find whose every text field carries markup
    tab.sign_in("reviewer")
    tab.go("/finds/0f0e0d0c-0b0a-4000-8000-000000000002")
    tab.check_accessibility()
    tab.shot("find-review")
    tab.page.click("button[name=decision][value=approve]")
    tab.page.wait_for_load_state()
    assert tab.page.locator(".meta .status-approved").count() == 1
    tab.page.click("header form.sign-out button")
    tab.page.wait_for_url("**/login")

    tab.sign_in("registrar")
    tab.page.click("header nav a[href='/register']")
    tab.page.wait_for_url("**/register")
    tab.check_accessibility()
    tab.page.click("#new-act")
    tab.page.select_option("#act-expedition", "ULY-2026")
    tab.page.select_option("#act-fund", "KP")
    tab.page.click("form.filters button[type=submit]")
    tab.page.wait_for_load_state()
    picks = tab.page.locator("#act-picker tbody input[type=checkbox]")
    picks.first.wait_for()
    for index in range(picks.count()):
        picks.nth(index).check()
    tab.check_accessibility()
    tab.shot("act-new")
    tab.page.click("#act-picker button[type=submit]")
    tab.page.wait_for_url("**/register/preview")
    numbers = tab.page.locator("table.preview tbody tr td:first-child").all_inner_texts()
    assert numbers[0].startswith("КП ") and numbers[0].endswith("/1")
    assert HOSTILE in tab.page.locator("table.preview").inner_text()
    tab.check_accessibility()
    tab.shot("act-preview")
    tab.page.click("#act-confirm button[type=submit]")
    tab.page.wait_for_url("**/register/acts/KP/*")
    assert HOSTILE in tab.page.locator("table.entries").inner_text()
    assert tab.page.locator("main img, main script").count() == 0
    tab.check_accessibility()
    tab.shot("act")
    with tab.page.expect_download() as download:
        tab.page.click("#act-pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    tab.page.click("header nav a[href='/register']")
    tab.page.wait_for_url("**/register")
    tab.shot("register")


def test_the_exports_page_offers_every_format_and_downloads_one(tab: Page) -> None:
    tab.sign_in("reviewer")
    tab.go("/expeditions/ULY-2026/exports")
    assert tab.page.locator("#export-format option").count() == 8
    tab.check_accessibility()
    tab.shot("exports")
    tab.page.select_option("#export-format", "csv")
    tab.page.select_option("#export-material", "ceramic")
    with tab.page.expect_download() as download:
        tab.page.click("#export-form button[type=submit]")
    with open(download.value.path(), encoding="utf-8") as csv_file:
        assert "ceramic" in csv_file.read()
