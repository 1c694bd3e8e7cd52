"""The attributes of a find as every export writes them, in one order (FIND_COLUMNS)."""

from __future__ import annotations

from field_server.domain.export_layers import COLUMN_NAMES, FIND_COLUMNS

INTEGER_COLUMNS = frozenset(name for name, _, kind in FIND_COLUMNS if kind == "integer")
REAL_COLUMNS = frozenset(name for name, _, kind in FIND_COLUMNS if kind == "real")

__all__ = ["COLUMN_NAMES", "FIND_COLUMNS", "INTEGER_COLUMNS", "REAL_COLUMNS"]
