"""Equal content hashes equal, whatever the key order; Kazakh text survives as itself."""

from __future__ import annotations

import json

import pytest

from field_core.content_hash import canonical_json, content_hash

KAZAKH = "Қола дәуірінің мыс балқытатын пеші: ӘҒҚҢӨҰҮҺІ әғқңөұүһі"
RUSSIAN = "Фрагмент медного шлака, ёмкость «тигель»"


def test_key_order_does_not_change_the_hash() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})


def test_a_changed_value_changes_the_hash() -> None:
    assert content_hash({"a": 1}) != content_hash({"a": 2})
    assert content_hash({"a": None}) != content_hash({})


@pytest.mark.parametrize("text", [KAZAKH, RUSSIAN, "Helen Marsh", "emoji 🏺 and 漢字"])
def test_text_round_trips_unescaped(text: str) -> None:
    encoded = canonical_json({"object_name": text})
    assert text in encoded
    assert json.loads(encoded) == {"object_name": text}


def test_kazakh_letters_keep_their_code_points_through_utf8() -> None:
    raw = canonical_json({"t": KAZAKH}).encode("utf-8")
    assert json.loads(raw.decode("utf-8"))["t"] == KAZAKH
    assert "\\u" not in raw.decode("utf-8")


def test_nan_cannot_be_hashed() -> None:
    with pytest.raises(ValueError):
        content_hash({"weight_g": float("nan")})
