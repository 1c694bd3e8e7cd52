"""The demo: a museum server on SQLite under ./var, the sample surveys pushed through the HTTP API.

Run by ``make demo``. It starts ``field-server serve`` on a free loopback port, sets up the
sample expeditions with their sites and teams, pushes every sample survey and find as the
expedition's recorders' devices would, pulls the result back and prints a summary.
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
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_surveys"
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "qazba-demo-2026"
STAFF = {"admin": "admin", "reviewer": "reviewer", "registrar": "registrar"}

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
        summary = run_demo(Api(base), expeditions)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_summary(summary, expeditions, data_dir)


def run_demo(api: Api, expeditions: list[dict[str, Any]]) -> dict[str, Any]:
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
    for folder in sorted(p for p in SAMPLES.iterdir() if (p / "survey.json").exists()):
        survey = json.loads((folder / "survey.json").read_text("utf-8"))
        finds = json.loads((folder / "finds.json").read_text("utf-8"))
        code = survey["data"]["expedition_code"]
        leader = next(m for e in expeditions if e["code"] == code for m in e["team"] if m["leader"])
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
    reviewer = api.login("reviewer")
    changes: list[dict[str, Any]] = []
    cursor, more = 0, True
    while more:
        page = reviewer.call("GET", f"/api/v1/sync/pull?since={cursor}&limit=500")
        changes.extend(page["changes"])
        cursor, more = page["cursor"], page["more"]
    return {"statuses": statuses, "flags": flags, "changes": changes, "cursor": cursor}


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
        + " (the replay of each batch got its first answer and wrote nothing)"
    )
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
    console.print(
        f"Data in {data_dir}. Serve it with [bold]make serve[/bold] "
        "(http://127.0.0.1:5000/api/v1/health)."
    )
    console.print(
        f"Demo logins (password {DEMO_PASSWORD}): admin, reviewer, registrar, and the "
        "recorders of sample_surveys/expeditions.json."
    )


if __name__ == "__main__":
    main()
