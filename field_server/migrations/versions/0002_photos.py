"""photos: tus uploads, stored blobs, and which photo record names which blob

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("photo_sha256", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_records_photo_sha256"), "records", ["photo_sha256"], unique=False)

    # photo records pushed before this revision name their blob only inside their data
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE records SET photo_sha256 = (data::json ->> 'sha256') WHERE type = 'photo'"
        )
    else:
        op.execute(
            "UPDATE records SET photo_sha256 = json_extract(data, '$.sha256') WHERE type = 'photo'"
        )

    op.create_table(
        "photo_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("upload_metadata", sa.Text(), nullable=True),
        sa.Column("upload_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_photo_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo_uploads")),
    )
    with op.batch_alter_table("photo_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_photo_uploads_sha256_user_id"), ["sha256", "user_id"], unique=False
        )

    op.create_table(
        "photo_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["stored_by"],
            ["users.id"],
            name=op.f("fk_photo_blobs_stored_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_photo_blobs")),
    )


def downgrade() -> None:
    op.drop_table("photo_blobs")
    with op.batch_alter_table("photo_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photo_uploads_sha256_user_id"))
    op.drop_table("photo_uploads")
    op.drop_index(op.f("ix_records_photo_sha256"), table_name="records")
    # SQLite (3.35+) drops a plain column in place; rebuilding the records table instead
    # would trip over the revisions that refer to it
    op.execute("ALTER TABLE records DROP COLUMN photo_sha256")
