"""Units of work on both databases: writers of one process take turns on SQLite, and a turn is
given back however a unit ends."""

from __future__ import annotations

import threading
import time

import pytest

from field_server.adapters.database import is_sqlite, make_engine, writer_queue
from field_server.adapters.unit_of_work import UnitOfWorkFactory


def test_only_sqlite_writers_queue_in_the_process(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert (writer_queue(engine) is not None) == is_sqlite(engine)
    finally:
        engine.dispose()


def test_a_second_writer_waits_for_the_first_and_goes_on_when_it_ends(database_url: str) -> None:
    engine = make_engine(database_url)
    uow = UnitOfWorkFactory(engine)
    entered = threading.Event()
    try:
        with uow(write=True, sequenced=True):

            def second() -> None:
                with uow(write=True, sequenced=True):
                    entered.set()

            waiting = threading.Thread(target=second)
            waiting.start()
            time.sleep(0.3)
            # both writers lock the change sequence, on SQLite also the whole database
            assert not entered.is_set()
        assert entered.wait(10)
        waiting.join(10)
    finally:
        engine.dispose()


def test_a_writer_that_fails_gives_its_turn_back(database_url: str) -> None:
    engine = make_engine(database_url)
    uow = UnitOfWorkFactory(engine)
    try:
        with pytest.raises(RuntimeError), uow(write=True, sequenced=False):
            raise RuntimeError("a service refused the change")
        done = threading.Event()

        def another() -> None:
            with uow(write=True, sequenced=False):
                done.set()

        thread = threading.Thread(target=another)
        thread.start()
        assert done.wait(10)
        thread.join(10)
    finally:
        engine.dispose()
