"""The package as a museum installs it: every file the code reads at run time is inside the
wheel, nothing is looked up in the checkout or node_modules, and the vendored map library is
the release package-lock.json pins. (`.ci/run` also installs the wheel outside the checkout and
runs the server from it: scripts/check_installed.sh.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("field_core", "field_client", "field_server")
LEAFLET = ROOT / "field_server" / "web" / "static" / "vendor" / "leaflet"


def tracked_files(*paths: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("qazba-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_file_of_the_packages_is_in_the_wheel(wheel_names: set[str]) -> None:
    expected = set(tracked_files(*PACKAGES))
    expected |= {f"field_core/contract/{Path(name).name}" for name in tracked_files("schemas")}
    assert expected, "git lists no package files"
    assert sorted(expected - wheel_names) == []


def test_the_wheel_holds_the_map_library_templates_migrations_and_translations(
    wheel_names: set[str],
) -> None:
    for name in (
        "field_server/web/static/vendor/leaflet/leaflet.js",
        "field_server/web/static/vendor/leaflet/leaflet.css",
        "field_server/web/static/vendor/leaflet/images/marker-icon.png",
        "field_server/web/static/vendor/leaflet/LICENSE",
        "field_server/web/templates/survey.html",
        "field_server/web/translations/kk.json",
        "field_server/migrations/script.py.mako",
        "field_server/migrations/versions/0001_initial.py",
        "field_server/adapters/exports/geojson.py",
        "field_server/adapters/register_documents/templates/sheet.html",
        "field_core/contract/find.json",
    ):
        assert name in wheel_names, name


def test_the_wheel_carries_no_tests_caches_or_checkout_files(wheel_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names}
    assert tops <= {*PACKAGES, "qazba-0.1.0.dist-info"}, tops
    assert not [name for name in wheel_names if "__pycache__" in name or name.endswith(".pyc")]


def test_no_code_looks_for_the_checkout_or_node_modules() -> None:
    looking = re.compile(r"node_modules|package-lock|\.parent\.parent\.parent")
    offenders = [
        name
        for name in tracked_files(*PACKAGES)
        if name.endswith((".py", ".html", ".js"))
        and "/vendor/" not in name
        and looking.search((ROOT / name).read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_vendored_leaflet_is_the_pinned_release_unchanged() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/leaflet"]["version"]
    assert (LEAFLET / "VERSION").read_text().strip() == pinned
    assert f"Leaflet {pinned}," in (LEAFLET / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert "BSD 2-Clause" in (LEAFLET / "LICENSE").read_text()
    released = ROOT / "node_modules" / "leaflet" / "dist"
    if not released.is_dir():
        pytest.skip("npm has not installed node_modules here (make test does)")
    for vendored in LEAFLET.rglob("*"):
        if vendored.is_file() and vendored.name not in ("VERSION", "LICENSE"):
            original = released / vendored.relative_to(LEAFLET)
            assert vendored.read_bytes() == original.read_bytes(), vendored.name
