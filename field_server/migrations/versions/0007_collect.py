"""phones with ODK Collect: their keys and every submission as received

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "collect_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("survey_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("revoked_at", moment, nullable=True),
        sa.Column("last_used_at", moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["expedition_id"],
            ["expeditions.id"],
            name=op.f("fk_collect_keys_expedition_id_expeditions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_collect_keys_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_collect_keys_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collect_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_collect_keys_key_hash")),
    )
    op.create_index(
        op.f("ix_collect_keys_expedition_id"), "collect_keys", ["expedition_id"], unique=False
    )
    op.create_table(
        "collect_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        # a phone's key, or for a submission the camp laptop relayed, the laptop's device:
        # the laptop issues its phones' keys itself, so the server knows none of them
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("relayed_by_device", sa.String(length=128), nullable=True),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("survey_uuid", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("deprecated_id", sa.String(length=36), nullable=True),
        sa.Column("form_version", sa.String(length=64), nullable=True),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("xml_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("find_uuid", sa.String(length=36), nullable=True),
        sa.Column("find_rev", sa.Integer(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("attachments_named", sa.Text(), nullable=False),
        sa.Column("attachments_received", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["expedition_id"],
            ["expeditions.id"],
            name=op.f("fk_collect_submissions_expedition_id_expeditions"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["collect_keys.id"], name=op.f("fk_collect_submissions_key_id_collect_keys")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["users.id"],
            name=op.f("fk_collect_submissions_recorded_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "(key_id IS NULL) <> (relayed_by_device IS NULL)",
            name=op.f("ck_collect_submissions_one_sender"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collect_submissions")),
        sa.UniqueConstraint(
            "expedition_id",
            "instance_id",
            name=op.f("uq_collect_submissions_expedition_id_instance_id"),
        ),
    )
    op.create_index(
        op.f("ix_collect_submissions_expedition_id_status_id"),
        "collect_submissions",
        ["expedition_id", "status", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_collect_submissions_expedition_id_status_id"), table_name="collect_submissions"
    )
    op.drop_table("collect_submissions")
    op.drop_index(op.f("ix_collect_keys_expedition_id"), table_name="collect_keys")
    op.drop_table("collect_keys")
