"""The sync engine: finish unanswered batches, push the outbox, pull, reserve find numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from field_client import batches, number_blocks, outbox, pull, push, reference
from field_client.account import Account
from field_client.errors import ClientError
from field_client.photo_sync import PhotoSyncReport, sync_photos
from field_client.store import Store, get_setting, now_utc, set_setting
from field_client.transport import ServerRefused, Transport
from field_client.tus import CHUNK_BYTES, TusClient

PULL_PAGE = 1000
CURSOR = "cursor"
LAST_SYNC = "last_sync_at"


class Observer(Protocol):
    """What a progress display is told; the engine itself prints nothing."""

    def records_to_push(self, total: int) -> None: ...

    def records_answered(self, count: int) -> None: ...

    def changes_pulled(self, count: int) -> None: ...

    def photo_bytes_to_send(self, total: int) -> None: ...

    def bytes_sent(self, count: int) -> None: ...


class _Silent:
    def records_to_push(self, total: int) -> None:
        pass

    def records_answered(self, count: int) -> None:
        pass

    def changes_pulled(self, count: int) -> None:
        pass

    def photo_bytes_to_send(self, total: int) -> None:
        pass

    def bytes_sent(self, count: int) -> None:
        pass


@dataclass
class SyncReport:
    pushed: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    pulled: Counter[str] = field(default_factory=Counter)
    numbers_reserved: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    photos: PhotoSyncReport = field(default_factory=PhotoSyncReport)

    @property
    def records_pushed(self) -> int:
        return sum(self.pushed.values())

    @property
    def changes_pulled(self) -> int:
        return sum(self.pulled.values())


class SyncEngine:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        account: Account,
        observer: Observer | None = None,
        batch_size: int = batches.MAX_BATCH,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if not 1 <= batch_size <= batches.MAX_BATCH:
            raise ClientError(f"a batch holds 1 to {batches.MAX_BATCH} records")
        self.store = store
        self.transport = transport
        self.account = account
        self.observer: Observer = observer or _Silent()
        self.batch_size = batch_size
        self.chunk_bytes = chunk_bytes
        self.report = SyncReport()

    # -- the whole job ---------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Everything a sync does; safe to kill at any moment and run again."""
        attempted: set[tuple[str, int]] = set()
        self._announce_push()
        self.finish_unanswered()
        self.push_outbox(attempted)
        self.upload_photos()
        self.pull_changes()
        # The pull may have merged server changes into local edits, or released edits that
        # waited for it: those go now rather than at the next sync.
        if self._ready(attempted):
            self._announce_push()
            self.push_outbox(attempted)
            self.pull_changes()
        self.refresh_reference()
        self.top_up_numbers()
        with self.store.transaction() as connection:
            set_setting(connection, LAST_SYNC, now_utc())
        return self.report

    def pull(self) -> SyncReport:
        """What ``field-client pull`` does: reference, changes, find numbers.

        Batches still waiting for an answer are finished first, so that a pulled revision of
        a record is never mistaken for someone else's change to it.
        """
        self.finish_unanswered()
        self.refresh_reference()
        self.pull_changes()
        self.top_up_numbers()
        return self.report

    # -- pushing ---------------------------------------------------------------------

    def _announce_push(self) -> None:
        with self.store.reading() as connection:
            _, in_flight = batches.unanswered_count(connection)
            ready = len(outbox.ready_to_send(connection, 10**9))
        self.observer.records_to_push(in_flight + ready)

    def _ready(self, attempted: set[tuple[str, int]]) -> bool:
        with self.store.reading() as connection:
            return bool(outbox.ready_to_send(connection, 1, exclude=attempted))

    def finish_unanswered(self) -> None:
        """Resend every batch whose answer was never applied, with its own batch_id."""
        with self.store.reading() as connection:
            waiting = batches.unanswered(connection)
        for batch in waiting:
            self._send(batch)

    def push_outbox(self, attempted: set[tuple[str, int]]) -> None:
        """Send what is ready in batches; ``attempted`` collects the versions sent, so that
        none goes twice in one sync."""
        self._push_rounds(attempted, retry_rejected=False)
        if self._accepted_count():
            # Something reached the server (a survey, say): records it refused earlier may
            # pass now, so they get one more try. Unchanged rejected records are not resent
            # by a sync that changed nothing, or every sync would resend them.
            self._push_rounds(attempted, retry_rejected=True)

    def _accepted_count(self) -> int:
        return sum(self.report.pushed[status] for status in push.ACCEPTED)

    def _push_rounds(self, attempted: set[tuple[str, int]], retry_rejected: bool) -> None:
        while True:
            with self.store.transaction() as connection:
                chosen = outbox.ready_to_send(
                    connection, self.batch_size, exclude=attempted, retry_rejected=retry_rejected
                )
                if not chosen:
                    return
                batch = batches.write_batch(
                    connection, self.account.device_id, [uuid for uuid, _ in chosen]
                )
            attempted.update(chosen)
            if retry_rejected:
                self.observer.records_to_push(len(chosen))
            self._send(batch)

    def _send(self, batch: batches.Batch) -> None:
        try:
            answer = self.transport.post("/api/v1/sync/push", raw_body=batch.body)
        except ServerRefused as error:
            if 400 <= error.status < 500 and error.status not in (401, 408, 429):
                # Refused whole, so nothing of it was written: its records stay in the outbox
                # and go again in a new batch once the cause is fixed.
                with self.store.transaction() as connection:
                    batches.close(connection, batch.batch_id)
            raise
        with self.store.transaction() as connection:
            counts = push.apply_answer(connection, batch, answer)
        self.report.pushed.update(counts)
        self.report.batches += 1
        self.observer.records_answered(len(batch.items))

    # -- photo files ------------------------------------------------------------------

    def upload_photos(self) -> None:
        """Upload every photo file the server lacks; the photo folder sits beside the store."""
        tus = TusClient(self.transport, chunk_bytes=self.chunk_bytes)
        try:
            self.report.photos = sync_photos(
                self.store, self.transport, self.store.path.parent, tus, self.observer
            )
        finally:
            tus.close()

    # -- pulling ---------------------------------------------------------------------

    def pull_changes(self) -> None:
        with self.store.reading() as connection:
            cursor = int(get_setting(connection, CURSOR) or 0)
        while True:
            page = self.transport.get("/api/v1/sync/pull", {"since": cursor, "limit": PULL_PAGE})
            changes, next_cursor, more = pull.check_page(page)
            if more and next_cursor <= cursor:
                raise ClientError("the server's pull cursor did not move; stopping the pull")
            with self.store.transaction() as connection:
                self.report.pulled.update(pull.apply_page(connection, changes))
                set_setting(connection, CURSOR, str(next_cursor))
            self.observer.changes_pulled(len(changes))
            cursor = next_cursor
            if not more:
                return

    # -- reference and find numbers --------------------------------------------------

    def refresh_reference(self) -> None:
        answer = self.transport.get("/api/v1/reference")
        with self.store.transaction() as connection:
            reference.store_reference(connection, answer)

    def top_up_numbers(self) -> None:
        """Reserve a block for every expedition the user records for that is running low."""
        with self.store.reading() as connection:
            low = [
                e.code
                for e in reference.expeditions(connection)
                if e.member
                and number_blocks.remaining(connection, e.code) < number_blocks.LOW_WATER
            ]
        for code in low:
            try:
                answer = self.transport.post(
                    f"/api/v1/expeditions/{code}/number-blocks",
                    {"device_id": self.account.device_id, "count": number_blocks.BLOCK_SIZE},
                )
            except ServerRefused as error:
                if error.status in (401, 429) or error.status >= 500:
                    raise
                self.report.warnings.append(f"no find numbers reserved for {code}: {error}")
                continue
            block = number_blocks.parse_block(answer, code)
            with self.store.transaction() as connection:
                added = number_blocks.add_block(connection, block)
            self.report.numbers_reserved[code] = added
