"""Settling a conflict keeps one-sided changes and settles the clashing fields as chosen."""

from __future__ import annotations

import pytest

from field_server.domain.conflict_resolution import Resolution, ResolutionRefused, settle

BASE = {"object_name": "sherd", "notes": None, "weight_g": 10.0}
DEVICE = {"object_name": "rim sherd", "notes": "bag 4", "weight_g": 10.0}
SERVER = {"object_name": "body sherd", "notes": None, "weight_g": 11.0}
CLASHING = ("object_name",)


@pytest.mark.parametrize(
    ("resolution", "chosen", "name"),
    [
        (Resolution.KEEP_SERVER, None, "body sherd"),
        (Resolution.KEEP_DEVICE, None, "rim sherd"),
        (Resolution.FIELDS, {"object_name": "rim sherd, glazed"}, "rim sherd, glazed"),
    ],
)
def test_each_resolution_keeps_what_only_one_side_changed(
    resolution: Resolution, chosen: dict[str, str] | None, name: str
) -> None:
    settled = settle(BASE, DEVICE, SERVER, CLASHING, resolution, chosen)
    assert settled == {"object_name": name, "notes": "bag 4", "weight_g": 11.0}


def test_chosen_values_must_cover_exactly_the_clashing_fields() -> None:
    with pytest.raises(ResolutionRefused, match="object_name"):
        settle(BASE, DEVICE, SERVER, CLASHING, Resolution.FIELDS, {})
    with pytest.raises(ResolutionRefused, match="notes"):
        settle(
            BASE, DEVICE, SERVER, CLASHING, Resolution.FIELDS, {"object_name": "x", "notes": "y"}
        )
    with pytest.raises(ResolutionRefused):
        settle(BASE, DEVICE, SERVER, CLASHING, Resolution.KEEP_SERVER, {"object_name": "x"})
