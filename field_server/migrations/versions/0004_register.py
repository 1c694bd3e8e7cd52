"""register: the funds' receipt counters, acceptance acts, entries and their amendments

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PERMANENT = ("register_acts", "register_entries", "register_amendments")
REFUSAL = "the register is permanent: acts, entries and amendments are never changed or deleted"


def upgrade() -> None:
    op.create_table(
        "register_funds",
        sa.Column("fund", sa.String(length=8), nullable=False),
        sa.Column("last_receipt", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("fund", name=op.f("pk_register_funds")),
    )
    # both books start empty: the first act of each fund takes receipt number 1
    op.bulk_insert(
        sa.table("register_funds", sa.column("fund"), sa.column("last_receipt")),
        [{"fund": "KP", "last_receipt": 0}, {"fund": "NVF", "last_receipt": 0}],
    )
    op.create_table(
        "register_acts",
        sa.Column("fund", sa.String(length=8), nullable=False),
        sa.Column("act_number", sa.Integer(), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=True),
        sa.Column("handed_over_by", sa.String(length=500), nullable=True),
        sa.Column("storage_location", sa.String(length=500), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_register_acts_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["expedition_id"],
            ["expeditions.id"],
            name=op.f("fk_register_acts_expedition_id_expeditions"),
        ),
        sa.ForeignKeyConstraint(
            ["fund"], ["register_funds.fund"], name=op.f("fk_register_acts_fund_register_funds")
        ),
        sa.PrimaryKeyConstraint("fund", "act_number", name=op.f("pk_register_acts")),
    )
    op.create_table(
        "register_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund", sa.String(length=8), nullable=False),
        sa.Column("act_number", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("register_number", sa.String(length=64), nullable=False),
        sa.Column("find_uuid", sa.String(length=36), nullable=False),
        sa.Column("expedition_id", sa.Integer(), nullable=False),
        sa.Column("accessioned_values", sa.Text(), nullable=False),
        sa.Column("storage_location", sa.String(length=500), nullable=True),
        sa.Column("received_by", sa.String(length=200), nullable=True),
        sa.Column("accessioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expedition_id"],
            ["expeditions.id"],
            name=op.f("fk_register_entries_expedition_id_expeditions"),
        ),
        sa.ForeignKeyConstraint(
            ["find_uuid"], ["records.uuid"], name=op.f("fk_register_entries_find_uuid_records")
        ),
        sa.ForeignKeyConstraint(
            ["fund", "act_number"],
            ["register_acts.fund", "register_acts.act_number"],
            name="fk_register_entries_fund_register_acts",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
        sa.UniqueConstraint(
            "fund", "act_number", "item", name=op.f("uq_register_entries_fund_act_number_item")
        ),
        sa.UniqueConstraint("find_uuid", name=op.f("uq_register_entries_find_uuid")),
        sa.UniqueConstraint("register_number", name=op.f("uq_register_entries_register_number")),
    )
    op.create_table(
        "register_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("find_server_rev", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_register_amendments_entry_id_register_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_register_amendments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_amendments")),
    )
    op.create_index(
        op.f("ix_register_amendments_entry_id"), "register_amendments", ["entry_id"], unique=False
    )
    _forbid_changes()


def _forbid_changes() -> None:
    """Refuse UPDATE and DELETE on the register's tables in the database itself, so no code
    path (nor a hand-typed SQL statement) can rewrite an entry."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION register_is_permanent() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        for table in PERMANENT:
            op.execute(
                f"CREATE TRIGGER {table}_permanent BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION register_is_permanent()"
            )
        return
    for table in PERMANENT:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in PERMANENT:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_permanent ON {table}")
        op.execute("DROP FUNCTION IF EXISTS register_is_permanent()")
    else:
        for table in PERMANENT:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    op.drop_index(op.f("ix_register_amendments_entry_id"), table_name="register_amendments")
    op.drop_table("register_amendments")
    op.drop_table("register_entries")
    op.drop_table("register_acts")
    op.drop_table("register_funds")
