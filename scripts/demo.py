"""The demo: a museum server on SQLite under ./var, the sample surveys sent by their field devices.

Run by ``make demo``. It starts ``field-server serve`` on a free loopback port, sets up the
sample expeditions with their sites and teams, and sends every sample survey and find. A survey
that comes with a GPS log and a camera card (Dombauyl) is recorded on a field laptop with the
real ``field-client`` (its home under ./var/field-laptop): login, pull, the finds, the GPX and
photo imports, sync. The others are pushed through the HTTP API as the recorders' devices would.
It then pulls the result back, runs duplicate detection, merges the planted double entry of a
sherd, approves ULY-2026's other finds as a reviewer would, accessions them in two acts,
writes every export of ULY-2026 under ./var/exports through the export endpoint, and prints
a summary.

Phones take part too (``demo_phone.py``): at Taskudyk a recorder's phone sends a find to the
camp laptop's ``field-client collect serve`` with a key the laptop issued, and the laptop's
``field-client sync`` carries it to the museum; another recorder's phone, with a key the server
issued, sends straight to the server. Both hold the whole OpenRosa conversation with a JPEG.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from demo_phone import Phone, phone_photo
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_surveys"
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "qazba-demo-2026"
STAFF = {"admin": "admin", "reviewer": "reviewer", "registrar": "registrar"}
# The Dombauyl camera ran 2 min 13 s fast, its clock set to Kazakhstan time (sample README).
CAMERA_OFFSET = "+00:02:13"
CAMERA_TZ = "+05:00"
# find add's options for the wire fields of a find (position members under "position")
FIND_OPTIONS = {
    "material": "material",
    "object_name": "object-name",
    "kind": "kind",
    "quantity": "quantity",
    "weight_g": "weight",
    "length_mm": "length",
    "width_mm": "width",
    "height_mm": "height",
    "condition": "condition",
    "site_code": "site",
    "trench": "trench",
    "context": "context",
    "find_number": "find-number",
    "found_on": "found-on",
    "description": "description",
    "notes": "notes",
    "recorded_by": "recorded-by",
}
POSITION_OPTIONS = {
    "lon": "lon",
    "lat": "lat",
    "elevation_m": "elevation",
    "depth_m": "depth",
    "horizontal_accuracy_m": "accuracy",
    "vertical_accuracy_m": "vertical-accuracy",
    "method": "method",
}

console = Console()


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            problem = error.read().decode("utf-8", "replace")
            raise SystemExit(f"demo: {method} {path} failed: {error.code} {problem}") from None
        return json.loads(payload) if payload else None

    def login(self, username: str) -> Api:
        session = Api(self.base)
        answer = session.call(
            "POST",
            "/api/v1/auth/token",
            {"username": username, "password": DEMO_PASSWORD, "device_name": "demo field laptop"},
        )
        session.token = answer["token"]
        return session


class FieldLaptop:
    """One field laptop: the real ``field-client`` executable with its own FIELD_CLIENT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "FIELD_CLIENT_HOME": str(home)}

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "field-client"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=180,
        )
        if done.returncode != 0:
            raise SystemExit(
                f"demo: field-client {' '.join(args[:2])} failed: {done.stderr.strip()}"
            )
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json"))


def find_add_arguments(data: dict[str, Any]) -> list[str]:
    pairs = [(option, data.get(name)) for name, option in FIND_OPTIONS.items()]
    position = data.get("position") or {}
    pairs += [(option, position.get(name)) for name, option in POSITION_OPTIONS.items()]
    return [f"--{option}={value}" for option, value in pairs if value is not None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def field_server(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [str(BIN / "field-server"), *args],
        env=env,
        input=stdin,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def wait_for(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("demo: the server stopped while starting; see the output above")
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("demo: the server did not answer within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    if data_dir.exists():
        # the demo's own folder: every run starts from the same state
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    env = {**os.environ, "FIELD_SERVER_DATA_DIR": str(data_dir)}
    env.pop("FIELD_SERVER_DATABASE_URL", None)

    expeditions = json.loads((SAMPLES / "expeditions.json").read_text("utf-8"))["expeditions"]
    field_server(env, "init-db")
    for username, role in STAFF.items():
        field_server(
            env,
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=DEMO_PASSWORD + "\n",
        )
    for expedition in expeditions:
        for member in expedition["team"]:
            field_server(
                env,
                "create-user",
                member["username"],
                "--role",
                "recorder",
                "--password-stdin",
                stdin=DEMO_PASSWORD + "\n",
            )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(BIN / "field-server"), "serve", "--port", str(port)], env=env)
    try:
        wait_for(base, server)
        summary = run_demo(Api(base), expeditions, FieldLaptop(data_dir / "field-laptop"))
        summary["acts"] = register_step(Api(base), data_dir, summary["changes"], summary["review"])
        exports = write_exports(Api(base).login("reviewer"), data_dir / "exports")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_summary(summary, expeditions, data_dir)
    print_acts(summary["acts"], data_dir)
    print_exports(exports)
    print_backup_and_check(env, data_dir)
    print_where_to_look(expeditions, data_dir)


# every export of the sample expedition: (format, query); the figure is in Kazakh by default
DEMO_EXPORTS = (
    ("geojson", ""),
    ("kml", ""),
    ("gpx", ""),
    ("csv", ""),
    ("csv", "crs=EPSG:32642"),
    ("csv", "crs=EPSG:28412"),
    ("gpkg", "crs=EPSG:32642"),
    ("svg", ""),
    ("png", ""),
    ("pdf", ""),
)


def write_exports(reviewer: Api, folder: Path, code: str = "ULY-2026") -> list[Path]:
    """Each export through GET /api/v1/expeditions/<code>/export.<fmt>, under the file name the
    server gives it."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, query in DEMO_EXPORTS:
        path = f"/api/v1/expeditions/{code}/export.{fmt}" + (f"?{query}" if query else "")
        request = urllib.request.Request(reviewer.base + path)
        request.add_header("Authorization", f"Bearer {reviewer.token}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                disposition = response.headers.get("Content-Disposition", "")
                payload = response.read()
        except urllib.error.HTTPError as error:
            problem = error.read().decode("utf-8", "replace")
            raise SystemExit(f"demo: GET {path} failed: {error.code} {problem}") from None
        name = disposition.partition("filename*=UTF-8''")[2]
        target = folder / Path(urllib.parse.unquote(name) or f"{code}.{fmt}").name
        target.write_bytes(payload)
        written.append(target)
    return written


def print_exports(paths: list[Path]) -> None:
    table = Table(title="Exports of ULY-2026 (GET /api/v1/expeditions/ULY-2026/export.<fmt>)")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in paths:
        table.add_row(str(path), f"{path.stat().st_size:,}")
    console.print(table)


def run_demo(api: Api, expeditions: list[dict[str, Any]], laptop: FieldLaptop) -> dict[str, Any]:
    admin = api.login("admin")
    for expedition in expeditions:
        admin.call(
            "POST",
            "/api/v1/expeditions",
            {
                "code": expedition["code"],
                "title": expedition["title"],
                "year": expedition["year"],
                "find_number_format": expedition["find_number_format"],
                "accuracy_threshold_m": expedition.get("accuracy_threshold_m"),
            },
        )
        for site in expedition["sites"]:
            admin.call("POST", f"/api/v1/expeditions/{expedition['code']}/sites", site)
        for member in expedition["team"]:
            admin.call(
                "POST",
                f"/api/v1/expeditions/{expedition['code']}/members",
                {"username": member["username"], "leader": member["leader"]},
            )

    statuses: Counter[str] = Counter()
    flags: list[tuple[str, str, str]] = []
    laptop_report: dict[str, Any] | None = None
    phones: list[dict[str, Any]] = []
    for folder in sorted(p for p in SAMPLES.iterdir() if (p / "survey.json").exists()):
        survey = json.loads((folder / "survey.json").read_text("utf-8"))
        finds = json.loads((folder / "finds.json").read_text("utf-8"))
        code = survey["data"]["expedition_code"]
        leader = next(m for e in expeditions if e["code"] == code for m in e["team"] if m["leader"])
        if (folder / "photos").is_dir() and any(folder.glob("*.gpx")):
            laptop_report = record_on_laptop(
                laptop, api.base, leader["username"], folder, survey, finds
            )
            statuses.update(laptop_report["results"])
            flags.extend(laptop_report["flags"])
            continue
        device = api.login(leader["username"])
        body = {
            "device_id": f"demo-{folder.name}",
            "batch_id": str(uuid.uuid4()),
            "records": [survey, *finds],
        }
        answer = device.call("POST", "/api/v1/sync/push", body)
        replay = device.call("POST", "/api/v1/sync/push", body)
        assert replay == answer, "a replayed batch must get the first answer"
        numbers = {f["uuid"]: f["data"]["find_number"] for f in finds}
        for result in answer["results"]:
            statuses[result["status"]] += 1
            for flag in result.get("flags", []):
                flags.append(
                    (numbers.get(result["uuid"], result["uuid"]), flag["code"], flag["detail"])
                )
    phones = send_from_phones(api, expeditions, laptop.home.parent / "camp-laptop")
    reviewer = api.login("reviewer")
    changes: list[dict[str, Any]] = []
    cursor, more = 0, True
    while more:
        page = reviewer.call("GET", f"/api/v1/sync/pull?since={cursor}&limit=500")
        changes.extend(page["changes"])
        cursor, more = page["cursor"], page["more"]
    return {
        "statuses": statuses,
        "flags": flags,
        "changes": changes,
        "cursor": cursor,
        "laptop": laptop_report,
        "phones": phones,
        "review": review_duplicates(reviewer, changes),
    }


def review_duplicates(reviewer: Api, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The reviewer's round: detection over ULY-2026, the queue read page by page, the
    near-match pair merged (the find recorded first is kept), then every other ULY-2026 find
    still waiting approved. A number typed twice is one candidate listing all its finds."""
    code = "ULY-2026"
    detection = reviewer.call("POST", f"/api/v1/expeditions/{code}/duplicates/detect")
    candidates = queue_of(reviewer, code)
    numbers = {c["uuid"]: c["data"]["find_number"] for c in changes if c["type"] == "find"}
    recorded = {c["uuid"]: c["data"]["recorded_at"] for c in changes if c["type"] == "find"}
    merged = None
    near = [c for c in candidates if "near_match" in c["rules"]]
    if near:
        pair = near[0]["find_uuids"]
        keep = min(pair, key=lambda u: recorded[u])
        answer = reviewer.call(
            "POST",
            f"/api/v1/duplicates/{near[0]['id']}/merge",
            {"keep": keep, "reason": "one sherd entered on two laptops"},
        )
        # a pair merges its one other find
        [gone] = answer["merged"]
        merged = {**answer, "merged": gone}
    approved = 0
    for change in changes:
        if change["type"] != "find" or change["data"]["expedition_code"] != code:
            continue
        if merged and change["uuid"] == merged["merged"]["uuid"]:
            continue
        reviewer.call("POST", f"/api/v1/finds/{change['uuid']}/review", {"decision": "approve"})
        approved += 1
    return {
        "detection": detection,
        "candidates": candidates,
        "numbers": numbers,
        "merged": merged,
        "approved": approved,
        "left": queue_of(reviewer, code),
    }


def queue_of(reviewer: Api, code: str) -> list[dict[str, Any]]:
    """Every open candidate of the expedition, a page at a time as the API hands them out."""
    found: list[dict[str, Any]] = []
    after = ""
    while True:
        page = reviewer.call("GET", f"/api/v1/expeditions/{code}/duplicates?limit=100{after}")
        found += page["candidates"]
        if page["next"] is None:
            return found
        after = f"&after={page['next']}"


def create_demo_act(
    registrar: Api,
    expedition_code: str,
    fund: str,
    uuids: list[str],
    out_dir: Path,
    *,
    storage_location: str,
) -> dict[str, Any]:
    """An acceptance act of approved finds, and its act and field inventory written as PDF,
    CSV and HTML (Kazakh) under ``out_dir``."""
    act = registrar.call(
        "POST",
        "/api/v1/register/acts",
        {
            "expedition_code": expedition_code,
            "fund": fund,
            "find_uuids": uuids,
            "received_by": "registrar",
            "storage_location": storage_location,
        },
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for document in ("", "/inventory"):
        for fmt in ("pdf", "csv", "html"):
            path = f"/api/v1/register/acts/{fund}/{act['act_number']}{document}.{fmt}"
            request = urllib.request.Request(registrar.base + path)
            request.add_header("Authorization", f"Bearer {registrar.token}")
            with urllib.request.urlopen(request, timeout=60) as response:
                content = response.read()
            name = f"{'inventory' if document else 'act'}-{fund}-{act['act_number']}.{fmt}"
            (out_dir / name).write_bytes(content)
            files.append(name)
    return {**act, "files": files}


def register_step(
    api: Api, data_dir: Path, changes: list[dict[str, Any]], review: dict[str, Any]
) -> list[dict[str, Any]]:
    """ULY-2026's small finds go to the main fund (КП), its bulk lots to the auxiliary (НВФ):
    the finds the reviewer approved, so not the one merged into its twin."""
    merged = review["merged"]["merged"]["uuid"] if review["merged"] else None
    finds = [
        c
        for c in changes
        if c["type"] == "find"
        and c["data"]["expedition_code"] == "ULY-2026"
        and c["uuid"] != merged
    ]
    small = [c["uuid"] for c in finds if c["data"]["kind"] == "small_find"]
    bulk = [c["uuid"] for c in finds if c["data"]["kind"] == "bulk"]
    registrar = api.login("registrar")
    out_dir = data_dir / "register"
    return [
        create_demo_act(
            registrar, "ULY-2026", "KP", small, out_dir, storage_location="Қор 1, сөре 3"
        ),
        create_demo_act(registrar, "ULY-2026", "NVF", bulk, out_dir, storage_location="Қор 2"),
    ]


def print_acts(acts: list[dict[str, Any]], data_dir: Path) -> None:
    table = Table(title="Accession register: acceptance acts")
    for column in ("act", "items", "numbers", "documents"):
        table.add_column(column)
    for act in acts:
        fund = "КП" if act["fund"] == "KP" else "НВФ"
        numbers = [e["register_number"] for e in act["entries"]]
        table.add_row(
            f"{fund} {act['act_number']}",
            str(len(numbers)),
            f"{numbers[0]} … {numbers[-1]}",
            ", ".join(act["files"][:3]) + " (+ inventory)",
        )
    console.print(table)
    console.print(f"Acts and field inventories in {data_dir / 'register'}.")


def record_on_laptop(
    laptop: FieldLaptop,
    base: str,
    leader: str,
    folder: Path,
    survey: dict[str, Any],
    finds: list[dict[str, Any]],
) -> dict[str, Any]:
    """The survey as its leader's laptop records it: finds entered by hand (the laptop gives
    them its own uuids), then the day's GPS log and camera card imported, then one sync."""
    laptop.run(
        "login",
        "--server",
        base,
        "--username",
        leader,
        "--password-stdin",
        "--device-name",
        "demo field laptop",
        stdin=DEMO_PASSWORD + "\n",
    )
    laptop.run("pull")
    data = survey["data"]
    started = laptop.json(
        "survey",
        "start",
        "--expedition",
        data["expedition_code"],
        "--title",
        data["title"],
        "--team",
        ",".join(data["team"]),
        "--started-on",
        data["started_on"],
        "--notes",
        data.get("notes") or "",
    )
    for find in finds:
        laptop.json("find", "add", "--survey", started["uuid"], *find_add_arguments(find["data"]))
    laptop.run("import", "gpx", *(str(p) for p in sorted(folder.glob("*.gpx"))))
    laptop.run(
        "import",
        "photos",
        str(folder / "photos"),
        "--survey",
        started["uuid"],
        "--camera-offset",
        CAMERA_OFFSET,
        "--tz",
        CAMERA_TZ,
    )
    if data.get("ended_on"):
        laptop.run("survey", "close", "--survey", started["uuid"], "--ended-on", data["ended_on"])
    report = laptop.json("sync")
    again = laptop.json("sync")
    assert (again["records_sent"], again["photos_uploaded"]) == (0, 0), (
        "a second sync sends nothing"
    )
    photos = laptop.json("photos", "--survey", started["uuid"])
    flags = [
        (find["find_number"], flag["code"], flag["detail"])
        for find in laptop.json("find", "list", "--survey", started["uuid"])
        for flag in find["sync"]["flags"]
    ]
    return {
        "leader": leader,
        "home": laptop.home,
        "survey": folder.name,
        "results": report["results"],
        "flags": flags,
        "photos": len(photos),
        "photos_uploaded": report["photos_uploaded"],
        "photos_on_server": sum(bool(p["on_server"]) for p in photos),
        "photos_from_track": sum(p["position_source"] == "track" for p in photos),
        "photo_bytes_sent": report["photo_bytes_sent"],
        "status": laptop.json("status"),
        "status_text": laptop.run("status").strip(),
    }


PHONE_SAMPLES = SAMPLES / "zhz-2026-taskudyk-phones" / "submissions.json"


CAMP_SERVE = (str(BIN / "field-client"), "collect", "serve", "--host", "127.0.0.1")


def _phone_photos(submission: dict[str, Any]) -> dict[str, bytes]:
    lat, lon = (float(v) for v in submission["answers"]["position"].split()[:2])
    taken = datetime.fromisoformat(submission["answers"]["end"])
    label = f"{submission['answers']['object_name']} ({submission['device']})"
    return {submission["photo"]: phone_photo(label, lat, lon, taken)}


def send_from_phones(
    api: Api, expeditions: list[dict[str, Any]], camp_home: Path
) -> list[dict[str, Any]]:
    """Two phones at Taskudyk: one sends to the camp laptop (its leader's), which syncs to the
    museum; one sends straight to the museum's server. Returns what each phone saw."""
    submissions = json.loads(PHONE_SAMPLES.read_text("utf-8"))["submissions"]
    code = "ZHZ-2026"
    (expedition,) = [e for e in expeditions if e["code"] == code]
    leader = next(m["username"] for m in expedition["team"] if m["leader"])
    camp = FieldLaptop(camp_home)
    camp.run(
        "login",
        "--server",
        api.base,
        "--username",
        leader,
        "--password-stdin",
        "--device-name",
        "demo camp laptop",
        stdin=DEMO_PASSWORD + "\n",
    )
    camp.run("pull")
    via_camp = [s for s in submissions if s["sent_to"] == "camp laptop"]
    camp.json(
        "survey",
        "start",
        "--expedition",
        code,
        "--title",
        "Тасқұдық: лагерьдегі телефондар (телефоны в лагере)",
        "--team",
        ",".join([leader, *(s["recorder"] for s in via_camp)]),
        "--started-on",
        via_camp[0]["answers"]["found_on"] if via_camp else "2026-08-07",
    )
    seen: list[dict[str, Any]] = []
    port = free_port()
    for submission in via_camp:
        key = camp.json(
            "collect",
            "key",
            submission["recorder"],
            "--device",
            submission["device"],
            "--url",
            f"http://127.0.0.1:{port}",
        )
        serve = subprocess.Popen(
            [*CAMP_SERVE, "--port", str(port)],
            env=camp.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_port(port, serve)
            sent = Phone(key["server_url"]).send(
                submission["answers"], _phone_photos(submission), submission["instance_id"]
            )
        finally:
            serve.terminate()
            _, log = serve.communicate(timeout=30)
        seen.append({"submission": submission, "key": key, "sent": sent, "log": log.strip()})
    if via_camp:
        report = camp.json("sync")
        again = camp.json("sync")
        assert (again["records_sent"], again["photos_uploaded"]) == (0, 0), (
            "a second sync of the camp laptop sends nothing"
        )
        for entry in seen:
            entry["sync"] = report
    leader_api = api.login(leader)
    for submission in (s for s in submissions if s["sent_to"] == "server"):
        key = leader_api.call(
            "POST",
            f"/api/v1/expeditions/{code}/collect-keys",
            {"username": submission["recorder"], "device_name": submission["device"]},
        )
        photos = _phone_photos(submission)
        phone = Phone(key["server_url"])
        sent = phone.send(submission["answers"], photos, submission["instance_id"])
        # Collect retries when it hears no answer: the same instance again writes nothing
        replay = phone.send(submission["answers"], photos, submission["instance_id"])
        assert replay.status == 201, "a replayed submission is answered 201"
        seen.append({"submission": submission, "key": key, "sent": sent, "log": ""})
    listed = leader_api.call("GET", f"/api/v1/expeditions/{code}/collect-submissions")
    kept = Counter(s["instance_id"] for s in listed["submissions"])
    for entry in seen:
        entry["kept"] = kept[entry["submission"]["instance_id"]]
    return seen


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"demo: collect serve stopped: {process.communicate()[1]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("demo: collect serve did not answer within 20 s")


def print_phones(phones: list[dict[str, Any]], changes: list[dict[str, Any]]) -> None:
    if not phones:
        return
    finds = {c["uuid"]: c["data"] for c in changes if c["type"] == "find"}
    table = Table(title="Phones (ODK Collect) at Taskudyk, ZHZ-2026")
    for column in ("phone", "sent to", "answer", "find on the server", "photos"):
        table.add_column(column)
    for entry in phones:
        submission = entry["submission"]
        find = finds.get(submission["instance_id"])
        table.add_row(
            f"{submission['device']} ({submission['recorder']})",
            "camp laptop, then its sync" if submission["sent_to"] == "camp laptop" else "server",
            str(entry["sent"].status),
            "missing" if find is None else f"{find['find_number']} {find['object_name']}",
            "0" if find is None else str(len(find["photos"])),
        )
    console.print(table)
    for entry in phones:
        key, sent = entry["key"], entry["sent"]
        where = entry["submission"]["sent_to"]
        console.print(
            f"Key of {entry['submission']['recorder']} ({entry['submission']['device']}, "
            f"issued by the {'camp laptop' if where == 'camp laptop' else 'server'}): "
            f"server address {key['server_url']}",
            highlight=False,
        )
        console.print(f"  form {sent.form_url} (version {sent.form_version})", highlight=False)
        console.print(f"  Collect's QR payload: {key['settings']}", highlight=False)
        if entry["log"]:
            console.print(f"  collect serve said: {entry['log']}", highlight=False)
        console.print(
            f"  kept as received on the server: {entry['kept']} submission(s)", highlight=False
        )


def print_summary(
    summary: dict[str, Any], expeditions: list[dict[str, Any]], data_dir: Path
) -> None:
    table = Table(title="Synced to the museum server")
    for column in ("expedition", "surveys", "finds", "materials"):
        table.add_column(column)
    for expedition in expeditions:
        mine = [
            c for c in summary["changes"] if c["data"].get("expedition_code") == expedition["code"]
        ]
        finds = [c for c in mine if c["type"] == "find"]
        materials = Counter(c["data"]["material"] for c in finds)
        table.add_row(
            expedition["code"],
            str(sum(c["type"] == "survey" for c in mine)),
            str(len(finds)),
            ", ".join(f"{m} {n}" for m, n in materials.most_common()),
        )
    console.print(table)
    console.print(
        "Push results: "
        + ", ".join(f"{s} {n}" for s, n in summary["statuses"].items())
        + " (the replay of each HTTP batch got its first answer and wrote nothing; the"
        " laptop's second sync sent nothing)"
    )
    laptop = summary["laptop"]
    if laptop is not None:
        print_laptop(laptop)
    print_phones(summary["phones"], summary["changes"])
    if summary["flags"]:
        flagged = Table(title="Flagged for review")
        for column in ("find", "flag", "detail"):
            flagged.add_column(column)
        for row in summary["flags"]:
            flagged.add_row(*row)
        console.print(flagged)
    console.print(
        f"Pull from 0 returned {len(summary['changes'])} records; cursor {summary['cursor']}."
    )
    print_review(summary["review"])


def print_review(review: dict[str, Any]) -> None:
    detection, numbers = review["detection"], review["numbers"]
    table = Table(title=f"Duplicate candidates of ULY-2026 ({detection['finds']} finds compared)")
    for column in ("id", "finds", "score", "distance", "rules"):
        table.add_column(column)
    for candidate in review["candidates"]:
        table.add_row(
            str(candidate["id"]),
            " / ".join(numbers.get(u, u[:8]) for u in candidate["find_uuids"]),
            f"{candidate['score']:.2f}",
            "—" if candidate["distance_m"] is None else f"{candidate['distance_m']:.2f} m",
            ", ".join(candidate["rules"]),
        )
    console.print(table)
    merged = review["merged"]
    if merged:
        console.print(
            f"Merged candidate {merged['id']}: kept {numbers[merged['kept']['uuid']]}, "
            f"{numbers[merged['merged']['uuid']]} is now its alias (a later push to it lands "
            "on the kept find)."
        )
    console.print(
        f"Approved {review['approved']} finds of ULY-2026; "
        f"{len(review['left'])} candidate(s) left open for a reviewer."
    )


def print_laptop(laptop: dict[str, Any]) -> None:
    status = laptop["status"]
    left = (
        sum(status["pending"].values())
        + len(status["photos_not_on_server"])
        + len(status["rejected"])
        + len(status["conflicts"])
    )
    table = Table(title=f"Field laptop ({laptop['leader']}): {laptop['survey']}")
    table.add_column("")
    table.add_column("")
    table.add_row(
        "records sent",
        ", ".join(f"{s} {n}" for s, n in laptop["results"].items())
        + " (survey, finds, GPS tracks, photos)",
    )
    table.add_row(
        "photos uploaded",
        f"{laptop['photos_uploaded']} of {laptop['photos']} "
        f"({laptop['photo_bytes_sent']:,} bytes); {laptop['photos_on_server']} on the server",
    )
    table.add_row(
        "placed from the GPS track",
        f"{laptop['photos_from_track']} photos (camera {CAMERA_OFFSET} fast, {CAMERA_TZ})",
    )
    table.add_row("left on the laptop", "nothing" if left == 0 else str(left))
    console.print(table)
    console.print(f"field-client status (FIELD_CLIENT_HOME={laptop['home']}):")
    console.print(laptop["status_text"], markup=False, highlight=False)


def print_where_to_look(expeditions: list[dict[str, Any]], data_dir: Path) -> None:
    """Last, so it is what a person sees when the demo ends."""
    console.print(
        f"Data in {data_dir}. Serve it with [bold]make serve[/bold]: the review UI at "
        "[bold]http://127.0.0.1:5000/[/bold], the API at http://127.0.0.1:5000/api/v1/health."
    )
    recorders = ", ".join(
        f"{m['username']} ({e['code']}{', leader' if m['leader'] else ''})"
        for e in expeditions
        for m in e["team"]
    )
    console.print(
        f"Demo logins, password [bold]{DEMO_PASSWORD}[/bold]: admin, reviewer, registrar; "
        f"recorders {recorders}.",
        highlight=False,
    )


def print_backup_and_check(env: dict[str, str], data_dir: Path) -> None:
    """A backup of the demo's museum, as an admin's nightly job would write it, then the
    store's check; each prints its one line."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    archive = data_dir / "backups" / f"qazba-{stamp}.tar"
    archive.parent.mkdir(parents=True, exist_ok=True)
    for args in (["backup", "--out", str(archive), "--quiet"], ["check"]):
        done = subprocess.run(
            [str(BIN / "field-server"), *args], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"demo: field-server {args[0]} failed: {done.stdout}{done.stderr}")
        console.print(f"field-server {args[0]}: {done.stdout.strip()}", highlight=False)


if __name__ == "__main__":
    main()
