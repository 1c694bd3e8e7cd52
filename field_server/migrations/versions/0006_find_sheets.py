"""find sheets: each find's exported attributes flat, filled from the stored finds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20
"""

import json

import sqlalchemy as sa
from alembic import op

from field_server.domain.export_layers import sheet_row

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 2000


def upgrade() -> None:
    text, real = sa.Text(), sa.Float()
    find_sheets = op.create_table(
        "find_sheets",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        *(
            sa.Column(name, kind, nullable=True)
            for name, kind in (
                ("find_number", text),
                ("survey_uuid", text),
                ("site_code", text),
                ("trench", text),
                ("context", text),
                ("kind", text),
                ("material", text),
                ("object_name", text),
                ("description", text),
                ("quantity", sa.BigInteger()),
                ("weight_g", real),
                ("length_mm", real),
                ("width_mm", real),
                ("height_mm", real),
                ("condition", text),
                ("elevation_m", real),
                ("depth_m", real),
                ("horizontal_accuracy_m", real),
                ("vertical_accuracy_m", real),
                ("method", text),
                ("found_on", text),
                ("recorded_at", text),
                ("recorded_by", text),
                ("photos", text),
                ("notes", text),
            )
        ),
        sa.Column("lon", real, nullable=False),
        sa.Column("lat", real, nullable=False),
        sa.Column("object_json", text, nullable=False),
        sa.ForeignKeyConstraint(
            ["uuid"], ["records.uuid"], name=op.f("fk_find_sheets_uuid_records")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_find_sheets")),
    )
    # every stored find gets its sheet, merged ones too (an export of merged finds lists them)
    # (a page at a time by change number, so memory stays flat however many finds are stored)
    bind = op.get_bind()
    page = sa.text(
        "SELECT seq, uuid, data FROM records WHERE type = 'find' AND seq > :after "
        "ORDER BY seq LIMIT :size"
    )
    after = 0
    while batch := bind.execute(page, {"after": after, "size": _BATCH}).all():
        op.bulk_insert(find_sheets, [sheet_row(uuid, json.loads(data)) for _, uuid, data in batch])
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("find_sheets")
