"""A database left at an earlier schema revision, holding what the server's code of that revision
wrote into it, for the tests that upgrade it to head and read it back.

Every row goes in as raw SQL through tables reflected from that database itself: today's
``tables.py``, repositories and services are never used to write, because they know only
today's schema and today's formats. Canonical JSON, content hashes, scrypt password hashes,
flags, audit details and register values are spelled out here as the code of the revision
wrote them (see the revision's services in git: 0a282f8 for 0001, 2005955 for 0002, the review
branch for 0003, 9968833 for 0004, a5a2c2e for 0005, 85826b2 for 0006, ba77e8e for 0008).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, MetaData, insert, update

from field_server.adapters.schema_migration import _alembic_config
from tests import samples
from tests.media_factory import jpeg_bytes

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
DERIVED = Path(__file__).resolve().parent / "migration_data" / "derived.json"

PASSWORD = "Қазба-раскоп 2026"  # Kazakh and Russian letters: hashed as UTF-8 then and now
SCRYPT_COST = 2**10  # the format stores its cost; a small one keeps the logins fast
CODE = "ULY-2026"
DEVICE_LAPTOP = "laptop-2-7f3c9a"  # the field laptop with block ULY26-0101…0200
DEVICE_CAMP = "camp-tablet-41d2"

# username -> (roles, member of ULY-2026, leader)
PEOPLE: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "admin": (("admin",), False, False),
    "g.seitkali": (("reviewer",), False, False),
    "m.ivanova": (("registrar",), False, False),
    "e.zhaksybekov": (("recorder",), True, True),
    "a.nurlankyzy": (("recorder",), True, False),
    "d.oralbay": (("recorder",), True, False),
}
RECORDER, CAMP_RECORDER, LEADER = "a.nurlankyzy", "d.oralbay", "e.zhaksybekov"
REVIEWER, REGISTRAR = "g.seitkali", "m.ivanova"

# the finds that carry more than their first revision
F_PHOTO = "12976f64-ad47-4ab1-898f-ffa5cc9f92ea"  # ULY26-0101, with a photo
F_EDITED = "0758a210-7f4c-4ea5-a295-fa90e5cf83fb"  # ULY26-0102: edited, then a conflict
F_APPROVED = "41f8b847-21b8-4ecb-a55d-ab2176d5fb0e"  # ULY26-0104: approved (accessioned ≥0004)
F_REJECTED = "86235cb8-eeca-4971-8a1f-f382865feb45"  # ULY26-0107: rejected
F_NEAR = "c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8"  # camp copy of ULY26-0101
F_RETYPED = "e81d4c36-2a9b-4f57-b0c3-5d7e9a1f2b64"  # camp find with ULY26-0115 typed twice
F_ARROWHEAD = "af1d7a55-a91d-4ae8-860e-04f6af931971"  # the real ULY26-0115
F_KNIFE = "a3e44c64-9523-4716-a28d-e5fdb849f2a7"  # ULY26-0106, copied by the new push

EDITED_NOTES = "Шаршы В-3 ортасы; 1–2-пласттар. Уточнено по журналу тахеометра."
CONFLICTING_NOTES = "Координаты — центр квадрата В-3, пласты 1–2 (перепроверено в лагере)."
REJECTION = "Қазіргі моншақ, үйіндіден / современная бусина из отвала"
ACT_RECEIVED_BY = "Ким С. В. (хранитель фондов)"
ACT_STORAGE = "Қор қоймасы №2, сөре 4"
AMENDED_STORAGE = "Қор қоймасы №3, сөре 1 (переложено)"
AMENDMENT_REASON = "Қойма ауыстырылды / фонды перенесены"

# register 0004 froze these fields of a find in its entry (services/register.py then)
FROZEN_FIND_FIELDS = (
    "find_number", "kind", "object_name", "description", "quantity", "material", "condition",
    "weight_g", "length_mm", "width_mm", "height_mm", "site_code", "trench", "context",
    "found_on", "recorded_by", "notes",
)  # fmt: skip

# the find sheet's columns of 0006, in its order (the uuid follows find_number)
SHEET_FIELDS = (
    "find_number", "survey_uuid", "site_code", "trench", "context", "kind", "material",
    "object_name", "description", "quantity", "weight_g", "length_mm", "width_mm", "height_mm",
    "condition", "elevation_m", "depth_m", "horizontal_accuracy_m", "vertical_accuracy_m",
    "method", "found_on", "recorded_at", "recorded_by", "photos", "notes",
)  # fmt: skip
POSITION_FIELDS = frozenset(
    {"elevation_m", "depth_m", "horizontal_accuracy_m", "vertical_accuracy_m", "method"}
)
REAL_FIELDS = frozenset(
    {"weight_g", "length_mm", "width_mm", "height_mm", "elevation_m", "depth_m",
     "horizontal_accuracy_m", "vertical_accuracy_m"}
)  # fmt: skip

T0 = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
SAME_FIND_NUMBER = 0.9  # the number rule's weight from 0003 on (domain/duplicates.py)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def canonical(value: Any) -> str:
    """Canonical JSON as field_core wrote it from the start: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scrypt_hash(password: str) -> str:
    """``scrypt$N$r$p$salt$digest``, the one format passwords.py has ever written."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_COST, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_COST}$8$1${b64(salt).decode()}${b64(digest).decode()}"


@cache
def derived() -> dict[str, Any]:
    return json.loads(DERIVED.read_text(encoding="utf-8"))


@cache
def photo_bytes() -> bytes:
    return jpeg_bytes(size=(64, 48), seed=7)


def photo_sha256() -> str:
    return hashlib.sha256(photo_bytes()).hexdigest()


def _sample(folder: str) -> samples.SampleSurvey:
    return next(s for s in samples.surveys() if s.folder == folder)


def at_least(revision: str, wanted: str) -> bool:
    return int(revision) >= int(wanted)


def _is_number_group(candidate: dict[str, Any]) -> bool:
    """The stored pair of one number, which 0008 made its number's group."""
    return bool(candidate["rules"] == ["same_find_number"])


@dataclass
class Stored:
    """A record as the revision's code left it, and so as a pull must hand it out."""

    type: str
    uuid: str
    data: dict[str, Any]
    seq: int
    survey_uuid: str
    created_at: datetime
    server_rev: int = 1
    status: str | None = None
    register_number: str | None = None
    flags: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime | None = None

    def change(self) -> dict[str, Any]:
        """The record as GET /sync/pull writes it."""
        return {
            "seq": self.seq,
            "type": self.type,
            "uuid": self.uuid,
            "server_rev": self.server_rev,
            "data": self.data,
            "state": {
                "conflicts": self.conflicts,
                "flags": self.flags,
                "merged_into": None,
                "register_number": self.register_number,
                "status": self.status,
            },
        }


@dataclass
class Written:
    """What was written at ``revision``, for the tests to compare with."""

    revision: str
    token: str  # a device token issued before the upgrade
    records: dict[str, Stored]
    revisions: dict[str, list[dict[str, Any]]]  # uuid -> its revision rows, oldest first
    audit: list[tuple[str, str, str, str | None]]  # (action, subject, detail, reason)
    last_seq: int
    candidate_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def finds(self) -> list[Stored]:
        return [r for r in self.records.values() if r.type == "find"]


def upgrade_to(engine: Engine, revision: str) -> None:
    """``alembic upgrade revision`` with the packaged migrations, as schema_migration does."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def write_database(engine: Engine, revision: str, photos_dir: Path) -> Written:
    with engine.begin() as connection:
        written = _Writer(connection, revision).write()
    if at_least(revision, "0002"):
        # the photo store is files, not the schema: the blob lies where the store puts it
        target = photos_dir / photo_sha256()[:2] / photo_sha256()[2:4] / photo_sha256()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(photo_bytes())
    return written


class _Writer:
    def __init__(self, connection: Connection, revision: str) -> None:
        self.c = connection
        self.revision = revision
        meta = MetaData()
        meta.reflect(bind=connection)
        self.t = meta.tables
        self.user_ids: dict[str, int] = {}
        self.seq = 0
        self.records: dict[str, Stored] = {}
        self.revision_rows: list[dict[str, Any]] = []
        self.conflict_rows: list[dict[str, Any]] = []
        self.audit_rows: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []

    def _insert(self, table: str, rows: list[dict[str, Any]] | dict[str, Any]) -> None:
        rows = rows if isinstance(rows, list) else [rows]
        if rows:
            self.c.execute(insert(self.t[table]), rows)

    def _audit(
        self, when: datetime, who: str | None, action: str, subject: str,
        detail: dict[str, Any], reason: str | None = None,
    ) -> None:  # fmt: skip
        self.audit_rows.append(
            {
                "at": when,
                "user_id": self.user_ids.get(who) if who else None,
                "action": action,
                "subject": subject,
                "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
                "reason": reason,
            }
        )

    # -- people, expedition, devices ------------------------------------------------------

    def people(self) -> str:
        for name, (roles, _, _) in PEOPLE.items():
            user_id = self.c.execute(
                insert(self.t["users"])
                .values(
                    username=name, password_hash=scrypt_hash(PASSWORD), active=True, created_at=T0
                )
                .returning(self.t["users"].c.id)
            ).scalar_one()
            self.user_ids[name] = user_id
            self._insert("user_roles", [{"user_id": user_id, "role": r} for r in roles])
            self._audit(T0, None, "user.create", f"user:{name}",
                        {"roles": sorted(roles), "user_id": user_id})  # fmt: skip
        token = f"pre-upgrade-{uuid.uuid4().hex}"
        self._insert(
            "access_tokens",
            {
                "token_hash": text_hash(token),
                "user_id": self.user_ids[RECORDER],
                "device_name": "Далалық ноутбук №2",
                "created_at": at(1),
                "expires_at": datetime.now(UTC) + timedelta(days=180),
                "revoked_at": None,
            },
        )
        self._audit(at(1), RECORDER, "token.issue", f"user:{RECORDER}",
                    {"device_name": "Далалық ноутбук №2"})  # fmt: skip
        return token

    def expedition(self) -> int:
        sample = next(e for e in samples.expeditions() if e["code"] == CODE)
        expedition_id = self.c.execute(
            insert(self.t["expeditions"])
            .values(
                code=CODE,
                title=sample["title"],
                year=sample["year"],
                find_number_format=sample["find_number_format"],
                next_find_number=201,
                accuracy_threshold_m=sample["accuracy_threshold_m"],
                created_at=T0,
            )
            .returning(self.t["expeditions"].c.id)
        ).scalar_one()
        self._audit(T0, None, "expedition.create", f"expedition:{CODE}",
                    {"title": sample["title"], "year": sample["year"]})  # fmt: skip
        for site in sample["sites"]:
            self._insert(
                "sites",
                {
                    "expedition_id": expedition_id,
                    "code": site["code"],
                    "name": site["name"],
                    "boundary": json.dumps(site["boundary"]),
                },
            )
            self._audit(T0, None, "site.create", f"expedition:{CODE}",
                        {"site": site["code"], "name": site["name"]})  # fmt: skip
        for name, (_, member, leader) in PEOPLE.items():
            if member:
                self._insert(
                    "memberships",
                    {"expedition_id": expedition_id, "user_id": self.user_ids[name],
                     "leader": leader},
                )  # fmt: skip
                self._audit(T0, None, "expedition.member", f"expedition:{CODE}",
                            {"username": name, "leader": leader})  # fmt: skip
        self._insert(
            "number_blocks",
            {
                "expedition_id": expedition_id,
                "device_id": DEVICE_LAPTOP,
                "user_id": self.user_ids[RECORDER],
                "first_number": 101,
                "last_number": 200,
                "reserved_at": at(2),
            },
        )
        self._audit(at(2), RECORDER, "number_block.reserve", f"expedition:{CODE}",
                    {"device_id": DEVICE_LAPTOP, "first": 101, "last": 200})  # fmt: skip
        self._insert(
            "devices",
            [
                {"device_id": DEVICE_LAPTOP, "first_seen_at": at(2), "last_seen_at": at(30),
                 "last_user_id": self.user_ids[RECORDER]},
                {"device_id": DEVICE_CAMP, "first_seen_at": at(20), "last_seen_at": at(40),
                 "last_user_id": self.user_ids[CAMP_RECORDER]},
            ],
        )  # fmt: skip
        return expedition_id

    # -- records ----------------------------------------------------------------------------

    def _push(
        self, records: list[dict[str, Any]], who: str, device: str, when: datetime,
        flags: dict[str, list[dict[str, Any]]],
    ) -> None:  # fmt: skip
        """A batch of new records as sync_push created them: rev 1, a revision each, the next
        change numbers in batch order, and the batch's answer kept for replays."""
        results = []
        for record in records:
            self.seq += 1
            data = record["data"]
            kind = record["type"]
            stored = Stored(
                type=kind,
                uuid=record["uuid"],
                data=data,
                seq=self.seq,
                survey_uuid=record["uuid"] if kind == "survey" else data["survey_uuid"],
                created_at=when,
                status="synced" if kind == "find" else None,
                flags=flags.get(record["uuid"], []),
            )
            self.records[stored.uuid] = stored
            self._revision(stored.uuid, 1, data, "device", who, when, device, 1, 0)
            result: dict[str, Any] = {"uuid": stored.uuid, "status": "created", "server_rev": 1}
            if stored.flags:
                result["flags"] = stored.flags
            results.append(result)
        batch_id = str(uuid.uuid4())
        answer = {"batch_id": batch_id, "results": results, "cursor": self.seq}
        self.batches.append(
            {"batch_id": batch_id, "device_id": device, "user_id": self.user_ids[who],
             "response": canonical(answer), "received_at": when}
        )  # fmt: skip

    def _revision(
        self, uuid_: str, server_rev: int, data: dict[str, Any], origin: str, who: str,
        when: datetime, device: str | None, device_rev: int | None, base_rev: int,
    ) -> None:  # fmt: skip
        text = canonical(data)
        self.revision_rows.append(
            {
                "uuid": uuid_, "server_rev": server_rev, "data": text,
                "content_hash": text_hash(text), "origin": origin, "device_id": device,
                "device_rev": device_rev, "base_rev": base_rev,
                "user_id": self.user_ids[who], "created_at": when,
            }
        )  # fmt: skip

    def _museum(
        self, uuid_: str, who: str, when: datetime, action: str, reason: str | None,
        changes: dict[str, Any], detail: dict[str, Any],
    ) -> None:  # fmt: skip
        """A museum revision as museum_revisions wrote it: the next rev and change number, the
        same data, the state columns changed, and an audit line naming old and new."""
        stored = self.records[uuid_]
        self.seq += 1
        stored.seq, stored.server_rev, stored.updated_at = self.seq, stored.server_rev + 1, when
        audit: dict[str, Any] = {"server_rev": stored.server_rev}
        for column, value in changes.items():
            audit[column] = {"old": getattr(stored, column), "new": value}
            setattr(stored, column, value)
        audit.update(detail)
        self._revision(uuid_, stored.server_rev, stored.data, "museum", who, when, None, None,
                       stored.server_rev - 1)  # fmt: skip
        self._audit(when, who, action, f"find:{uuid_}", audit, reason)

    def records_and_history(self, expedition_id: int) -> dict[tuple[str, str], int]:
        baskamyr, camp = _sample("uly-2026-baskamyr"), _sample("uly-2026-baskamyr-camp")
        first = [copy.deepcopy(baskamyr.survey), *copy.deepcopy(baskamyr.finds)]
        for record in first:
            if record["uuid"] == F_PHOTO:
                record["data"]["photos"] = [photo_sha256()]
        # photo records were in the wire contract from 0001 on; their files came with 0002
        first.append(
            {
                "type": "photo",
                "uuid": "5b0e7c1d-93a4-4e62-8f0b-6c1d2e3f4a5b",
                "data": {
                    "survey_uuid": baskamyr.survey["uuid"],
                    "sha256": photo_sha256(),
                    "bytes": len(photo_bytes()),
                    "media_type": "image/jpeg",
                    "width": 64,
                    "height": 48,
                    "taken_at": "2026-07-29T10:12:30+05:00",
                    "position": None,
                    "position_source": "none",
                    "caption": "ULY26-0101 ернеу сынығы / фрагмент венчика до расчистки",
                    "find_uuids": [F_PHOTO],
                },
            }
        )
        self._push(first, RECORDER, DEVICE_LAPTOP, at(10), {})

        retyped = {
            "code": "duplicate_find_number",
            "detail": f"find number ULY26-0115 is already used by {F_ARROWHEAD}",
            "other_uuid": F_ARROWHEAD,
        }
        flags = {F_RETYPED: [retyped]}
        if at_least(self.revision, "0003"):
            # from 0003 on a push also flagged the pairs its duplicate detection stored
            for candidate in derived()["candidates"]:
                a, b = candidate["find_uuids"]
                pushed, other = (b, a) if b in (F_NEAR, F_RETYPED) else (a, b)
                number = next(f["data"]["find_number"] for f in baskamyr.finds
                              if f["uuid"] == other)  # fmt: skip
                if at_least(self.revision, "0008") and _is_number_group(candidate):
                    # from 0008 on, finds sharing a number are one group, flagged as such
                    flags.setdefault(pushed, []).append(
                        {
                            "code": "duplicate_candidate",
                            "detail": f"find number {number} is carried by 1 other find too "
                            f"(score {SAME_FIND_NUMBER:.2f}: same_find_number)",
                            "other_uuid": other,
                            "score": SAME_FIND_NUMBER,
                            "find_number": number,
                            "others": 1,
                        }
                    )
                    continue
                flags.setdefault(pushed, []).append(
                    {
                        "code": "duplicate_candidate",
                        "detail": f"may be the same find as {number} (score "
                        f"{candidate['score']:.2f}: {', '.join(candidate['rules'])})",
                        "other_uuid": other,
                        "distance_m": round(candidate["distance_m"], 3),
                        "score": candidate["score"],
                    }
                )
        self._push([copy.deepcopy(camp.survey), *copy.deepcopy(camp.finds)], CAMP_RECORDER,
                   DEVICE_CAMP, at(20), flags)  # fmt: skip

        # the laptop edits ULY26-0102 (rev 2); the camp tablet, still on rev 1, edits the
        # same field otherwise: a conflict parked beside rev 2
        edited = self.records[F_EDITED]
        original = edited.data
        edited.data = {**original, "notes": EDITED_NOTES}
        self.seq += 1
        edited.seq, edited.server_rev, edited.updated_at = self.seq, 2, at(30)
        self._revision(F_EDITED, 2, edited.data, "device", RECORDER, at(30), DEVICE_LAPTOP, 2, 1)
        self._batch_answer(DEVICE_LAPTOP, RECORDER, at(30), F_EDITED, "updated", 2)
        theirs = {**original, "notes": CONFLICTING_NOTES}
        self.seq += 1
        edited.seq, edited.updated_at = self.seq, at(40)
        self.conflict_rows.append(
            {
                "uuid": F_EDITED, "server_rev": 2, "base_rev": 1,
                "fields": canonical(["notes"]), "data": canonical(theirs),
                "content_hash": text_hash(canonical(theirs)), "device_id": DEVICE_CAMP,
                "device_rev": 2, "user_id": self.user_ids[CAMP_RECORDER], "received_at": at(40),
                "resolved_at": None, "resolved_by": None, "resolution": None,
            }
        )  # fmt: skip
        edited.conflicts = [
            {"id": None, "server_rev": 2, "fields": ["notes"], "data": theirs,
             "device_id": DEVICE_CAMP, "received_at": at(40).isoformat()}
        ]  # fmt: skip
        self._batch_answer(DEVICE_CAMP, CAMP_RECORDER, at(40), F_EDITED, "conflict", 2)

        if at_least(self.revision, "0003"):
            self._museum(F_APPROVED, REVIEWER, at(60), "find.review", None,
                         {"status": "approved"}, {"decision": "approve"})  # fmt: skip
            self._museum(F_REJECTED, REVIEWER, at(61), "find.review", REJECTION,
                         {"status": "rejected"}, {"decision": "reject"})  # fmt: skip
        if at_least(self.revision, "0004"):
            self._museum(
                F_APPROVED,
                REGISTRAR,
                at(90),
                "register.accession",
                "act КП 1",
                {"status": "accessioned", "register_number": "КП 1/1"},
                {"act": "КП 1"},
            )

        self._write_records(expedition_id)
        candidate_ids: dict[tuple[str, str], int] = {}
        if at_least(self.revision, "0003"):
            candidate_ids = self._review_tables(expedition_id)
        if at_least(self.revision, "0004"):
            self._register(expedition_id)
        if at_least(self.revision, "0006"):
            self._find_sheets()
        return candidate_ids

    def _find_sheets(self) -> None:
        """The find sheets as 0006's code wrote them beside every find (export_layers then):
        the wire fields flat, the position's members, and find_number to notes as JSON."""
        rows = []
        for stored in self.records.values():
            if stored.type != "find":
                continue
            data, position = stored.data, stored.data["position"]
            values: dict[str, Any] = {}
            for name in SHEET_FIELDS:
                value = position.get(name) if name in POSITION_FIELDS else data.get(name)
                if value is not None and name in REAL_FIELDS:
                    value = float(value)
                elif value is not None and name == "quantity":
                    value = int(value)
                elif name == "photos":
                    value = " ".join(value or ()) or None
                values[name] = value
                if name == "find_number":
                    values["uuid"] = stored.uuid
            text = json.dumps(values, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            values.update(lon=float(position["lon"]), lat=float(position["lat"]), object_json=text)
            rows.append(values)
        self._insert("find_sheets", rows)

    def _batch_answer(
        self, device: str, who: str, when: datetime, uuid_: str, status: str, rev: int
    ) -> None:
        batch_id = str(uuid.uuid4())
        answer = {
            "batch_id": batch_id,
            "results": [{"uuid": uuid_, "status": status, "server_rev": rev}],
            "cursor": self.seq,
        }
        self.batches.append(
            {"batch_id": batch_id, "device_id": device, "user_id": self.user_ids[who],
             "response": canonical(answer), "received_at": when}
        )  # fmt: skip

    def _write_records(self, expedition_id: int) -> None:
        rows = []
        for stored in self.records.values():
            text = canonical(stored.data)
            row = {
                "uuid": stored.uuid, "type": stored.type, "expedition_id": expedition_id,
                "survey_uuid": stored.survey_uuid,
                "find_number": stored.data.get("find_number"),
                "server_rev": stored.server_rev, "data": text, "content_hash": text_hash(text),
                "seq": stored.seq, "status": stored.status,
                "register_number": stored.register_number, "merged_into": None,
                "flags": canonical(stored.flags), "open_conflicts": len(stored.conflicts),
                "created_at": stored.created_at,
                "updated_at": stored.updated_at or stored.created_at,
            }  # fmt: skip
            if "photo_sha256" in self.t["records"].c:
                row["photo_sha256"] = stored.data["sha256"] if stored.type == "photo" else None
            rows.append(row)
        self._insert("records", rows)
        self._insert("revisions", self.revision_rows)
        for row in self.conflict_rows:
            conflict_id = self.c.execute(
                insert(self.t["conflicts"]).values(row).returning(self.t["conflicts"].c.id)
            ).scalar_one()
            self.records[row["uuid"]].conflicts[0]["id"] = conflict_id
        self._insert("push_batches", self.batches)
        self.c.execute(update(self.t["change_counter"]).values(last_seq=self.seq))
        if at_least(self.revision, "0002"):
            self._photo_tables()

    def _photo_tables(self) -> None:
        sha = photo_sha256()
        b64 = base64.b64encode
        self._insert(
            "photo_uploads",
            {
                "id": uuid.uuid4().hex, "user_id": self.user_ids[RECORDER], "sha256": sha,
                "filename": "IMG_0101.JPG",
                "upload_metadata": f"sha256 {b64(sha.encode()).decode()},"
                f"filename {b64(b'IMG_0101.JPG').decode()}",
                "upload_length": len(photo_bytes()), "upload_offset": len(photo_bytes()),
                "state": "stored", "created_at": at(11), "updated_at": at(12),
            },
        )  # fmt: skip
        self._insert(
            "photo_blobs",
            {"sha256": sha, "bytes": len(photo_bytes()), "media_type": "image/jpeg",
             "width": 64, "height": 48, "stored_at": at(12),
             "stored_by": self.user_ids[RECORDER]},
        )  # fmt: skip

    def _review_tables(self, expedition_id: int) -> dict[tuple[str, str], int]:
        """find_traits, find_photos and the candidates as the review code kept them."""
        keys = derived()["grid_keys"]
        columns = self.t["find_traits"].c
        rows = []
        for stored in self.records.values():
            if stored.type != "find":
                continue
            data, position = stored.data, stored.data["position"]
            row: dict[str, Any] = {
                "uuid": stored.uuid, "expedition_id": expedition_id, "status": stored.status,
                "find_number": data["find_number"], "site_code": data.get("site_code"),
                "trench": data.get("trench"), "context": data.get("context"),
                "material": data["material"], "kind": data["kind"],
                "lon": float(position["lon"]), "lat": float(position["lat"]),
                "horizontal_accuracy_m": position.get("horizontal_accuracy_m"),
                "found_on": data["found_on"], "object_name": data["object_name"],
                "quantity": int(data["quantity"]), "weight_g": data.get("weight_g"),
                "length_mm": data.get("length_mm"), "width_mm": data.get("width_mm"),
                "height_mm": data.get("height_mm"), "recorded_by": data["recorded_by"],
                "recorded_at": data["recorded_at"],
            }  # fmt: skip
            filed = keys[stored.uuid]
            if "context_cell" in columns:  # 0005's keys: the day and the context
                row.update({k: v for k, v in filed.items() if k != "cell_0003"})
            else:
                row["cell"] = filed["cell_0003"]
            rows.append(row)
        self._insert("find_traits", rows)
        self._insert("find_photos", {"uuid": F_PHOTO, "sha256": photo_sha256()})
        ids = {}
        for candidate in derived()["candidates"]:
            a, b = candidate["find_uuids"]
            if at_least(self.revision, "0008") and _is_number_group(candidate):
                ids[(a, b)] = self._number_group(expedition_id, (a, b))
                continue
            ids[(a, b)] = self.c.execute(
                insert(self.t["duplicate_candidates"])
                .values(
                    expedition_id=expedition_id, find_a=a, find_b=b, score=candidate["score"],
                    rules=json.dumps(candidate["rules"]), distance_m=candidate["distance_m"],
                    state="open", created_at=at(20), updated_at=at(20),
                )
                .returning(self.t["duplicate_candidates"].c.id)
            ).scalar_one()  # fmt: skip
        return ids

    def _number_group(self, expedition_id: int, finds: tuple[str, str]) -> int:
        """A number typed twice as 0008's push stored it: one open group of the number,
        carrying the number rule alone and no distance, its finds as members."""
        number = self.records[finds[0]].data["find_number"]
        group_id = self.c.execute(
            insert(self.t["duplicate_candidates"])
            .values(
                expedition_id=expedition_id, find_a=None, find_b=None, find_number=number,
                score=SAME_FIND_NUMBER, rules=json.dumps(["same_find_number"]),
                distance_m=None, state="open", created_at=at(20), updated_at=at(20),
            )
            .returning(self.t["duplicate_candidates"].c.id)
        ).scalar_one()  # fmt: skip
        self._insert(
            "duplicate_members",
            [{"candidate_id": group_id, "find_uuid": u, "joined_at": at(20), "left_at": None}
             for u in sorted(finds)],
        )  # fmt: skip
        return int(group_id)

    def _register(self, expedition_id: int) -> None:
        """Act КП 1 of the approved find, and one amendment of its entry's storage."""
        find = self.records[F_APPROVED]
        registrar = self.user_ids[REGISTRAR]
        self.c.execute(
            update(self.t["register_funds"])
            .where(self.t["register_funds"].c.fund == "KP")
            .values(last_receipt=1)
        )
        self._insert(
            "register_acts",
            {"fund": "KP", "act_number": 1, "expedition_id": expedition_id, "created_at": at(90),
             "created_by": registrar, "received_by": ACT_RECEIVED_BY, "handed_over_by": LEADER,
             "storage_location": ACT_STORAGE, "item_count": 1},
        )  # fmt: skip
        site_name = next(
            s["name"] for e in samples.expeditions() if e["code"] == CODE
            for s in e["sites"] if s["code"] == find.data["site_code"]
        )  # fmt: skip
        values = {name: find.data.get(name) for name in FROZEN_FIND_FIELDS}
        values.update(
            site_name=site_name, depth_m=find.data["position"].get("depth_m"),
            storage_location=ACT_STORAGE, received_by=ACT_RECEIVED_BY, inventory_number=None,
        )  # fmt: skip
        entry_id = self.c.execute(
            insert(self.t["register_entries"])
            .values(
                fund="KP", act_number=1, item=1, register_number="КП 1/1", find_uuid=find.uuid,
                expedition_id=expedition_id,
                accessioned_values=json.dumps(values, ensure_ascii=False),
                storage_location=ACT_STORAGE, received_by=ACT_RECEIVED_BY, accessioned_at=at(90),
            )
            .returning(self.t["register_entries"].c.id)
        ).scalar_one()  # fmt: skip
        self._audit(at(90), REGISTRAR, "register.act", "act:КП 1",
                    {"fund": "KP", "act_number": 1, "expedition_code": CODE, "items": 1,
                     "first": "КП 1/1", "last": "КП 1/1", "received_by": ACT_RECEIVED_BY,
                     "storage_location": ACT_STORAGE})  # fmt: skip
        self._insert(
            "register_amendments",
            {"entry_id": entry_id, "field": "storage_location",
             "old_value": json.dumps(ACT_STORAGE, ensure_ascii=False),
             "new_value": json.dumps(AMENDED_STORAGE, ensure_ascii=False),
             "reason": AMENDMENT_REASON, "user_id": registrar, "at": at(120),
             "find_server_rev": None},
        )  # fmt: skip
        self._audit(at(120), REGISTRAR, "register.amend", "entry:КП 1/1",
                    {"field": "storage_location", "old": ACT_STORAGE, "new": AMENDED_STORAGE,
                     "find_server_rev": None}, AMENDMENT_REASON)  # fmt: skip

    def write(self) -> Written:
        token = self.people()
        expedition_id = self.expedition()
        candidate_ids = self.records_and_history(expedition_id)
        self._insert("audit_log", self.audit_rows)
        history: dict[str, list[dict[str, Any]]] = {}
        for row in self.revision_rows:
            history.setdefault(row["uuid"], []).append(row)
        return Written(
            revision=self.revision,
            token=token,
            records=self.records,
            revisions=history,
            audit=[(a["action"], a["subject"], a["detail"], a["reason"]) for a in self.audit_rows],
            last_seq=self.seq,
            candidate_ids=candidate_ids,
        )
