"""Runs the server and client as a museum installs them: from a wheel in a virtualenv outside
the checkout, with none of the repository's files in reach.

    python installed_smoke.py VENV_DIR WORK_DIR

VENV_DIR holds the installed package (its ``bin/field-server``, ``bin/field-client``); WORK_DIR
is an empty folder for the data. The script uses the standard library only, so it runs with the
installed venv's Python without installing anything into it. Every step that fails stops the
run with a one-line reason and exit 1.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

PASSWORD = "Dombauyl-2026-kesene"
EXPEDITION = "ULY-2026"
SITE_BOUNDARY = {
    "type": "Polygon",
    "coordinates": [
        [
            [67.8434361, 48.1926575],
            [67.8463104, 48.1934961],
            [67.8445463, 48.1941532],
            [67.8431539, 48.1932395],
            [67.8434361, 48.1926575],
        ]
    ],
}


class SmokeFailure(Exception):
    pass


def fail(message: str) -> None:
    raise SmokeFailure(message)


class AssetLinks(HTMLParser):
    """The stylesheets, scripts, images and icons a page links."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "link" and named.get("href"):
            self.links.append(named["href"] or "")
        elif tag in ("script", "img") and named.get("src"):
            self.links.append(named["src"] or "")


def asset_links(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.links


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Session:
    """One browser's or device's conversation with the server: cookies kept, errors as text."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urljoin(self.base, path)
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def expect(self, method: str, path: str, status: int = 200, **kwargs: object) -> bytes:
        got, _, content = self.request(method, path, **kwargs)  # type: ignore[arg-type]
        if got != status:
            fail(f"{method} {path}: {got}, expected {status}: {content[:300]!r}")
        return content

    def json(self, method: str, path: str, payload: object, token: str, status: int) -> object:
        content = self.expect(
            method,
            path,
            status,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        return json.loads(content)


def run(bin_dir: Path, args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if done.returncode != 0:
        fail(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return done.stdout


@contextmanager
def serving(bin_dir: Path, env: dict[str, str], port: int) -> Iterator[str]:
    log = open(Path(env["FIELD_SERVER_DATA_DIR"]).parent / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [str(bin_dir / "field-server"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.flush()
                tail = Path(log.name).read_text(errors="replace")[-600:]
                fail(f"field-server serve exited {server.returncode}: {tail}")
            try:
                with urllib.request.urlopen(base + "api/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail("field-server serve did not answer its health check within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def check_assets(session: Session, page: str, html: str) -> int:
    """Every asset the page links answers 200, and so does every image a stylesheet names."""
    checked = 0
    for link in asset_links(html):
        if link.startswith("data:"):
            continue
        url = urllib.parse.urljoin(urllib.parse.urljoin(session.base, page), link)
        content = session.expect("GET", url)
        checked += 1
        if url.endswith(".css"):
            for image in re.findall(r"url\(([^)\"']+)\)", content.decode("utf-8")):
                if not image.startswith("data:"):
                    session.expect("GET", urllib.parse.urljoin(url, image))
                    checked += 1
    return checked


def smoke(bin_dir: Path, work: Path) -> None:
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "FIELD_SERVER_DATA_DIR": str(work / "data"),
        "FIELD_SERVER_SCRYPT_COST": "16384",
        "FIELD_CLIENT_HOME": str(work / "client"),
    }
    where = run(bin_dir, ["python", "-c", "import field_server; print(field_server.__file__)"], env)
    if not Path(where.strip()).is_relative_to(bin_dir.parent):
        fail(f"field_server is imported from {where.strip()}, not from the installed package")
    print(f"installed package: {Path(where.strip()).parent}")

    run(bin_dir, ["field-server", "init-db"], env)
    for name, roles in (
        ("museum", ("admin", "reviewer", "registrar")),
        ("recorder", ("recorder",)),
    ):
        role_args = [arg for role in roles for arg in ("--role", role)]
        run(
            bin_dir,
            ["field-server", "create-user", name, *role_args, "--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
    run(
        bin_dir,
        [
            "field-server",
            "create-expedition",
            EXPEDITION,
            "--title",
            "Ұлытау археологиялық экспедициясы",
            "--year",
            "2026",
        ],
        env,
    )
    run(bin_dir, ["field-server", "add-member", EXPEDITION, "recorder"], env)
    boundary = work / "dmb.geojson"
    boundary.write_text(json.dumps(SITE_BOUNDARY))
    run(
        bin_dir,
        [
            "field-server",
            "add-site",
            EXPEDITION,
            "DMB",
            "--name",
            "Домбауыл кесенесі",
            "--boundary",
            str(boundary),
        ],
        env,
    )
    print("init-db, create-user, create-expedition, add-member, add-site: ok")

    with serving(bin_dir, env, free_port()) as base:
        browser = Session(base)
        login_html = browser.expect("GET", "login").decode("utf-8")
        assets = check_assets(browser, "login", login_html)
        browser.expect("GET", "static/vendor/leaflet/leaflet.js")
        print(f"login page and its {assets} assets, /static/vendor/leaflet/leaflet.js: 200")

        health = json.loads(browser.expect("GET", "api/v1/health"))
        if health.get("status") != "ok":
            fail(f"health: {health}")

        device = Session(base)
        tokens = {}
        for name in ("museum", "recorder"):
            answer = device.json(
                "POST",
                "api/v1/auth/token",
                {"username": name, "password": PASSWORD, "device_name": "smoke"},
                "",
                201,
            )
            tokens[name] = answer["token"]  # type: ignore[index]
        survey_uuid, find_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        records = [
            {
                "type": "survey",
                "uuid": survey_uuid,
                "base_rev": 0,
                "rev": 1,
                "data": {
                    "expedition_code": EXPEDITION,
                    "title": "Домбауыл, 2026",
                    "team": ["recorder"],
                    "started_on": "2026-07-01",
                    "ended_on": None,
                },
            },
            {
                "type": "find",
                "uuid": find_uuid,
                "base_rev": 0,
                "rev": 1,
                "data": {
                    "survey_uuid": survey_uuid,
                    "expedition_code": EXPEDITION,
                    "site_code": "DMB",
                    "trench": "Р-1",
                    "context": "102",
                    "find_number": "ULY-2026-0001",
                    "kind": "small_find",
                    "material": "ceramic",
                    "object_name": "Құмыра ернеуінің сынығы",
                    "quantity": 1,
                    "weight_g": 31.0,
                    "position": {
                        "lon": 67.8447,
                        "lat": 48.19335,
                        "horizontal_accuracy_m": 0.5,
                        "method": "gnss",
                    },
                    "found_on": "2026-07-02",
                    "recorded_at": "2026-07-02T10:11:53+05:00",
                    "recorded_by": "recorder",
                    "photos": [],
                },
            },
        ]
        pushed = device.json(
            "POST",
            "api/v1/sync/push",
            {"device_id": "smoke-laptop", "batch_id": str(uuid.uuid4()), "records": records},
            tokens["recorder"],
            200,
        )
        statuses = [result["status"] for result in pushed["results"]]  # type: ignore[index]
        if statuses != ["created", "created"]:
            fail(f"push: {pushed}")
        print("health, token, push of a survey and a find: ok")

        device.json(
            "POST",
            f"api/v1/finds/{find_uuid}/review",
            {"decision": "approve"},
            tokens["museum"],
            200,
        )
        act = device.json(
            "POST",
            "api/v1/register/acts",
            {"expedition_code": EXPEDITION, "fund": "KP", "find_uuids": [find_uuid]},
            tokens["museum"],
            201,
        )
        number = act["act_number"]  # type: ignore[index]
        bearer = {"Authorization": f"Bearer {tokens['museum']}"}
        pdf = device.expect("GET", f"api/v1/register/acts/KP/{number}.pdf", headers=bearer)
        if not pdf.startswith(b"%PDF-"):
            fail("the act's PDF is not a PDF")
        png = device.expect("GET", f"api/v1/expeditions/{EXPEDITION}/export.png", headers=bearer)
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            fail("the map figure is not a PNG")
        print(f"act KP {number} as PDF ({len(pdf)} bytes), map figure as PNG ({len(png)} bytes)")

        # the map page, signed in as a reviewer would be: Leaflet and its images from the wheel
        token = re.search(r'name="csrf_token" value="([^"]+)"', login_html)
        if token is None:
            fail("the login page has no CSRF token")
        form = urllib.parse.urlencode(
            {"csrf_token": token.group(1), "username": "museum", "password": PASSWORD}
        ).encode()
        browser.expect(
            "POST",
            "login",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        page = f"expeditions/{EXPEDITION}/surveys/{survey_uuid}"
        survey_html = browser.expect("GET", page).decode("utf-8")
        if "leaflet.js" not in survey_html:
            fail("the survey page does not load the map library")
        assets = check_assets(browser, page, survey_html)
        print(f"survey page with its map and {assets} assets: 200")

    run(bin_dir, ["field-client", "--help"], env)
    print("field-client --help: ok")

    # the museum's nightly job, and the way to another machine: back up, restore elsewhere, check
    archive = work / "qazba-backup.tar"
    run(bin_dir, ["field-server", "backup", "--out", str(archive), "--quiet"], env)
    run(bin_dir, ["field-server", "check"], env)
    elsewhere = {**env, "FIELD_SERVER_DATA_DIR": str(work / "restored")}
    run(bin_dir, ["field-server", "restore", str(archive), "--quiet"], elsewhere)
    report = json.loads(run(bin_dir, ["field-server", "check", "--json"], elsewhere))
    if not report.get("ok"):
        fail(f"check after restore: {report}")
    print(f"backup ({archive.stat().st_size} bytes), restore into a new data folder, check: ok")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    bin_dir = Path(sys.argv[1]).resolve() / "bin"
    work = Path(sys.argv[2]).resolve()
    os.chdir(work)
    try:
        smoke(bin_dir, work)
    except (SmokeFailure, OSError, subprocess.SubprocessError, ValueError, KeyError) as error:
        print(f"installed package check failed: {error}", file=sys.stderr)
        return 1
    print("installed package check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
