"""Dependencies point one way: the core and the domain import no framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("flask", "sqlalchemy", "alembic", "werkzeug", "waitress")


def imported_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("folder", ["field_core", "schemas", "field_server/domain"])
def test_the_core_and_the_domain_import_no_framework(folder: str) -> None:
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] in FRAMEWORKS)
        for path, names in imported_modules(ROOT / folder).items()
    }
    assert {p: n for p, n in offenders.items() if n} == {}


def test_the_core_does_not_import_the_server() -> None:
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] == "field_server")
        for path, names in imported_modules(ROOT / "field_core").items()
    }
    assert {p: n for p, n in offenders.items() if n} == {}


def test_the_domain_does_not_reach_into_services_adapters_or_the_api() -> None:
    outward = ("field_server.services", "field_server.adapters", "field_server.api")
    offenders = {
        path: sorted(n for n in names if n.startswith(outward))
        for path, names in imported_modules(ROOT / "field_server" / "domain").items()
    }
    assert {p: n for p, n in offenders.items() if n} == {}


# In camp the laptop is the phones' HTTP server (DESIGN §9): these modules alone may use a WSGI
# server and werkzeug's streaming multipart parser, rather than a hand-written one.
PHONE_SERVER_MODULES = {"field_client/phone_server.py", "field_client/commands/collect.py"}
HTTP_SERVING = ("werkzeug", "waitress")


def test_the_field_client_imports_neither_the_server_nor_its_frameworks() -> None:
    # The laptop's program runs without the server installed; what both need is in field_core.
    forbidden = ("field_server", *FRAMEWORKS)
    offenders = {
        path: sorted(
            n
            for n in names
            if n.split(".")[0] in forbidden
            and not (path in PHONE_SERVER_MODULES and n.split(".")[0] in HTTP_SERVING)
        )
        for path, names in imported_modules(ROOT / "field_client").items()
    }
    assert set(offenders) >= PHONE_SERVER_MODULES, "the phones' server modules moved"
    assert offenders and {p: n for p, n in offenders.items() if n} == {}
