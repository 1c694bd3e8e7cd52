"""What is filed beside a find's record whenever its data changes: the traits duplicate
detection compares, the photos it names, and the find sheet the exports read.

A push and a museum revision both change finds; both file them here, in the transaction that
writes the records, so the derived rows never lag behind the data they come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from field_server.adapters.duplicate_repositories import traits_row
from field_server.adapters.unit_of_work import UnitOfWork
from field_server.domain.duplicates import FindTraits
from field_server.domain.export_layers import sheet_row


@dataclass(frozen=True)
class FiledFind:
    """A find as it now stands: its traits (from ``traits_of``), expedition, status and data."""

    traits: FindTraits
    expedition_id: int
    status: str
    data: dict[str, Any]


def file_finds(uow: UnitOfWork, finds: Sequence[FiledFind]) -> None:
    """Write the derived rows of these finds (their records must be written already)."""
    uow.traits.save(
        [traits_row(f.traits, f.expedition_id, f.status) for f in finds],
        {f.traits.uuid: f.traits.photos for f in finds},
    )
    uow.sheets.save([sheet_row(f.traits.uuid, f.data) for f in finds])
