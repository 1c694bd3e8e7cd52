"""The sync benchmark: push, replay and pull rates, incremental-pull latency and peak memory of a
real ``field-server serve`` on SQLite and PostgreSQL, printed against the project's targets.

Run by ``make bench`` (``.venv/bin/python bench/sync_bench.py``); see bench/README.md. It prints
figures and exits non-zero only when a run could not be completed or an answer was wrong; a
missed target is a finding, not a failure.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from shapely.geometry import Point, Polygon, shape
from shapely.prepared import prep

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_surveys"
MATERIALS_FILE = ROOT / "schemas" / "materials.json"
# The server is the installed console script next to this interpreter (.venv/bin/field-server).
BIN = Path(sys.executable).parent
FIELD_SERVER = BIN / "field-server"

PASSWORD = "qazba-bench-2026"
RECORDER = "bench.recorder"
EXPEDITION = "ULY-2026"
NUMBER_PREFIX = "ULY26-"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PULL_LIMIT = 5000
KZ_TIME = timezone(timedelta(hours=5))

PUSH_TARGET = {"sqlite": 10_000.0, "postgresql": 5_000.0}
PULL_TARGET = 50_000.0
INCREMENTAL_TARGET_MS = 10.0
RSS_TARGET_MB = 300.0


class BenchError(Exception):
    """A run that could not be completed, or an answer that breaks the protocol."""


# -- generated field data ----------------------------------------------------------------

# Per material: object names as the recorders write them (Kazakh, Russian or both), the kinds
# of record it makes, and description sentences. Built from the sample surveys.
OBJECTS: dict[str, list[str]] = {
    "ceramic": [
        "Қолдан жасалған ыдыс ернеуінің сынығы",
        "Чарх ыдысы ернеуінің сынығы, қызыл ангобпен",
        "Фрагмент поливной чаши с росписью ангобом",
        "Тандыр қабырғасының сынығы",
        "Пряслице, изготовленное из стенки сосуда",
        "Көгілдір сырлы қаптама тақтаның сынығы",
        "Фрагмент стенки сосуда с налепным валиком",
        "Күйдірілген кірпіш сынығы",
        "Андронов ыдысының түп бөлігі / донце андроновского сосуда",
        "Фрагмент тигля со шлаковыми натёками",
    ],
    "copper_alloy": [
        "Қола сырға, сұрақ белгісі пішінді",
        "Қола айна сынығы",
        "Қола белбеу айылбасы",
        "Бронзовое шило, квадратное в сечении",
        "Мыс тамшысы (балқыту қалдығы)",
        "Бронзовая бляшка с циркульным орнаментом",
    ],
    "iron": [
        "Үш қалақты темір жебе ұшы",
        "Железный нож с остатками деревянной рукояти",
        "Темір пышақтың жүзі (сынығы)",
        "Железный наконечник стрелы, черешковый",
        "Темір үзеңгі сынығы",
        "Железная пряжка с подвижным язычком",
    ],
    "precious_metal": [
        "Күміс дирхам сынығы (Саманидтер, X ғ.?)",
        "Серебряная серьга с подвеской",
        "Алтын жапсырма жұқа табақша",
    ],
    "stone": [
        "Зернотёрка (нижний камень), гранит",
        "Таңба салынған құмтас тақтаның сынығы",
        "Каменный молот-кайло с желобком для крепления рукояти",
        "Ойығы бар тас балға (кеншінің құралы)",
        "Тас келсап / каменный пест для дробления руды",
    ],
    "flint": ["Шақпақтас жаңқасы", "Шақпақтас қырғыш", "Кремнёвый наконечник стрелы"],
    "bone": [
        "Астрагал овцы с просверленным отверстием (альчик)",
        "Сүйек тарақ сынығы",
        "Костяная проколка",
        "Жануар сүйектері (жылқы, қой/ешкі)",
    ],
    "antler": ["Бұғы мүйізінен жасалған сап", "Роговая накладка на лук"],
    "shell": ["Каури қабыршағынан жасалған моншақ", "Раковина каури с отверстием"],
    "leather": ["Былғары аяқ киім қалдығы", "Фрагмент кожаного ремня с заклёпкой"],
    "wood": ["Ағаш ожау сынығы", "Фрагмент деревянной чаши"],
    "textile": ["Жібек мата қалдығы", "Отпечаток ткани на глине"],
    "glass": [
        "Көпқырлы көк шыны моншақ",
        "Стеклянная бусина бочонковидная, синяя",
        "Шыны білезік сынығы",
        "Фрагмент стеклянного сосуда, зеленоватое стекло",
    ],
    "slag": [
        "Темір қожы (ұстахана қалдығы)",
        "Мыс қожы сынықтары",
        "Шлак медеплавильный, плитчатый",
    ],
    "ore_mineral": [
        "Мыс кені: малахит пен азурит сіңген құмтас",
        "Халькозин кенінің сынығы",
        "Кусок руды с вкраплениями малахита",
    ],
    "paleontological": ["Отпечаток ископаемого растения в песчанике", "Қазба моллюск бақалшағы"],
    "charcoal": [
        "Көмір үлгісі (радиокөміртекті талдауға), тандыр ішінен",
        "Образец угля из очага (для AMS-датирования)",
        "Көмір үлгісі, кен қазбасының түбінен",
    ],
    "soil_sample": [
        "Топырақ үлгісі (флотацияға), тандыр толтырмасы, 10 л",
        "Образец грунта из печной ямы (геохимия: Cu, Pb, As)",
    ],
    "other": ["Анықталмаған зат", "Предмет неясного назначения"],
}
BULK_NAMES: dict[str, list[str]] = {
    "ceramic": ["Қыш ыдыс сынықтары, {square} шаршысы", "Фрагменты керамики, кв. {square}"],
    "bone": [
        "Кости животных (КРС, МРС, лошадь), кв. {square}",
        "Жануар сүйектері, {square} шаршысы",
    ],
    "slag": ["Мыс қожының сынықтары, {square} шаршысы", "Шлаки, кв. {square}"],
    "ore_mineral": ["Рудные куски, отсортированные горняками, кв. {square}"],
}
# Roughly the share of each material in an excavated settlement's finds.
MATERIAL_WEIGHTS: dict[str, int] = {
    "ceramic": 40,
    "copper_alloy": 5,
    "iron": 6,
    "precious_metal": 1,
    "stone": 6,
    "flint": 3,
    "bone": 12,
    "antler": 1,
    "shell": 1,
    "leather": 1,
    "wood": 1,
    "textile": 1,
    "glass": 4,
    "slag": 5,
    "ore_mineral": 3,
    "paleontological": 1,
    "charcoal": 5,
    "soil_sample": 3,
    "other": 1,
}
DESCRIPTIONS = [
    "Балшығына құм мен ұсақ тас қосылған, сынығы қара-сұр түсті, күйдірілуі біркелкі емес.",
    "Сыртында тырнақпен басылған өрнек қатары бар, ішкі беті тегістелген.",
    "Поверхность покрыта плотной патиной, под ней видны следы литейного шва.",
    "Черепок серо-коричневый в изломе, примесь дресвы и шамота, обжиг неравномерный.",
    "Заттың пішіні ерте ортағасырлық түркі бұйымдарына ұқсас (VIII–IX ғғ.).",
    "Аналогии известны на городищах Улытау и в долине Сарысу (IX–XI вв.).",
    "Табылған жерінде күл мен көмір қабаты байқалды, маңында жануар сүйектері жатты.",
    "Найден в заполнении ямы вместе с углистыми прослойками и фрагментами обожжённой глины.",
    "Жиектері мүжілген, бетінде тамыр іздері бар; консервацияға дейін құрғақ қорапта сақталады.",
    "Края окатаны, на одной стороне следы копоти; упакован в отдельный пакет с этикеткой.",
    "Өлшемдері калипермен алынды, салмағы далалық таразыда тазартудан кейін өлшенді.",
    "Размеры сняты штангенциркулем, вес — на полевых весах после расчистки.",
]
CONDITIONS = [
    "Сынық; жиектері мүжілген",
    "Жақсы сақталған",
    "Коррозия, край выкрошен",
    "Патинамен қапталған, тұтас",
    "Фрагментирован",
    "Хорошая сохранность",
    None,
]
NOTES = [
    "Шаршы {square}, {spit}-пласт.",
    "Кв. {square}, пласт {spit}; зачистка после дождя.",
    "Координаттары {square} шаршысының ортасы; {spit}-пласт.",
    "Кв. {square}. Снят тахеометром от репера ДМБ-1, пласт {spit}.",
    None,
]
TEAM = ["e.zhaksybekov", "a.nurlankyzy", "d.oralbay", "s.kim"]
SQUARES = [f"{letter}-{n}" for letter in "АБВГДЕ" for n in range(1, 9)]


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    boundary: dict[str, Any]


def load_sites() -> list[Site]:
    expeditions = json.loads((SAMPLES / "expeditions.json").read_text("utf-8"))["expeditions"]
    expedition = next(e for e in expeditions if e["code"] == EXPEDITION)
    return [Site(s["code"], s["name"], s["boundary"]) for s in expedition["sites"]]


class FindFactory:
    """Makes find envelopes of about 1 KB of JSON each, reproducibly from one seed."""

    def __init__(self, seed: int, survey_uuid: str, sites: list[Site]) -> None:
        self.rng = random.Random(seed)
        self.survey_uuid = survey_uuid
        codes = [m["code"] for m in json.loads(MATERIALS_FILE.read_text("utf-8"))["materials"]]
        missing = set(codes) - set(OBJECTS)
        if missing:
            raise BenchError(f"no generated object names for materials {sorted(missing)}")
        self.materials = codes
        self.weights = [MATERIAL_WEIGHTS.get(code, 1) for code in codes]
        # Points stay about 10 m inside the boundary, so no find is flagged as outside its site.
        self.sites = [(site.code, _shrunk(shape(site.boundary))) for site in sites]

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def survey(self) -> dict[str, Any]:
        return {
            "type": "survey",
            "uuid": self.survey_uuid,
            "base_rev": 0,
            "rev": 1,
            "data": {
                "expedition_code": EXPEDITION,
                "title": "Ұлытау экспедициясы: жүктеме сынағы / нагрузочный тест синхронизации",
                "team": TEAM,
                "started_on": "2026-07-06",
                "ended_on": None,
                "notes": "Сгенерированные находки для замера скорости синхронизации "
                "(bench/sync_bench.py).",
            },
        }

    def find(self, number: int) -> dict[str, Any]:
        rng = self.rng
        material = rng.choices(self.materials, self.weights)[0]
        kind = "small_find"
        if material in ("charcoal", "soil_sample"):
            kind = "sample"
        elif material in BULK_NAMES and rng.random() < 0.3:
            kind = "bulk"
        square, spit = rng.choice(SQUARES), rng.randint(1, 6)
        if kind == "bulk":
            object_name = rng.choice(BULK_NAMES[material]).format(square=square)
        else:
            object_name = rng.choice(OBJECTS[material])
        site_code, (polygon, prepared) = rng.choice(self.sites)
        excavated = rng.random() < 0.75
        lon, lat = _point_in(rng, polygon, prepared)
        depth = round(rng.uniform(0.05, 2.4), 2) if excavated else None
        elevation = round(rng.uniform(420.0, 436.0) - (depth or 0.0), 3)
        found_on = date(2026, 7, 6) + timedelta(days=rng.randint(0, 44))
        recorded_at = datetime(
            found_on.year,
            found_on.month,
            found_on.day,
            rng.randint(8, 19),
            rng.randint(0, 59),
            rng.randint(0, 59),
            tzinfo=KZ_TIME,
        )
        dimensions: list[float | None] = [None] * 3
        if kind == "small_find":
            dimensions = [round(rng.uniform(3, 180), 1) for _ in range(3)]
        condition = rng.choice(CONDITIONS) if kind != "sample" else None
        note = rng.choice(NOTES)
        photos = [f"{rng.getrandbits(256):064x}" for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
        return {
            "type": "find",
            "uuid": self.uuid4(),
            "base_rev": 0,
            "rev": 1,
            "data": {
                "survey_uuid": self.survey_uuid,
                "expedition_code": EXPEDITION,
                "site_code": site_code,
                "trench": rng.choice(("Р-1", "Р-2", "Р-3")) if excavated else None,
                "context": str(rng.randint(101, 112)) if excavated else None,
                "find_number": f"{NUMBER_PREFIX}{number:06d}",
                "kind": kind,
                "material": material,
                "object_name": object_name,
                "description": " ".join(rng.sample(DESCRIPTIONS, rng.randint(1, 3))),
                "quantity": rng.randint(2, 60) if kind == "bulk" else 1,
                "weight_g": round(rng.uniform(0.4, 900.0), 1),
                "length_mm": dimensions[0],
                "width_mm": dimensions[1],
                "height_mm": dimensions[2],
                "condition": condition,
                "position": {
                    "lon": round(lon, 8 if excavated else 7),
                    "lat": round(lat, 8 if excavated else 7),
                    "elevation_m": elevation,
                    "depth_m": depth,
                    "horizontal_accuracy_m": round(rng.uniform(0.01, 0.05), 2)
                    if excavated
                    else round(rng.uniform(1.8, 4.5), 1),
                    "vertical_accuracy_m": round(rng.uniform(0.01, 0.03), 2)
                    if excavated
                    else round(rng.uniform(3.0, 7.0), 1),
                    "method": "total_station" if excavated else "gnss",
                },
                "found_on": found_on.isoformat(),
                "recorded_at": recorded_at.isoformat(),
                "recorded_by": rng.choice(TEAM),
                "photos": photos,
                "notes": note.format(square=square, spit=spit) if note else None,
            },
        }


def _shrunk(polygon: Any) -> tuple[Polygon, Any]:
    inner = polygon.buffer(-0.00015)  # about 11 m of longitude, 17 m of latitude here
    return inner, prep(inner)


def _point_in(rng: random.Random, polygon: Polygon, prepared: Any) -> tuple[float, float]:
    west, south, east, north = polygon.bounds
    while True:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if prepared.contains(Point(lon, lat)):
            return lon, lat


def excerpt(payload: bytes) -> str:
    return payload[:600].decode("utf-8", "replace")


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Batches:
    """Push bodies serialised ahead of the clock, with what is needed to check the answers."""

    bodies: list[bytes]
    batch_ids: list[str]
    uuids: list[str]  # every record pushed, in order
    finds: list[dict[str, Any]]

    @property
    def records(self) -> int:
        return len(self.uuids)


def make_batches(
    factory: FindFactory,
    first_number: int,
    count: int,
    batch: int,
    device_id: str,
    survey: dict[str, Any] | None,
) -> Batches:
    finds = [factory.find(first_number + i) for i in range(count)]
    bodies: list[bytes] = []
    batch_ids: list[str] = []
    uuids: list[str] = []
    for start in range(0, count, batch):
        records = finds[start : start + batch]
        if survey is not None and start == 0:
            # the survey travels with its first finds, as a device's first sync sends it
            records = [survey, *records]
        batch_id = factory.uuid4()
        batch_ids.append(batch_id)
        uuids.extend(r["uuid"] for r in records)
        bodies.append(encode({"device_id": device_id, "batch_id": batch_id, "records": records}))
    # The client now holds millions of objects; frozen, they are not walked by the garbage
    # collections that a timed phase would otherwise trigger.
    gc.collect()
    gc.freeze()
    return Batches(bodies, batch_ids, uuids, finds)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection inside the clock: what the client allocates there is acyclic."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- the server under test ---------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection with Nagle off, as a syncing device would hold."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.token: str | None = None
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        connection.connect()
        assert connection.sock is not None
        # http.client writes headers and body in separate sends: with Nagle the body would
        # wait for the server's delayed ACK of the headers (~40 ms a request).
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.will_close:
            self.connection.close()
            self.connection = self._connect()
        return response.status, payload

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, payload = self.call(method, path, None if body is None else encode(body))
        if status != expect:
            raise BenchError(f"{method} {path}: {status} {excerpt(payload)}")
        return json.loads(payload)

    def login(self) -> None:
        answer = self.json(
            "POST",
            "/api/v1/auth/token",
            {"username": RECORDER, "password": PASSWORD, "device_name": "bench field laptop"},
            expect=201,
        )
        self.token = answer["token"]

    def close(self) -> None:
        self.connection.close()


class RssSampler:
    """Samples a process's resident set size from /proc until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.hwm_kb = 0  # the kernel's own high-water mark, read last
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def current_kb(self) -> int:
        return self._read().get("VmRSS", 0)

    def _read(self) -> dict[str, int]:
        values: dict[str, int] = {}
        with suppress(OSError), open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, amount, _unit = line.split()
                    values[name[:-1]] = int(amount)
        return values

    def _run(self) -> None:
        while not self._stop.is_set():
            values = self._read()
            self.peak_kb = max(self.peak_kb, values.get("VmRSS", 0))
            self.hwm_kb = max(self.hwm_kb, values.get("VmHWM", 0))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        values = self._read()
        self.peak_kb = max(self.peak_kb, values.get("VmRSS", 0))
        self.hwm_kb = max(self.hwm_kb, values.get("VmHWM", 0))
        self._stop.set()
        self._thread.join()


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    rss: RssSampler
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def field_server(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        [str(FIELD_SERVER), *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"field-server {args[0]} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )


def set_up(env: dict[str, str], work: Path, sites: list[Site]) -> None:
    """A fresh store with one expedition, its sites and one recorder, through the real CLI."""
    field_server(env, "init-db")
    field_server(
        env,
        "create-user",
        RECORDER,
        "--role",
        "recorder",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    field_server(
        env,
        "create-expedition",
        EXPEDITION,
        "--title",
        "Ұлытау археологиялық экспедициясы 2026",
        "--year",
        "2026",
        "--find-number-format",
        NUMBER_PREFIX + "{n:06d}",
        "--accuracy-threshold",
        "5",
    )
    for site in sites:
        boundary = work / f"{site.code}.geojson"
        boundary.write_text(json.dumps(site.boundary, ensure_ascii=False), "utf-8")
        field_server(
            env, "add-site", EXPEDITION, site.code, "--name", site.name, "--boundary", str(boundary)
        )
    field_server(env, "add-member", EXPEDITION, RECORDER, "--leader")


@contextmanager
def running_server(env: dict[str, str], work: Path) -> Iterator[Server]:
    port = free_port()
    log = work / f"server-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(FIELD_SERVER), "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    rss = RssSampler(process.pid)
    server = Server(port, process, rss, log)
    try:
        _wait_for(server)
        yield server
    except BaseException:
        tail = log.read_text("utf-8", "replace").splitlines()[-25:]
        if tail:
            print("  server log (last lines):\n    " + "\n    ".join(tail), file=sys.stderr)
        raise
    finally:
        rss.stop()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"the server exited ({server.process.returncode}) while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                connection.close()
                return
            connection.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError("the server did not answer /api/v1/health within 60 s")


# -- backends ------------------------------------------------------------------------------


@contextmanager
def fresh_store(
    backend: str, work: Path, sites: list[Site], admin_url: str
) -> Iterator[dict[str, str]]:
    """The environment of a server on an empty, set-up store; the store is gone afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="store-", dir=work))
    env = {
        **os.environ,
        "FIELD_SERVER_DATA_DIR": str(data_dir),
        "FIELD_SERVER_SCRYPT_COST": "16384",
    }
    env.pop("FIELD_SERVER_DATABASE_URL", None)
    try:
        if backend == "sqlite":
            set_up(env, work, sites)
            yield env
        else:
            name = f"qazba_bench_{secrets.token_hex(4)}"
            with postgres_database(admin_url, name) as url:
                env["FIELD_SERVER_DATABASE_URL"] = url
                set_up(env, work, sites)
                yield env
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def database_url(admin_url: str, name: str) -> str:
    """The admin URL with another database: the server connects as the admin does."""
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A new database ``name`` on the server of ``admin_url``, dropped when the block ends;
    yields its URL."""
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)  # psycopg's own form
    try:
        admin = psycopg.connect(plain, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise BenchError(f"PostgreSQL at {admin_url} is not reachable: {error}") from None
    with admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name)
            )
        )
        try:
            yield database_url(admin_url, name)
        finally:
            # FORCE ends a server connection left behind by a crash, so the drop never waits
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


def postgres_note(admin_url: str) -> str:
    """The server settings that change the figures: without autovacuum nothing is analysed."""
    try:
        with psycopg.connect(admin_url, connect_timeout=10) as admin:
            version = admin.execute("SHOW server_version").fetchone()
            settings = {
                name: admin.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                for name in ("autovacuum", "shared_buffers", "synchronous_commit")
            }
    except psycopg.Error as error:
        return f"PostgreSQL settings not read: {error}"
    shown = ", ".join(f"{name} {row[0] if row else '?'}" for name, row in settings.items())
    return f"PostgreSQL {version[0] if version else '?'}: {shown}"


# -- phases --------------------------------------------------------------------------------


@dataclass
class Measures:
    """The samples of every phase of one backend."""

    backend: str
    samples: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    peak_rss_kb: int = 0
    hwm_kb: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    parsing: dict[str, list[float]] = field(default_factory=dict)  # the client's json.loads
    sampler: RssSampler | None = None  # the running server's
    rss_after: dict[str, tuple[int, int]] = field(default_factory=dict)  # (now, peak) in kB

    def add(self, phase: str, records: int, seconds: float) -> None:
        self.samples.setdefault(phase, []).append((records, seconds))
        if self.sampler is not None:
            self.rss_after[phase] = (self.sampler.current_kb(), self.sampler.peak_kb)


PUSH_10K = "push into a fresh store"
REPLAY = "replay of the same batches"
PULL_FRESH = "pull all (since=0)"
PUSH_GROW = "push more, growing the store"
PULL_GROWN = "pull all of the grown store"
INCREMENTAL = "incremental pull of 10 changed"
RSS = "peak server RSS"


def push_all(client: Client, batches: Batches) -> tuple[float, list[bytes]]:
    answers: list[bytes] = []
    with gc_paused():
        started = time.perf_counter()
        for body in batches.bodies:
            status, payload = client.call("POST", "/api/v1/sync/push", body)
            if status != 200:
                raise BenchError(f"push: {status} {excerpt(payload)}")
            answers.append(payload)
        elapsed = time.perf_counter() - started
    return elapsed, answers


def check_first_push(
    batches: Batches, answers: list[bytes], measures: Measures
) -> list[dict[str, Any]]:
    parsed = [json.loads(a) for a in answers]
    results = [r for answer in parsed for r in answer["results"]]
    if [r["uuid"] for r in results] != batches.uuids:
        raise BenchError("push: the results are not one per record in request order")
    statuses = Counter(r["status"] for r in results)
    measures.statuses.update(statuses)
    for result in results:
        measures.flags.update(flag["code"] for flag in result.get("flags", []))
    bad = [r for r in results if r["status"] != "created"]
    if bad:
        raise BenchError(
            f"push: {len(bad)} records not created ({dict(statuses)}); first: "
            f"{json.dumps(bad[:2], ensure_ascii=False)[:800]}"
        )
    return parsed


def pull_all(client: Client, since: int = 0) -> tuple[float, float, int, int]:
    """Every change since a cursor, page by page: (seconds without the client's JSON parsing,
    seconds of that parsing, changes, final cursor)."""
    count, cursor, more, parsing = 0, since, True, 0.0
    with gc_paused():
        started = time.perf_counter()
        while more:
            path = f"/api/v1/sync/pull?since={cursor}&limit={PULL_LIMIT}"
            status, payload = client.call("GET", path)
            if status != 200:
                raise BenchError(f"pull: {status} {excerpt(payload)}")
            # The next request needs this page's cursor, so the page is parsed between
            # requests; that parsing is the client's cost, timed apart so the rate is the
            # server's (and the wire's).
            parse_started = time.perf_counter()
            page = json.loads(payload)
            parsing += time.perf_counter() - parse_started
            cursor, more = page["cursor"], page["more"]
            count += len(page["changes"])
            del page
        elapsed = time.perf_counter() - started - parsing
    return elapsed, parsing, count, cursor


def run_fresh(
    backend: str,
    args: argparse.Namespace,
    work: Path,
    sites: list[Site],
    measures: Measures,
    repetition: int,
    last: bool,
) -> None:
    survey_uuid = str(uuid.UUID(int=random.Random(repetition).getrandbits(128), version=4))
    factory = FindFactory(1000 + repetition, survey_uuid, sites)
    device = f"bench-laptop-{repetition}"
    batches = make_batches(factory, 1, args.finds, args.batch, device, factory.survey())
    if repetition == 0:
        sizes = [len(encode(f)) for f in batches.finds]
        measures.notes.append(
            f"generated finds: {statistics.mean(sizes):.0f} bytes of JSON on "
            f"average ({min(sizes)}–{max(sizes)}); bodies of "
            f"{statistics.mean(len(b) for b in batches.bodies) / 1024:.0f} KiB"
        )
    with (
        fresh_store(backend, work, sites, args.admin_url) as env,
        running_server(env, work) as server,
    ):
        measures.sampler = server.rss
        client = Client(server.port)
        client.login()
        measures.rss_after["logged in"] = (server.rss.current_kb(), server.rss.peak_kb)
        seconds, answers = push_all(client, batches)
        measures.add(PUSH_10K, batches.records, seconds)
        first = check_first_push(batches, answers, measures)
        cursor = first[-1]["cursor"]

        seconds, replayed = push_all(client, batches)
        measures.add(REPLAY, batches.records, seconds)
        if any(json.loads(a) != b for a, b in zip(replayed, first, strict=True)):
            raise BenchError("replay: an answer differs from the first answer to the same batch_id")

        seconds, parsing, count, pulled_cursor = pull_all(client)
        measures.add(PULL_FRESH, count, seconds)
        measures.parsing.setdefault(PULL_FRESH, []).append(parsing)
        if count != batches.records or pulled_cursor != cursor:
            raise BenchError(
                f"pull: {count} changes up to cursor {pulled_cursor}; expected "
                f"{batches.records} up to {cursor}"
            )
        _progress(
            backend,
            f"run {repetition + 1}/{args.repeat}: push "
            f"{batches.records / measures.samples[PUSH_10K][-1][1]:,.0f}/s, replay "
            f"{batches.records / measures.samples[REPLAY][-1][1]:,.0f}/s, pull "
            f"{count / seconds:,.0f}/s",
        )
        if last and args.grow_to > args.finds:
            grow(backend, args, factory, batches, client, measures, cursor)
        client.close()
    # read once the sampler has stopped: its last reading is taken just before the server ends
    measures.peak_rss_kb = max(measures.peak_rss_kb, server.rss.peak_kb)
    measures.hwm_kb = max(measures.hwm_kb, server.rss.hwm_kb)


def grow(
    backend: str,
    args: argparse.Namespace,
    factory: FindFactory,
    first: Batches,
    client: Client,
    measures: Measures,
    cursor: int,
) -> None:
    extra = args.grow_to - args.finds
    _progress(backend, f"generating {extra:,} more finds")
    batches = make_batches(factory, args.finds + 1, extra, args.batch, "bench-laptop-grow", None)
    seconds, answers = push_all(client, batches)
    measures.add(PUSH_GROW, batches.records, seconds)
    parsed = check_first_push(batches, answers, measures)
    cursor = parsed[-1]["cursor"]
    total = first.records + batches.records
    _progress(backend, f"grew to {total:,} records: push {batches.records / seconds:,.0f}/s")

    for _ in range(args.repeat):
        seconds, parsing, count, pulled_cursor = pull_all(client)
        if count != total or pulled_cursor != cursor:
            raise BenchError(f"pull of the grown store: {count} changes, expected {total}")
        measures.add(PULL_GROWN, count, seconds)
        measures.parsing.setdefault(PULL_GROWN, []).append(parsing)

    # Each run edits 10 finds (as their device would: base_rev = the server_rev it holds) and
    # times one pull from the cursor taken before the edit.
    rng = random.Random(7)
    finds = first.finds + batches.finds
    server_revs = {f["uuid"]: 1 for f in finds}
    edits = {f["uuid"]: 1 for f in finds}
    for run in range(args.incremental_runs):
        changed = rng.sample(finds, 10)
        records = []
        for find in changed:
            edits[find["uuid"]] += 1
            data = {**find["data"], "notes": f"Правка после сверки с полевым дневником, №{run + 1}"}
            data["condition"] = rng.choice([c for c in CONDITIONS if c and c != data["condition"]])
            find["data"] = data
            records.append(
                {
                    "type": "find",
                    "uuid": find["uuid"],
                    "base_rev": server_revs[find["uuid"]],
                    "rev": edits[find["uuid"]],
                    "data": data,
                }
            )
        answer = client.json(
            "POST",
            "/api/v1/sync/push",
            {"device_id": "bench-laptop-edit", "batch_id": factory.uuid4(), "records": records},
        )
        for result in answer["results"]:
            if result["status"] != "updated":
                raise BenchError(f"edit: {json.dumps(result, ensure_ascii=False)[:600]}")
            server_revs[result["uuid"]] = result["server_rev"]

        with gc_paused():
            started = time.perf_counter()
            status, payload = client.call(
                "GET", f"/api/v1/sync/pull?since={cursor}&limit={PULL_LIMIT}"
            )
            elapsed = time.perf_counter() - started
        if status != 200:
            raise BenchError(f"incremental pull: {status} {excerpt(payload)}")
        page = json.loads(payload)
        got = {(c["uuid"], c["server_rev"]) for c in page["changes"]}
        want = {(f["uuid"], server_revs[f["uuid"]]) for f in changed}
        if got != want or page["more"] or page["cursor"] != answer["cursor"]:
            raise BenchError(
                f"incremental pull: {len(page['changes'])} changes, expected the 10 edits"
            )
        measures.add(INCREMENTAL, len(page["changes"]), elapsed)
        cursor = page["cursor"]


# -- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    backend: str
    phase: str
    records: str
    seconds: str
    rate: str
    measured: str
    target: str
    met: str


def summarise(measures: Measures, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    backend = measures.backend
    push_target = PUSH_TARGET[backend]
    targets: dict[str, tuple[str, float | None]] = {
        PUSH_10K: (f"≥ {push_target:,.0f}/s", push_target),
        REPLAY: ("—", None),
        PULL_FRESH: (f"≥ {PULL_TARGET:,.0f}/s", PULL_TARGET),
        PUSH_GROW: (f"≥ {push_target:,.0f}/s", push_target),
        PULL_GROWN: (f"≥ {PULL_TARGET:,.0f}/s", PULL_TARGET),
    }
    for phase, (target_text, target) in targets.items():
        samples = measures.samples.get(phase)
        if not samples:
            continue
        records = samples[0][0]
        seconds = statistics.median(s for _, s in samples)
        rate = statistics.median(n / s for n, s in samples)
        met = "—" if target is None else ("yes" if rate >= target else "NO")
        label = f"{phase} (×{len(samples)})"
        rows.append(
            Row(
                backend,
                label,
                f"{records:,}",
                f"{seconds:.3f}",
                f"{rate:,.0f}",
                f"{rate:,.0f}/s",
                target_text,
                met,
            )
        )
    samples = measures.samples.get(INCREMENTAL)
    if samples:
        ms = statistics.median(s for _, s in samples) * 1000
        rows.append(
            Row(
                backend,
                f"{INCREMENTAL} among {args.grow_to:,} (×{len(samples)})",
                f"{samples[0][0]}",
                f"{ms / 1000:.4f}",
                f"{statistics.median(n / s for n, s in samples):,.0f}",
                f"{ms:.1f} ms",
                f"≤ {INCREMENTAL_TARGET_MS:g} ms",
                "yes" if ms <= INCREMENTAL_TARGET_MS else "NO",
            )
        )
    if measures.peak_rss_kb:
        mb = max(measures.peak_rss_kb, measures.hwm_kb) / 1024
        rows.append(
            Row(
                backend,
                RSS,
                "—",
                "—",
                "—",
                f"{mb:,.0f} MB",
                f"≤ {RSS_TARGET_MB:g} MB",
                "yes" if mb <= RSS_TARGET_MB else "NO",
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    header = Row(
        "backend",
        "phase",
        "records",
        "seconds (median)",
        "records/s (median)",
        "measured",
        "target",
        "met",
    )
    table = [header, *rows]
    widths = [max(len(getattr(r, name)) for r in table) for name in Row.__dataclass_fields__]
    right = {2, 3, 4, 5}

    def line(row: Row) -> str:
        cells = [getattr(row, name) for name in Row.__dataclass_fields__]
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    print(line(header))
    print(
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    for row in rows:
        print(line(row))


def print_details(measures: Measures) -> None:
    print(f"\n{measures.backend}:")
    for phase, samples in measures.samples.items():
        runs = ", ".join(
            f"{s * 1000:.1f} ms" if phase == INCREMENTAL else f"{s:.3f} s" for _, s in samples
        )
        print(f"  {phase}: {runs}")
        if phase in measures.parsing:
            parse = ", ".join(f"{s:.3f} s" for s in measures.parsing[phase])
            print(f"    + the client's json.loads of the pages (not counted above): {parse}")
    flags = dict(measures.flags) or "none"
    print(f"  statuses of all first pushes: {dict(measures.statuses)}; flags: {flags}")
    if measures.rss_after:
        trace = "; ".join(
            f"{phase} {now / 1024:.0f} ({peak / 1024:.0f})"
            for phase, (now, peak) in measures.rss_after.items()
        )
        print(f"  server RSS in MB after each phase of the last run, now (peak so far): {trace}")
    if measures.peak_rss_kb:
        print(
            f"  server RSS: sampled peak {measures.peak_rss_kb / 1024:.0f} MB, "
            f"kernel VmHWM {measures.hwm_kb / 1024:.0f} MB"
        )
    for note in measures.notes:
        print(f"  {note}")


def _load(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in averages)


def _progress(backend: str, message: str) -> None:
    print(f"[{backend}] {message}", file=sys.stderr, flush=True)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM as an exception, so the finally blocks stop servers and drop databases
    raise SystemExit(128 + signum)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--finds", type=int, default=10_000, help="finds pushed into a fresh store")
    parser.add_argument(
        "--grow-to",
        type=int,
        default=100_000,
        help="finds in the grown store (0 or ≤ --finds skips growing)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="fresh-store runs; each timed phase reports the median",
    )
    parser.add_argument("--batch", type=int, default=500, help="finds per push request (≤ 1000)")
    parser.add_argument(
        "--incremental-runs", type=int, default=7, help="edit-10-and-pull rounds on the grown store"
    )
    parser.add_argument(
        "--admin-url",
        default=PG_ADMIN_URL,
        help="PostgreSQL URL used to create and drop the bench databases",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 999:
        parser.error(
            "--batch is 1 to 999: the first batch also carries the survey, "
            "and a push takes at most 1000 records"
        )
    if args.finds < 1 or args.repeat < 1 or args.incremental_runs < 1:
        parser.error("--finds, --repeat and --incremental-runs are at least 1")
    if args.grow_to and args.grow_to > args.finds and args.grow_to - args.finds < 10:
        parser.error("--grow-to must add at least 10 finds (10 are edited per incremental run)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if not FIELD_SERVER.exists():
        print(
            f"sync_bench: {FIELD_SERVER} not found; run `make bench` (it installs .venv)",
            file=sys.stderr,
        )
        return 2
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    sites = load_sites()
    all_rows: list[Row] = []
    done: list[Measures] = []
    failed: list[str] = []
    # Other work on the machine takes cores from the server: the figures say how busy it was.
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="qazba-bench-") as folder:
        work = Path(folder)
        for backend in backends:
            measures = Measures(backend)
            if backend == "postgresql":
                measures.notes.append(postgres_note(args.admin_url))
            try:
                for repetition in range(args.repeat):
                    run_fresh(
                        backend,
                        args,
                        work,
                        sites,
                        measures,
                        repetition,
                        last=repetition == args.repeat - 1,
                    )
            except (BenchError, OSError, http.client.HTTPException, psycopg.Error) as error:
                failed.append(f"{backend}: {error}")
                print(f"sync_bench: {backend}: {error}", file=sys.stderr)
            all_rows.extend(summarise(measures, args))
            done.append(measures)
    print(
        f"\nQazba sync benchmark — {args.finds:,} finds in batches of {args.batch}, store grown "
        f"to {max(args.grow_to, args.finds):,}; {os.cpu_count()} CPUs; "
        f"{date.today():%Y-%m-%d}; load average {_load(load_before)} before, "
        f"{_load(os.getloadavg())} after\n"
    )
    print_table(all_rows)
    for measures in done:
        print_details(measures)
    for failure in failed:
        print(f"\nFAILED {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
