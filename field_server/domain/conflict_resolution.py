"""Settling a conflicting revision: which value each field keeps (DESIGN §4, §6).

A conflict holds a device's edit that clashed with the server's revision on some fields. Every
resolution keeps the changes only one side made (as the three-way merge would have); the
clashing fields take the server's value, the device's value, or values a person chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from field_server.domain.merge import Pick, pick


class Resolution(StrEnum):
    KEEP_SERVER = "keep_server"
    KEEP_DEVICE = "keep_device"
    FIELDS = "fields"


class ResolutionRefused(ValueError):
    """The chosen values do not settle the conflict; str() says why."""


def settle(
    base: Mapping[str, Any],
    device: Mapping[str, Any],
    server: Mapping[str, Any],
    clashing: tuple[str, ...],
    resolution: Resolution,
    chosen: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record after the conflict: one-sided changes kept, clashing fields settled."""
    chosen = dict(chosen or {})
    if resolution is Resolution.FIELDS:
        missing = sorted(set(clashing) - set(chosen))
        extra = sorted(set(chosen) - set(clashing))
        if missing:
            raise ResolutionRefused(
                f"choose a value for every clashing field: {', '.join(missing)}"
            )
        if extra:
            raise ResolutionRefused(f"not a clashing field of this conflict: {', '.join(extra)}")
    elif chosen:
        raise ResolutionRefused("fields are chosen only with the resolution 'fields'")
    settled: dict[str, Any] = {}
    for name in sorted(set(base) | set(device) | set(server)):
        b, d, s = base.get(name), device.get(name), server.get(name)
        if name in clashing:
            if resolution is Resolution.KEEP_DEVICE:
                settled[name] = d
            elif resolution is Resolution.FIELDS:
                settled[name] = chosen[name]
            else:
                settled[name] = s
        elif pick(b, d, s) is Pick.MINE:
            settled[name] = d
        else:
            settled[name] = s
    return settled
