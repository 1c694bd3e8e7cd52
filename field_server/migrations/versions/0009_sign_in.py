"""signing in: refused attempts for throttling, and review UI sessions kept on the server;
indexes for the storage quotas (a person's finished uploads, the blobs each person stored first)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=150), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_sign_in_failures_account_kind_at"), "sign_in_failures", ["account", "kind", "at"]
    )
    op.create_index(
        op.f("ix_sign_in_failures_address_kind_at"), "sign_in_failures", ["address", "kind", "at"]
    )
    op.create_index(op.f("ix_sign_in_failures_at"), "sign_in_failures", ["at"])
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", moment, nullable=False),
        sa.Column("last_seen_at", moment, nullable=False),
        sa.Column("ended_at", moment, nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_review_sessions_token_hash")),
    )
    op.create_index(op.f("ix_review_sessions_user_id"), "review_sessions", ["user_id"])
    # a new upload sums what its sender and their expeditions' members sent: by person
    op.create_index(op.f("ix_photo_uploads_user_id_state"), "photo_uploads", ["user_id", "state"])
    op.create_index(op.f("ix_photo_blobs_stored_by"), "photo_blobs", ["stored_by"])


def downgrade() -> None:
    op.drop_index(op.f("ix_photo_blobs_stored_by"), table_name="photo_blobs")
    op.drop_index(op.f("ix_photo_uploads_user_id_state"), table_name="photo_uploads")
    op.drop_index(op.f("ix_review_sessions_user_id"), table_name="review_sessions")
    op.drop_table("review_sessions")
    op.drop_index(op.f("ix_sign_in_failures_at"), table_name="sign_in_failures")
    op.drop_index(op.f("ix_sign_in_failures_address_kind_at"), table_name="sign_in_failures")
    op.drop_index(op.f("ix_sign_in_failures_account_kind_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
