"""duplicates: finds sharing one find number form one candidate (a number group), not pairs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

The pairs of one number stored so far become groups. A pair a reviewer merged or dismissed, and
a pair the server withdrew, becomes a settled group of its two finds under the same id, so the
aliases and audit lines naming it still do. The open pairs of one number become one open group
(under the id of the first of them) holding every live find they named; the other open pairs of
that number were suggestions nobody had decided on, and the group takes their place.
"""

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SAME_FIND_NUMBER = 0.9  # the number rule's weight (domain/duplicates.py at this revision)
CHECK = "ck_duplicate_candidates_pair_or_number"
OPEN_WHERE = "state = 'open' AND find_number IS NOT NULL"


def _aside_aliases(bind: Any) -> list[dict[str, Any]]:
    """SQLite changes a table's columns by building it anew and dropping the old one; dropping
    a table that find_aliases rows point at breaks their foreign keys for good (the count of
    broken references is not undone when the new table takes the name), so the aliases are
    set aside meanwhile and put back, naming the same ids. PostgreSQL alters in place."""
    if bind.dialect.name != "sqlite":
        return []
    rows = [dict(row._mapping) for row in bind.execute(sa.text("SELECT * FROM find_aliases"))]
    bind.execute(sa.text("DELETE FROM find_aliases"))
    return rows


def _restore_aliases(bind: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        bind.execute(
            sa.text(
                f"INSERT INTO find_aliases ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)})"
            ),
            rows,
        )


def upgrade() -> None:
    bind = op.get_bind()
    aliases = _aside_aliases(bind)
    with op.batch_alter_table("duplicate_candidates") as batch:
        batch.add_column(sa.Column("find_number", sa.String(length=64), nullable=True))
        batch.alter_column("find_a", existing_type=sa.String(length=36), nullable=True)
        batch.alter_column("find_b", existing_type=sa.String(length=36), nullable=True)
        batch.create_check_constraint(
            CHECK, "(find_number IS NULL) = (find_a IS NOT NULL AND find_b IS NOT NULL)"
        )
    _restore_aliases(bind, aliases)
    op.create_table(
        "duplicate_members",
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("find_uuid", sa.String(length=36), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["duplicate_candidates.id"],
            name=op.f("fk_duplicate_members_candidate_id_duplicate_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["find_uuid"], ["records.uuid"], name=op.f("fk_duplicate_members_find_uuid_records")
        ),
        sa.PrimaryKeyConstraint("candidate_id", "find_uuid", name=op.f("pk_duplicate_members")),
    )
    op.create_index(op.f("ix_duplicate_members_find_uuid"), "duplicate_members", ["find_uuid"])
    _pairs_into_groups(bind)
    op.create_index(
        op.f("ix_duplicate_candidates_expedition_id_find_number"),
        "duplicate_candidates",
        ["expedition_id", "find_number"],
    )
    op.create_index(
        "uq_duplicate_candidates_open_number",
        "duplicate_candidates",
        ["expedition_id", "find_number"],
        unique=True,
        sqlite_where=sa.text(OPEN_WHERE),
        postgresql_where=sa.text(OPEN_WHERE),
    )


def _pairs_into_groups(bind: Any) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.expedition_id, c.find_a, c.find_b, c.rules, c.state, c.created_at, "
            "a.find_number AS number_a, b.find_number AS number_b, "
            "a.merged_into AS merged_a, b.merged_into AS merged_b "
            "FROM duplicate_candidates c JOIN records a ON a.uuid = c.find_a "
            "JOIN records b ON b.uuid = c.find_b ORDER BY c.id"
        )
    ).all()
    by_number: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in rows:
        if row.number_a == row.number_b and "same_find_number" in json.loads(row.rules):
            by_number[(row.expedition_id, row.number_a)].append(row)
    members: list[dict[str, Any]] = []
    for (_, number), pairs in by_number.items():
        open_pairs = [p for p in pairs if p.state == "open"]
        for pair in pairs:
            if pair.state == "open":
                continue
            _become_group(bind, pair.id, number, None)
            members += [
                {"candidate_id": pair.id, "find_uuid": u, "joined_at": pair.created_at}
                for u in (pair.find_a, pair.find_b)
            ]
        if not open_pairs:
            continue
        group = open_pairs[0]
        joined: dict[str, Any] = {}
        for pair in open_pairs:
            for uuid, merged in ((pair.find_a, pair.merged_a), (pair.find_b, pair.merged_b)):
                if merged is None and uuid not in joined:
                    joined[uuid] = pair.created_at
        for pair in open_pairs[1:]:
            bind.execute(
                sa.text("DELETE FROM duplicate_candidates WHERE id = :id"), {"id": pair.id}
            )
        _become_group(bind, group.id, number, None if len(joined) >= 2 else "withdrawn")
        members += [
            {"candidate_id": group.id, "find_uuid": u, "joined_at": at}
            for u, at in sorted(joined.items())
        ]
    if members:
        bind.execute(
            sa.text(
                "INSERT INTO duplicate_members (candidate_id, find_uuid, joined_at) "
                "VALUES (:candidate_id, :find_uuid, :joined_at)"
            ),
            members,
        )


def _become_group(bind: Any, candidate_id: int, number: str, state: str | None) -> None:
    """The pair's row becomes its number's group; an open one takes the number rule alone (its
    members' positions are not one distance), a settled one keeps what it was decided on."""
    values: dict[str, Any] = {"id": candidate_id, "number": number}
    sets = "find_number = :number, find_a = NULL, find_b = NULL"
    if state is not None:
        values["state"] = state
        sets += ", state = :state"
    bind.execute(sa.text(f"UPDATE duplicate_candidates SET {sets} WHERE id = :id"), values)
    bind.execute(
        sa.text(
            "UPDATE duplicate_candidates SET rules = :rules, score = :score, distance_m = NULL "
            "WHERE id = :id AND state = 'open'"
        ),
        {"id": candidate_id, "rules": json.dumps(["same_find_number"]), "score": SAME_FIND_NUMBER},
    )


def downgrade() -> None:
    """Each group becomes pairs again: its row the pair of its first two finds (keeping its id
    for the aliases that name it), and a pair of the first find with each further one."""
    bind = op.get_bind()
    groups = bind.execute(
        sa.text(
            "SELECT id, expedition_id, score, rules, state, kept_uuid, reason, decided_by, "
            "decided_at, created_at, updated_at FROM duplicate_candidates "
            "WHERE find_number IS NOT NULL ORDER BY id"
        )
    ).all()
    taken = {
        (row.find_a, row.find_b)
        for row in bind.execute(
            sa.text("SELECT find_a, find_b FROM duplicate_candidates WHERE find_a IS NOT NULL")
        )
    }
    for group in groups:
        finds = [
            row.find_uuid
            for row in bind.execute(
                sa.text(
                    "SELECT find_uuid FROM duplicate_members WHERE candidate_id = :id "
                    "ORDER BY joined_at, find_uuid"
                ),
                {"id": group.id},
            )
        ]
        pairs = [tuple(sorted((finds[0], other))) for other in finds[1:]]
        pairs = [p for p in pairs if p not in taken]
        if not pairs:
            bind.execute(
                sa.text("UPDATE find_aliases SET candidate_id = NULL WHERE candidate_id = :id"),
                {"id": group.id},
            )
            bind.execute(
                sa.text("DELETE FROM duplicate_members WHERE candidate_id = :id"), {"id": group.id}
            )
            bind.execute(
                sa.text("DELETE FROM duplicate_candidates WHERE id = :id"), {"id": group.id}
            )
            continue
        taken.update(pairs)
        bind.execute(
            sa.text(
                "UPDATE duplicate_candidates SET find_a = :a, find_b = :b, find_number = NULL "
                "WHERE id = :id"
            ),
            {"id": group.id, "a": pairs[0][0], "b": pairs[0][1]},
        )
        further = [{**group._asdict(), "find_a": a, "find_b": b} for a, b in pairs[1:]]
        for row in further:
            del row["id"]
        if further:
            bind.execute(
                sa.text(
                    "INSERT INTO duplicate_candidates (expedition_id, find_a, find_b, score, "
                    "rules, state, kept_uuid, reason, decided_by, decided_at, created_at, "
                    "updated_at) VALUES (:expedition_id, :find_a, :find_b, :score, :rules, "
                    ":state, :kept_uuid, :reason, :decided_by, :decided_at, :created_at, "
                    ":updated_at)"
                ),
                further,
            )
    op.drop_index("uq_duplicate_candidates_open_number", table_name="duplicate_candidates")
    op.drop_index(
        op.f("ix_duplicate_candidates_expedition_id_find_number"),
        table_name="duplicate_candidates",
    )
    op.drop_index(op.f("ix_duplicate_members_find_uuid"), table_name="duplicate_members")
    op.drop_table("duplicate_members")
    aliases = _aside_aliases(bind)
    with op.batch_alter_table("duplicate_candidates") as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.drop_column("find_number")
        batch.alter_column("find_a", existing_type=sa.String(length=36), nullable=False)
        batch.alter_column("find_b", existing_type=sa.String(length=36), nullable=False)
    _restore_aliases(bind, aliases)
