"""Which packages the distribution holds. Every folder under the three top packages is one
(templates, static files and the vendored browser libraries included), so neither a new
subpackage nor a new data folder can be left out of a wheel; and the wire contract, whose JSON
Schema files live in ``schemas/`` at the top of the repository (DESIGN §2), installs as
``field_core.contract``. setuptools' declarative ``packages.find`` cannot add a package from
another folder, hence this file; the rest is declared in pyproject.toml."""

from setuptools import find_namespace_packages, setup

TOP_PACKAGES = ("field_core", "field_client", "field_server")

setup(
    packages=[
        *find_namespace_packages(
            include=[f"{top}{tail}" for top in TOP_PACKAGES for tail in ("", ".*")],
            exclude=["*.__pycache__"],
        ),
        "field_core.contract",
    ],
    package_dir={"field_core.contract": "schemas"},
)
