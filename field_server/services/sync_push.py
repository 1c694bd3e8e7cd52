"""Taking a pushed batch of field records: validate, merge, flag, store, answer (DESIGN §4)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from field_core.collect.find_from_submission import SubmissionContext, find_from_submission
from field_core.collect.submission import Submission, SubmissionError, parse_submission
from field_core.content_hash import canonical_json, content_hash, text_hash
from field_core.envelope import Envelope, parse_envelope
from field_core.geo.coordinates import Bounds, check_position, work_region
from field_core.validation import validate_record_data
from field_server.adapters.collect_repositories import (
    FILED,
    CollectSubmissions,
    SubmissionRow,
)
from field_server.adapters.repositories import ExpeditionRow, SiteRow, StoredRecord
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.duplicates import FindTraits, traits_of
from field_server.domain.merge import three_way_merge
from field_server.domain.site_boundary import SiteBoundary, site_boundary
from field_server.domain.spatial_checks import accuracy_threshold, spatial_flags
from field_server.services.auth import now_utc
from field_server.services.duplicates import Examination, candidate_flags, examine_finds
from field_server.services.errors import Forbidden, InvalidInput
from field_server.services.find_filing import FiledFind, file_finds
from field_server.services.submission_keeping import keep_submission

MAX_RECORDS = 1000
_UUID_TAKEN = "this uuid cannot be used for a new record; give the record a new uuid"


@dataclass
class Incoming:
    """One record of the batch as it moves through the checks."""

    index: int
    raw_uuid: str
    envelope: Envelope | None = None
    data: dict[str, Any] | None = None
    text: str = ""
    digest: str = ""
    problems: list[dict[str, str]] = field(default_factory=list)
    # the uuid names a record of an expedition the pusher cannot read: nothing of it is told
    hidden: bool = False
    result: dict[str, Any] | None = None
    submission: Submission | None = None  # a submission record's XML, read

    def reject(self, problems: list[dict[str, str]]) -> None:
        self.result = {
            "uuid": self.raw_uuid,
            "status": "rejected",
            "server_rev": 0,
            "problems": problems,
        }


@dataclass
class _Expedition:
    row: ExpeditionRow
    region: Bounds
    sites: dict[str, SiteBoundary]


def check_push_request(raw: Any) -> tuple[str, str, list[Any]]:
    """The request's frame; a bad frame rejects the whole request (no record is read)."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            "the push request is a JSON object", [{"field": "", "message": "object"}]
        )
    errors = [
        {"field": k, "message": "unknown field"}
        for k in sorted(set(raw) - {"device_id", "batch_id", "records"})
    ]
    for name in ("device_id", "batch_id"):
        value = raw.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            errors.append({"field": name, "message": "a string of 1 to 128 characters"})
    records = raw.get("records")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        errors.append({"field": "records", "message": f"an array of 1 to {MAX_RECORDS} records"})
    if errors:
        raise InvalidInput("the push request is not valid", errors)
    return raw["device_id"], raw["batch_id"], records


def apply_push(uow_factory: UnitOfWorkFactory, actor: Actor, raw: Any) -> str:
    """Apply one batch and return the answer as JSON text (stored for replays as it is)."""
    device_id, batch_id, raw_records = check_push_request(raw)
    with uow_factory() as uow:
        stored = uow.batches.get(batch_id)
    if stored is not None:
        return _replayed(stored, actor)

    # The CPU-heavy checks run before the write lock so concurrent pushes overlap here.
    batch = [prepare_record(i, raw_record) for i, raw_record in enumerate(raw_records)]

    with uow_factory(write=True) as uow:
        stored = uow.batches.get(batch_id)
        if stored is not None:
            return _replayed(stored, actor)
        now = now_utc()
        writer = BatchWriter(uow, actor, device_id, now)
        writer.apply(batch)
        cursor = writer.last_seq()
        results = [item.result for item in batch]
        answer = canonical_json({"batch_id": batch_id, "results": results, "cursor": cursor})
        uow.batches.add(batch_id, device_id, actor.user_id, answer, now)
        uow.devices.seen(device_id, actor.user_id, now)
        uow.commit()
    return answer


def _replayed(stored: Any, actor: Actor) -> str:
    if stored.user_id != actor.user_id and not actor.is_admin:
        raise Forbidden(
            "this batch_id was sent by another user; a device chooses a new one per batch"
        )
    return str(stored.response)


def prepare_record(index: int, raw: Any) -> Incoming:
    raw_uuid = raw.get("uuid") if isinstance(raw, dict) else None
    item = Incoming(index, raw_uuid if isinstance(raw_uuid, str) else "")
    envelope, problems = parse_envelope(raw)
    if envelope is None:
        item.reject(problems)
        return item
    data, problems = validate_record_data(envelope.type, envelope.data)
    if data is None:
        item.reject(problems)
        return item
    # ISO dates of four-digit years order as text
    if envelope.type == "survey" and data["ended_on"] and data["ended_on"] < data["started_on"]:
        item.reject([{"field": "data.ended_on", "message": "a survey cannot end before it starts"}])
        return item
    if envelope.type == "submission":
        item.submission = _read_submission(item, data)
        if item.submission is None:
            return item
    item.envelope = envelope
    item.data = data
    item.text = canonical_json(data)
    item.digest = text_hash(item.text)
    return item


def _read_submission(item: Incoming, data: dict[str, Any]) -> Submission | None:
    """A pushed submission's XML read as the phones' endpoint reads it (DESIGN §9), or None
    with the record rejected: a DOCTYPE, malformed XML, a foreign form or an instanceID other
    than the record's keeps nothing."""
    try:
        submission = parse_submission(data["xml"].encode("utf-8"))
    except SubmissionError as error:
        item.reject([{"field": "data.xml", "message": str(error)}])
        return None
    if not submission.is_find_form:
        item.reject(
            [{"field": "data.xml", "message": f"an instance of form {submission.form_id[:64]!r}, "
              "which Qazba never served"}]
        )  # fmt: skip
        return None
    if submission.instance_id != data["instance_id"]:
        item.reject(
            [{"field": "data.instance_id", "message": "the XML's meta/instanceID is "
              f"{submission.instance_id}"}]
        )  # fmt: skip
        return None
    return submission


class BatchWriter:
    """Decides each record's fate against the stored state and writes the outcome."""

    def __init__(self, uow: UnitOfWork, actor: Actor, device_id: str, now: datetime) -> None:
        self.uow = uow
        self.actor = actor
        self.device_id = device_id
        self.now = now
        self.current: dict[str, StoredRecord] = {}
        self.revision_texts: dict[tuple[str, int], str] = {}
        self.inserts: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.revisions: list[dict[str, Any]] = []
        self.conflicts: list[dict[str, Any]] = []
        self.site_distances: dict[int, float] = {}
        self._last_seq: int | None = None
        # finds whose data this batch changes: uuid -> (expedition id, new data, status)
        self.changed_finds: dict[str, tuple[int, dict[str, Any], str]] = {}
        self.changed_traits: dict[str, FindTraits] = {}  # what duplicate detection compares
        self.kept: dict[str, str] = {}  # a merged find's uuid -> the find it lives on in
        self.examinations: list[Examination] = []
        # submissions this batch keeps: (expedition id, instance id) -> the XML's SHA-256
        self.kept_instances: dict[tuple[int, str], str] = {}

    def last_seq(self) -> int:
        if self._last_seq is not None:
            return self._last_seq
        return self.uow.changes.committed_value()

    # -- loading ------------------------------------------------------------------------

    def apply(self, batch: list[Incoming]) -> None:
        live = [item for item in batch if item.envelope is not None]
        uuids = [item.envelope.uuid for item in live if item.envelope]
        self.current = self.uow.records.get_many(uuids)
        self.kept = self.uow.aliases.kept_of(
            u for u, record in self.current.items() if record.merged_into
        )
        self.current.update(self.uow.records.get_many(set(self.kept.values()) - set(self.current)))
        expeditions, survey_expeditions = self._load_expeditions(live)
        self._load_base_revisions(live)
        replays = self.uow.records.device_revisions(
            self.device_id,
            [i.envelope.uuid for i in live if i.envelope and i.envelope.uuid in self.current],
        )
        number_holders = self._number_holders(live, expeditions)
        self.site_distances = self._site_distances(live, expeditions)
        for item in live:
            assert item.envelope is not None and item.data is not None
            expedition = self._expedition_of(item, expeditions, survey_expeditions)
            if expedition is None:
                continue
            flags = self._flags(item, expedition, number_holders)
            if item.result is not None:
                continue
            if item.submission is not None and not self._one_instance(item, expedition.row.id):
                continue
            self._decide(item, expedition.row.id, flags, replays)
            if item.submission is not None:
                self._keep_submission(item, expedition)
            # only a survey the server accepted can hold the finds after it in the batch
            if item.envelope.type == "survey" and item.result["status"] != "rejected":
                survey_expeditions[item.envelope.uuid] = expedition.row.id
        for item in live:
            # a rejected edit of a stored record answers where the record stands, which is
            # the device's next base_rev; 0 would lose its place
            stored = self.current.get(item.envelope.uuid) if item.envelope else None
            rejected = item.result and item.result["status"] == "rejected"
            if rejected and stored is not None and not item.hidden:
                item.result["server_rev"] = stored.server_rev
        self._examine_duplicates(live)
        self._write()
        self._save_duplicates()

    def _examine_duplicates(self, live: list[Incoming]) -> None:
        """Compare the batch's new and changed finds with their neighbourhoods and flag the
        pushed ones that may be duplicates (the queue is written after the records)."""
        by_expedition: dict[int, list[Any]] = defaultdict(list)
        for uuid, (expedition_id, data, _) in self.changed_finds.items():
            self.changed_traits[uuid] = traits_of(uuid, data)
            by_expedition[expedition_id].append(self.changed_traits[uuid])
        items = {i.envelope.uuid: i for i in live if i.envelope and i.result}
        for expedition_id, finds in by_expedition.items():
            examination = examine_finds(self.uow, expedition_id, finds)
            self.examinations.append(examination)
            for find in finds:
                flags = candidate_flags(examination, find.uuid)
                item = items.get(find.uuid)
                if not flags or item is None or item.result is None:
                    continue
                item.result.setdefault("flags", []).extend(flags)
                stored = self.current[find.uuid]
                stored.flags = canonical_json(item.result["flags"])
                self._stage_row(find.uuid, {"flags": stored.flags})

    def _save_duplicates(self) -> None:
        for examination in self.examinations:
            examination.save(self.uow, self.now)

    def _load_expeditions(
        self, live: list[Incoming]
    ) -> tuple[dict[str, _Expedition], dict[str, int]]:
        """The expeditions the batch touches (by code) and the surveys it names (uuid → id)."""
        codes = {
            item.data["expedition_code"]
            for item in live
            if item.data and "expedition_code" in item.data
        }
        rows = self.uow.expeditions.by_codes(codes)
        # photos and tracks name their survey, not their expedition
        survey_ids = {
            item.data["survey_uuid"] for item in live if item.data and "survey_uuid" in item.data
        }
        known_surveys = self.uow.records.survey_expeditions(survey_ids)
        missing = set(known_surveys.values()) - {r.id for r in rows.values()}
        for row in self.uow.expeditions.by_ids(missing).values():
            rows[row.code] = row
        sites_by_expedition: dict[int, list[SiteRow]] = defaultdict(list)
        for site in self.uow.expeditions.sites_of(row.id for row in rows.values()):
            sites_by_expedition[site.expedition_id].append(site)
        loaded: dict[str, _Expedition] = {}
        for code, row in rows.items():
            sites = {
                s.code: site_boundary(s.code, s.boundary)
                for s in sites_by_expedition.get(row.id, [])
            }
            loaded[code] = _Expedition(row, expedition_region(list(sites.values())), sites)
        return loaded, known_surveys

    def _load_base_revisions(self, live: list[Incoming]) -> None:
        wanted = []
        for item in live:
            envelope = item.envelope
            assert envelope is not None
            stored = self.current.get(envelope.uuid)
            if stored is not None and 0 < envelope.base_rev < stored.server_rev:
                wanted.append((envelope.uuid, envelope.base_rev))
        self.revision_texts = self.uow.records.revision_data(wanted)

    def _number_holders(
        self, live: list[Incoming], expeditions: dict[str, _Expedition]
    ) -> dict[tuple[int, str], list[str]]:
        pairs = []
        for item in live:
            if item.envelope and item.envelope.type == "find" and item.data:
                expedition = expeditions.get(item.data["expedition_code"])
                if expedition is not None:
                    pairs.append((expedition.row.id, item.data["find_number"]))
        return self.uow.records.holders_of_find_numbers(pairs)

    def _site_distances(
        self, live: list[Incoming], expeditions: dict[str, _Expedition]
    ) -> dict[int, float]:
        """How far each find lies outside its site (0 inside), measured a site at a time."""
        groups: dict[tuple[str, str], list[Incoming]] = defaultdict(list)
        for item in live:
            data = item.data
            if item.envelope and item.envelope.type == "find" and data and data["site_code"]:
                expedition = expeditions.get(data["expedition_code"])
                if expedition is not None and data["site_code"] in expedition.sites:
                    groups[(data["expedition_code"], data["site_code"])].append(item)
        distances: dict[int, float] = {}
        for (code, site_code), items in groups.items():
            site = expeditions[code].sites[site_code]
            lons = [i.data["position"]["lon"] for i in items if i.data]
            lats = [i.data["position"]["lat"] for i in items if i.data]
            for item, distance in zip(items, site.distances_outside_m(lons, lats), strict=True):
                distances[item.index] = distance
        return distances

    # -- checks -------------------------------------------------------------------------

    def _expedition_of(
        self,
        item: Incoming,
        expeditions: dict[str, _Expedition],
        survey_expeditions: dict[str, int],
    ) -> _Expedition | None:
        assert item.envelope is not None and item.data is not None
        data = item.data
        by_id = {e.row.id: e for e in expeditions.values()}
        if "expedition_code" in data:
            expedition = expeditions.get(data["expedition_code"])
            if expedition is None:
                item.reject(
                    [
                        {
                            "field": "data.expedition_code",
                            "message": f"no expedition {data['expedition_code']!r} on this server",
                        }
                    ]
                )
                return None
        else:
            expedition_id = survey_expeditions.get(data["survey_uuid"])
            expedition = by_id.get(expedition_id) if expedition_id is not None else None
            if expedition is None:
                item.reject(
                    [
                        {
                            "field": "data.survey_uuid",
                            "message": "no such survey on the server; push the survey first",
                        }
                    ]
                )
                return None
        if not self.actor.may_record(expedition.row.id):
            item.reject(
                [
                    {
                        "field": "data.expedition_code"
                        if "expedition_code" in data
                        else "data.survey_uuid",
                        "message": f"{self.actor.username} does not record for "
                        f"{expedition.row.code}",
                    }
                ]
            )
            return None
        if item.envelope.type in ("find", "submission"):
            survey_expedition = survey_expeditions.get(data["survey_uuid"])
            if survey_expedition is None:
                item.reject(
                    [
                        {
                            "field": "data.survey_uuid",
                            "message": "no such survey on the server; push the survey first",
                        }
                    ]
                )
                return None
            if survey_expedition != expedition.row.id:
                # a survey of an expedition the pusher cannot read does not exist for them
                message = (
                    "the survey belongs to another expedition"
                    if self.actor.may_read(survey_expedition)
                    else "no such survey on the server; push the survey first"
                )
                item.reject([{"field": "data.survey_uuid", "message": message}])
                return None
        stored = self.current.get(item.envelope.uuid)
        if stored is not None and stored.expedition_id != expedition.row.id:
            if not self.actor.may_read(stored.expedition_id):
                # neither where it lives nor its revision: only that this uuid cannot be used
                item.reject([{"field": "uuid", "message": _UUID_TAKEN}])
                item.hidden = True
                return None
            where = "data.expedition_code" if "expedition_code" in data else "data.survey_uuid"
            item.reject([{"field": where, "message": "a record cannot move to another expedition"}])
            return None
        return expedition

    def _flags(
        self,
        item: Incoming,
        expedition: _Expedition,
        number_holders: dict[tuple[int, str], list[str]],
    ) -> list[dict[str, Any]]:
        assert item.envelope is not None and item.data is not None
        data = item.data
        position = data.get("position")
        if position is not None:
            problem = check_position(position["lon"], position["lat"], expedition.region)
            if problem is not None:
                item.reject([{"field": "data.position", "message": problem.message}])
                return []
        if item.envelope.type != "find":
            return []
        flags = spatial_flags(
            position,
            data.get("site_code"),
            set(expedition.sites),
            self.site_distances.get(item.index),
            expedition.row.code,
            accuracy_threshold(expedition.row.accuracy_threshold_m),
        )
        key = (expedition.row.id, data["find_number"])
        others = [u for u in number_holders.get(key, []) if u != item.envelope.uuid]
        if others:
            flags.append(
                {
                    "code": "duplicate_find_number",
                    "detail": f"find number {data['find_number']} is already used by {others[0]}",
                    "other_uuid": others[0],
                }
            )
        holders = number_holders.setdefault(key, [])
        if item.envelope.uuid not in holders:
            holders.append(item.envelope.uuid)
        return flags

    # -- deciding -----------------------------------------------------------------------

    def _decide(
        self,
        item: Incoming,
        expedition_id: int,
        flags: list[dict[str, Any]],
        replays: set[tuple[str, int, str]],
    ) -> None:
        envelope = item.envelope
        assert envelope is not None and item.data is not None
        stored = self.current.get(envelope.uuid)
        result: dict[str, Any] = {"uuid": envelope.uuid}
        if stored is None:
            if envelope.base_rev != 0:
                item.reject(
                    [
                        {
                            "field": "base_rev",
                            "message": f"the server has no revision {envelope.base_rev} "
                            "of this record",
                        }
                    ]
                )
                return
            self._create(item, expedition_id, flags)
            result.update(status="created", server_rev=1)
        elif stored.type != envelope.type:
            item.reject([{"field": "type", "message": f"this uuid is a {stored.type}"}])
            return
        elif envelope.uuid in self.kept:
            outcome = self._onto_kept(item, stored, self.current[self.kept[envelope.uuid]])
            if outcome is None:
                return
            result.update(status=outcome, server_rev=stored.server_rev)
            flags = [
                {
                    "code": "merged_into",
                    "detail": f"this find was merged into {self.kept[envelope.uuid]}; "
                    "edits to it are applied to that find",
                    "other_uuid": self.kept[envelope.uuid],
                }
            ]
        elif (
            stored.content_hash == item.digest
            or (envelope.uuid, envelope.rev, item.digest) in replays
        ):
            result.update(status="unchanged", server_rev=stored.server_rev)
            flags = json.loads(stored.flags)
        elif self._ahead(item, stored.server_rev):
            return
        elif envelope.base_rev == stored.server_rev:
            self._revise(item, stored, item.data, item.text, item.digest, flags)
            result.update(status="updated", server_rev=stored.server_rev)
        else:
            base = self._base_data(envelope.uuid, envelope.base_rev)
            outcome = self._merge_onto(item, base, stored, flags)
            status = "merged" if outcome == "revised" else outcome
            result.update(status=status, server_rev=stored.server_rev)
            if outcome != "revised":
                flags = json.loads(stored.flags)
        if flags:
            result["flags"] = flags
        replays.add((envelope.uuid, envelope.rev, item.digest))
        item.result = result

    def _one_instance(self, item: Incoming, expedition_id: int) -> bool:
        """Whether a pushed submission may be taken: one instanceID is one find (DESIGN §9).

        A phone that sends an instance again with different XML is answered 409 and nothing
        changes; the same instance relayed by the camp laptop with XML other than what the
        server keeps is refused the same way (rejected, ``instance_differs``), since either XML
        could be the phone's and only a person can tell which. A stored submission record never
        changes its instance or XML: a submission is kept as received.
        """
        assert item.envelope is not None and item.data is not None
        data = item.data
        sha256 = _xml_sha256(data["xml"])
        stored = self.current.get(item.envelope.uuid)
        if stored is not None and stored.type == "submission":
            before = json.loads(stored.data)
            if (before["instance_id"], before["xml"]) != (data["instance_id"], data["xml"]):
                item.reject(
                    [{"field": "data.xml", "message": "a submission is kept as received: its "
                      "instance and XML never change"}]
                )  # fmt: skip
                return False
        key = (expedition_id, data["instance_id"])
        kept = self.kept_instances.get(key)
        if kept is None:
            row = CollectSubmissions(self.uow.connection).by_instance(*key)
            kept = row.xml_sha256 if row is not None else None
        if kept is None or kept == sha256:
            return True
        item.reject(
            [{"field": "data.xml", "message": f"the server keeps instance {data['instance_id']} "
              "with different XML; one instanceID is one submission"}]
        )  # fmt: skip
        assert item.result is not None
        item.result["flags"] = [
            {
                "code": "instance_differs",
                "detail": "the same instanceID already reached the server with different XML",
                "other_uuid": None,
            }
        ]
        return False

    def _why_no_find(self, item: Incoming, working: _Expedition) -> list[dict[str, str]]:
        """What keeps a relayed submission from making a find, read from its XML as the
        server reads a phone's own, for the reviewer's listing."""
        assert item.data is not None and item.submission is not None
        received = datetime.fromisoformat(item.data["received_at"])
        context = SubmissionContext(
            expedition_code=working.row.code,
            survey_uuid=item.data["survey_uuid"],
            recorded_by=self.actor.username,
            received_at=received if received.tzinfo is not None else received.replace(tzinfo=UTC),
            next_find_number=lambda: "?",  # nothing is made here: no number is taken
            site_codes=tuple(working.sites) or None,
            region=working.region,
        )
        return list(find_from_submission(item.submission, context, {}).problems)

    def _keep_submission(self, item: Incoming, working: _Expedition) -> None:
        """Keep an accepted submission as received, beside its record, unless its instance is
        kept already (the phone reached the server first, or this is a replay): then no second
        row and no second find. The laptop pushes the find itself; the row names it."""
        assert item.envelope is not None and item.data is not None
        assert item.submission is not None
        if item.result is None or item.result["status"] in ("rejected", "conflict"):
            return
        data = item.data
        expedition = working.row
        expedition_id = expedition.id
        key = (expedition_id, data["instance_id"])
        rows = CollectSubmissions(self.uow.connection)
        row = rows.by_instance(*key)
        self.kept_instances[key] = _xml_sha256(data["xml"])
        find_uuid = data["find_uuid"]
        find = self.current.get(find_uuid) if find_uuid is not None else None
        find_rev = find.server_rev if find is not None and find.type == "find" else None
        if row is not None:
            self._link_find(rows, row, find_uuid, find_rev)
            return
        submission_id = keep_submission(
            rows,
            expedition_id=expedition_id,
            key_id=None,
            relayed_by_device=self.device_id,
            # the laptop's own keys are unknown to the server: the member who pushes records it
            recorded_by_user_id=self.actor.user_id,
            survey_uuid=data["survey_uuid"],
            submission=item.submission,
            xml_text=data["xml"],
            xml_sha256=self.kept_instances[key],
            received_at=datetime.fromisoformat(data["received_at"]),
            now=self.now,
            find_uuid=find_uuid,
            find_rev=find_rev,
            problems=[] if find_uuid is not None else self._why_no_find(item, working),
            # the laptop took the phone's photos and pushes them as photo records of the find,
            # so the server waits for no attachment of this submission
            attachments_named=[],
        )
        self.uow.audit.add(
            self.now,
            self.actor.user_id,
            "collect.submission",
            f"expedition:{expedition.code}",
            {"submission_id": submission_id, "instance_id": data["instance_id"],
             "find_uuid": find_uuid, "device_id": self.device_id},
        )  # fmt: skip

    def _link_find(
        self, rows: CollectSubmissions, row: SubmissionRow, find_uuid: str | None, rev: int | None
    ) -> None:
        """A kept submission the laptop could not make a find of, whose record now names
        the find it made since (a revision of the record), is filed with that find."""
        if row.find_uuid is not None or find_uuid is None:
            return
        rows.change(
            row.id,
            {"find_uuid": find_uuid, "find_rev": rev, "status": FILED, "updated_at": self.now},
        )

    def _onto_kept(self, item: Incoming, alias: StoredRecord, kept: StoredRecord) -> str | None:
        """An edit of a merged find, three-way merged onto the find it was merged into.

        The base is the merged find's own revision the device started from; what the device
        changed since lands on the kept find unless the kept find changed that field too (then
        it is a conflict on the kept find). The merged find itself never changes again, so
        the device keeps its own server_rev as the next base: an edit it sends again merges to
        the same result.
        """
        envelope = item.envelope
        assert envelope is not None and item.data is not None
        if self._ahead(item, alias.server_rev):
            return None
        if envelope.base_rev == alias.server_rev:
            base = json.loads(alias.data)
        else:
            base = self._base_data(envelope.uuid, envelope.base_rev)
        outcome = self._merge_onto(item, base, kept, json.loads(kept.flags), uuid=kept.uuid)
        return "updated" if outcome == "revised" else outcome

    def _ahead(self, item: Incoming, server_rev: int) -> bool:
        """Whether the edit starts from a revision the server has not written; if so, it is
        rejected."""
        envelope = item.envelope
        assert envelope is not None
        if envelope.base_rev <= server_rev:
            return False
        item.reject(
            [
                {
                    "field": "base_rev",
                    "message": f"the server is at revision {server_rev}, not {envelope.base_rev}",
                }
            ]
        )
        return True

    def _merge_onto(
        self,
        item: Incoming,
        base: dict[str, Any],
        target: StoredRecord,
        flags: list[dict[str, Any]],
        uuid: str | None = None,
    ) -> str:
        """The device's edit (made from ``base``) three-way merged onto ``target``:
        "conflict" (parked on the target), "unchanged", or "revised" (with ``flags``)."""
        assert item.data is not None
        theirs = json.loads(target.data)
        outcome = three_way_merge(base, item.data, theirs)
        if outcome.merged is None:
            self._park_conflict(item, target, outcome.conflicting_fields, uuid=uuid)
            return "conflict"
        if outcome.merged == theirs:
            return "unchanged"
        merged = outcome.merged
        self._revise(
            item, target, merged, canonical_json(merged), content_hash(merged), flags, uuid=uuid
        )
        return "revised"

    def _base_data(self, uuid: str, base_rev: int) -> dict[str, Any]:
        if base_rev == 0:
            return {}
        return json.loads(self.revision_texts[(uuid, base_rev)])

    def _create(self, item: Incoming, expedition_id: int, flags: list[dict[str, Any]]) -> None:
        envelope, data = item.envelope, item.data
        assert envelope is not None and data is not None
        seq = self.uow.changes.take()
        self._last_seq = seq
        row = {
            "uuid": envelope.uuid,
            "type": envelope.type,
            "expedition_id": expedition_id,
            "survey_uuid": envelope.uuid if envelope.type == "survey" else data["survey_uuid"],
            "find_number": data.get("find_number"),
            "photo_sha256": _photo_sha256(envelope.type, data),
            "server_rev": 1,
            "data": item.text,
            "content_hash": item.digest,
            "seq": seq,
            "status": "synced" if envelope.type == "find" else None,
            "register_number": None,
            "merged_into": None,
            "flags": canonical_json(flags),
            "open_conflicts": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.inserts[envelope.uuid] = row
        if envelope.type == "find":
            self.changed_finds[envelope.uuid] = (expedition_id, data, "synced")
        self.current[envelope.uuid] = StoredRecord(
            envelope.uuid,
            envelope.type,
            expedition_id,
            1,
            item.text,
            item.digest,
            row["status"],
            None,
            row["flags"],
            0,
        )
        self._add_revision(item, 1, item.text, item.digest)

    def _revise(
        self,
        item: Incoming,
        stored: StoredRecord,
        data: dict[str, Any],
        text: str,
        digest: str,
        flags: list[dict[str, Any]],
        uuid: str | None = None,
    ) -> None:
        envelope = item.envelope
        assert envelope is not None
        uuid = uuid or envelope.uuid
        stored.server_rev += 1
        stored.data, stored.content_hash, stored.flags = text, digest, canonical_json(flags)
        seq = self.uow.changes.take()
        self._last_seq = seq
        values = {
            "server_rev": stored.server_rev,
            "data": text,
            "content_hash": digest,
            "find_number": data.get("find_number"),
            "photo_sha256": _photo_sha256(stored.type, data),
            "flags": stored.flags,
            "seq": seq,
            "updated_at": self.now,
        }
        self._stage_row(uuid, values)
        self.revision_texts[(uuid, stored.server_rev)] = text
        self._add_revision(item, stored.server_rev, text, digest, uuid)
        if stored.type == "find":
            self.changed_finds[uuid] = (stored.expedition_id, data, stored.status or "synced")

    def _park_conflict(
        self,
        item: Incoming,
        stored: StoredRecord,
        fields: tuple[str, ...],
        uuid: str | None = None,
    ) -> None:
        envelope = item.envelope
        assert envelope is not None
        uuid = uuid or envelope.uuid
        stored.open_conflicts += 1
        seq = self.uow.changes.take()
        self._last_seq = seq
        self._stage_row(
            uuid,
            {"open_conflicts": stored.open_conflicts, "seq": seq, "updated_at": self.now},
        )
        self.conflicts.append(
            {
                "uuid": uuid,
                "server_rev": stored.server_rev,
                "base_rev": envelope.base_rev,
                "fields": canonical_json(list(fields)),
                "data": item.text,
                "content_hash": item.digest,
                "device_id": self.device_id,
                "device_rev": envelope.rev,
                "user_id": self.actor.user_id,
                "received_at": self.now,
            }
        )

    def _stage_row(self, uuid: str, values: dict[str, Any]) -> None:
        if uuid in self.inserts:
            self.inserts[uuid].update(values)
            return
        staged = self.updates.setdefault(uuid, {"key": uuid})
        staged.update(values)

    def _add_revision(
        self, item: Incoming, server_rev: int, text: str, digest: str, uuid: str | None = None
    ) -> None:
        envelope = item.envelope
        assert envelope is not None
        self.revisions.append(
            {
                "uuid": uuid or envelope.uuid,
                "server_rev": server_rev,
                "data": text,
                "content_hash": digest,
                "origin": "device",
                "device_id": self.device_id,
                "device_rev": envelope.rev,
                "base_rev": envelope.base_rev,
                "user_id": self.actor.user_id,
                "created_at": self.now,
            }
        )

    def _write(self) -> None:
        self.uow.records.insert_records(list(self.inserts.values()))
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in self.updates.values():
            by_shape[tuple(sorted(row))].append(row)
        for rows in by_shape.values():
            self.uow.records.update_records(rows)
        file_finds(
            self.uow,
            [
                FiledFind(self.changed_traits[uuid], expedition_id, status, data)
                for uuid, (expedition_id, data, status) in self.changed_finds.items()
            ],
        )
        self.uow.records.insert_revisions(self.revisions)
        self.uow.records.insert_conflicts(self.conflicts)


def _xml_sha256(xml: str) -> str:
    """The digest a kept submission's XML is compared by: of the bytes the phone sent."""
    return hashlib.sha256(xml.encode("utf-8")).hexdigest()


def _photo_sha256(record_type: str, data: dict[str, Any]) -> str | None:
    """The blob a photo record names, kept in its own indexed column for photo reads."""
    return data["sha256"] if record_type == "photo" else None


def expedition_region(sites: list[SiteBoundary]) -> Bounds:
    """Where an expedition works: its sites with a margin, or Kazakhstan before it has any."""
    return work_region(s.polygon.bounds for s in sites)
