"""review: duplicate candidates, find aliases, and what duplicate detection compares of finds

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

import json

import sqlalchemy as sa
from alembic import op

from field_server.adapters.duplicate_repositories import traits_row
from field_server.domain.duplicates import traits_of

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, **kwargs: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), **kwargs
    )


def upgrade() -> None:
    find_traits = op.create_table(
        "find_traits",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("find_number", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("trench", sa.String(length=100), nullable=True),
        sa.Column("context", sa.String(length=100), nullable=True),
        sa.Column("material", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("horizontal_accuracy_m", sa.Float(), nullable=True),
        sa.Column("found_on", sa.String(length=10), nullable=False),
        sa.Column("object_name", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("weight_g", sa.Float(), nullable=True),
        sa.Column("length_mm", sa.Float(), nullable=True),
        sa.Column("width_mm", sa.Float(), nullable=True),
        sa.Column("height_mm", sa.Float(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.String(length=40), nullable=False),
        sa.Column("cell", sa.BigInteger(), nullable=False),
        _fk("find_traits", "uuid", "records.uuid"),
        _fk("find_traits", "expedition_id", "expeditions.id"),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_find_traits")),
    )
    op.create_index(
        op.f("ix_find_traits_expedition_id_cell"), "find_traits", ["expedition_id", "cell"]
    )
    find_photos = op.create_table(
        "find_photos",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        _fk("find_photos", "uuid", "records.uuid"),
        sa.PrimaryKeyConstraint("uuid", "sha256", name=op.f("pk_find_photos")),
    )
    op.create_index(op.f("ix_find_photos_sha256"), "find_photos", ["sha256"])
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        sa.Column("find_a", sa.String(length=36), nullable=False),
        sa.Column("find_b", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("kept_uuid", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("duplicate_candidates", "expedition_id", "expeditions.id"),
        _fk("duplicate_candidates", "find_a", "records.uuid"),
        _fk("duplicate_candidates", "find_b", "records.uuid"),
        _fk("duplicate_candidates", "decided_by", "users.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint("find_a", "find_b", name=op.f("uq_duplicate_candidates_find_a_find_b")),
    )
    op.create_index(
        op.f("ix_duplicate_candidates_expedition_id_state"),
        "duplicate_candidates",
        ["expedition_id", "state"],
    )
    op.create_index(op.f("ix_duplicate_candidates_find_b"), "duplicate_candidates", ["find_b"])
    op.create_table(
        "find_aliases",
        sa.Column("alias_uuid", sa.String(length=36), nullable=False),
        sa.Column("kept_uuid", sa.String(length=36), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("find_aliases", "alias_uuid", "records.uuid"),
        _fk("find_aliases", "kept_uuid", "records.uuid"),
        _fk("find_aliases", "candidate_id", "duplicate_candidates.id"),
        _fk("find_aliases", "created_by", "users.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("alias_uuid", name=op.f("pk_find_aliases")),
    )
    op.create_index(op.f("ix_find_aliases_kept_uuid"), "find_aliases", ["kept_uuid"])

    # finds pushed before this revision get their traits from their stored data
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT uuid, expedition_id, status, data FROM records WHERE type = 'find'")
    )
    traits, photos = [], []
    for row in rows:
        found = traits_of(row.uuid, json.loads(row.data))
        filed = traits_row(found, row.expedition_id, row.status or "synced")
        # later revisions add columns that traits_row fills; they fill them themselves
        traits.append({k: v for k, v in filed.items() if k in find_traits.c})
        photos.extend({"uuid": row.uuid, "sha256": sha} for sha in set(found.photos))
    if traits:
        op.bulk_insert(find_traits, traits)
    if photos:
        op.bulk_insert(find_photos, photos)


def downgrade() -> None:
    op.drop_index(op.f("ix_find_aliases_kept_uuid"), table_name="find_aliases")
    op.drop_table("find_aliases")
    op.drop_index(op.f("ix_duplicate_candidates_find_b"), table_name="duplicate_candidates")
    op.drop_index(
        op.f("ix_duplicate_candidates_expedition_id_state"), table_name="duplicate_candidates"
    )
    op.drop_table("duplicate_candidates")
    op.drop_index(op.f("ix_find_photos_sha256"), table_name="find_photos")
    op.drop_table("find_photos")
    op.drop_index(op.f("ix_find_traits_expedition_id_cell"), table_name="find_traits")
    op.drop_table("find_traits")
