"""find traits: grid keys with the day and the context, and the numbers detection compares

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

import math
import zlib

import sqlalchemy as sa
from alembic import op

from field_server.domain.find_grid import filed_keys, place_of

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NEW = (
    ("context_cell", sa.BigInteger()),
    ("group_code", sa.BigInteger()),
    ("context_code", sa.BigInteger()),
    ("day", sa.Integer()),
)
_PLACE = "site_code, material, kind, trench, context, found_on, horizontal_accuracy_m, lon, lat"


def upgrade() -> None:
    with op.batch_alter_table("find_traits") as batch:
        for name, kind in _NEW:
            batch.add_column(sa.Column(name, kind, nullable=True))
    # every stored find is filed again: the area key now holds the day too
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT uuid, {_PLACE} FROM find_traits")).all()
    keys = []
    for uuid, *values in rows:
        place = place_of(*values)
        cell, context_cell = filed_keys(place)
        keys.append(
            {
                "key_uuid": uuid,
                "new_cell": cell,
                "new_context_cell": context_cell,
                "new_group_code": place.group,
                "new_context_code": place.context,
                "new_day": place.day,
            }
        )
    if keys:
        bind.execute(
            sa.text(
                "UPDATE find_traits SET cell = :new_cell, context_cell = :new_context_cell, "
                "group_code = :new_group_code, context_code = :new_context_code, day = :new_day "
                "WHERE uuid = :key_uuid"
            ),
            keys,
        )
    with op.batch_alter_table("find_traits") as batch:
        for name, kind in _NEW:
            batch.alter_column(name, existing_type=kind, nullable=False)
    op.create_index(
        op.f("ix_find_traits_expedition_id_context_cell"),
        "find_traits",
        ["expedition_id", "context_cell"],
    )


def _revision_0003_cell(
    site_code: str | None, material: str, kind: str, accuracy: float | None, lon: float, lat: float
) -> int:
    """The key revision 0003 filed a find under: its (site, material, kind) and its band's
    cell, with no day and no context (written out here, as the grid no longer computes it)."""
    metres = math.radians(1.0) * 6_371_008.8
    reach = max(0.5, math.sqrt(2.0) * (accuracy or 0.0))
    band = next((b for b in range(8) if reach <= 0.5 * 4.0**b), 7)
    size = max(2.0, 0.5 * 4.0**band)
    row = math.floor(lat * metres / size)
    latitude = (row + 0.5) * size / metres
    scale = metres * max(math.cos(math.radians(latitude)), 1e-6)
    column = math.floor(lon * scale / size)
    value = zlib.crc32(f"{site_code or ''}\x1f{material}\x1f{kind}".encode())
    for part in (band, row, column):
        value = (value * 1_000_003 + part) % ((1 << 61) - 1)
    return value


def downgrade() -> None:
    op.drop_index(op.f("ix_find_traits_expedition_id_context_cell"), table_name="find_traits")
    with op.batch_alter_table("find_traits") as batch:
        for name, _ in _NEW:
            batch.drop_column(name)
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT uuid, site_code, material, kind, horizontal_accuracy_m, lon, lat "
            "FROM find_traits"
        )
    ).all()
    keys = [{"key_uuid": uuid, "old_cell": _revision_0003_cell(*place)} for uuid, *place in rows]
    if keys:
        bind.execute(
            sa.text("UPDATE find_traits SET cell = :old_cell WHERE uuid = :key_uuid"), keys
        )
