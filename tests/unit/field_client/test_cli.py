"""The command line in process: help everywhere, one-line reasons, offline recording."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click
import pytest

from field_client.cli import cli
from tests.unit.field_client.conftest import run


def ok_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def failure(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = run(capsys, *args)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("field-client: "), err
    return code, err


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p) or "field-client")
def test_every_command_has_help(
    path: tuple[str, ...], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0 and "Usage: field-client" in out


FIND = (
    "--material", "керамика", "--object-name", "Қыш ыдыс сынығы", "--lon", "67.8446",
    "--lat", "48.1932", "--recorded-by", "s.kim", "--description", "Орнаментированный венчик",
)  # fmt: skip


def _survey(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return dict(
        ok_json(capsys, "survey", "start", "--expedition", "ULY-2026", "--title", "Далалық маусым")
    )


def test_a_find_recorded_offline_round_trips_its_text(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = _survey(capsys)
    added = ok_json(capsys, "find", "add", *FIND, "--find-number", "Қ-1")
    assert (added["material"], added["survey_uuid"]) == ("ceramic", survey["uuid"])
    assert added["sync"]["status"] == "pending" and added["recorded_at"][19] in "+-Z"
    shown = ok_json(capsys, "find", "show", added["uuid"][:6])
    assert shown["object_name"] == "Қыш ыдыс сынығы"
    assert shown["description"] == "Орнаментированный венчик"
    assert [f["find_number"] for f in ok_json(capsys, "find", "list")] == ["Қ-1"]
    assert (home / "field-client.sqlite3").stat().st_mode & 0o077 == 0


def test_an_edit_is_a_new_local_revision_and_a_no_op_is_not(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _survey(capsys)
    added = ok_json(capsys, "find", "add", *FIND, "--find-number", "1", "--depth", "0.4")
    edited = ok_json(capsys, "find", "edit", added["uuid"], "--quantity", "3", "--clear", "depth")
    assert (edited["quantity"], edited["position"]["depth_m"], edited["sync"]["rev"]) == (
        3,
        None,
        2,
    )
    again = ok_json(capsys, "find", "edit", added["uuid"], "--quantity", "3")
    assert again["sync"]["rev"] == 2


def test_bad_input_gets_one_line_and_saves_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _survey(capsys)
    assert (
        "unknown material 'glas'" in failure(capsys, "find", "add", *FIND, "--material", "glas")[1]
    )
    code, reason = failure(
        capsys, "find", "add", "--material", "stone", "--find-number", "2", "--recorded-by", "x"
    )
    assert code == 1 and "--object-name" in reason and "--lon" in reason
    assert "not a number" in failure(capsys, "find", "add", *FIND, "--lat", "48,19")[1]
    assert "--found-on" in failure(capsys, "find", "add", *FIND, "--found-on", "2026-02-30")[1]
    assert failure(capsys, "find", "add", "--no-such-option")[0] == 2
    assert "no find" in failure(capsys, "find", "show", "abcdef12")[1]
    assert ok_json(capsys, "find", "list") == []


def test_without_a_reserved_number_a_find_needs_one_typed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _survey(capsys)
    assert "no reserved find numbers left" in failure(capsys, "find", "add", *FIND)[1]
    ok_json(capsys, "find", "add", *FIND, "--find-number", "7")
    assert "already used" in failure(capsys, "find", "add", *FIND, "--find-number", "7")[1]


def test_closing_the_open_survey_ends_it_and_finds_then_need_a_survey(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = _survey(capsys)
    closed = ok_json(capsys, "survey", "close")
    assert (closed["uuid"], closed["ended_on"]) == (survey["uuid"], date.today().isoformat())
    assert "no open survey" in failure(capsys, "find", "add", *FIND, "--find-number", "1")[1]
    added = ok_json(capsys, "find", "add", *FIND, "--find-number", "1", "--survey", survey["uuid"])
    assert added["survey_uuid"] == survey["uuid"]
    listed = ok_json(capsys, "survey", "list")
    assert [(s["open"], s["finds"]) for s in listed] == [(False, 1)]


def test_the_network_commands_say_to_log_in_first(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("sync", "pull"):
        assert "not logged in" in failure(capsys, command)[1]


def test_a_token_file_others_may_read_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _survey(capsys)
    token = home / "token"
    token.write_text("secret")
    token.chmod(0o644)
    assert "may be read by others" in failure(capsys, "sync")[1]


def test_status_lists_what_waits(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _survey(capsys)
    ok_json(capsys, "find", "add", *FIND, "--find-number", "1")
    status = ok_json(capsys, "status")
    assert status["pending"] == {"find": 1, "survey": 1}
    assert status["rejected"] == [] and status["conflicts"] == []
    code, out, _ = run(capsys, "status")
    assert code == 0 and "waiting to be sent: 1 find, 1 survey" in out
