"""SQL for the PostgreSQL driver (`kit.db.driver`), written from the tables' metadata.

The hottest use cases send their statements to asyncpg directly. Their SQL is generated here from the
same `Table` the ORM maps, so a column's name and type are said once: every parameter is cast to its
column's PostgreSQL type without modifiers (`$3::NUMERIC`), JSON columns take text (`encode`), and a row read back
becomes a mapped object without a session (`instance`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import class_mapper
from sqlalchemy.orm.attributes import set_committed_value

from tamga.kit.db import Base, json_text

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
M = TypeVar("M", bound=Base)


class PgTable:
    """A table's SQL for the driver: column casts, JSON columns, cached statement texts."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.name = table.name
        # the type without its modifiers: an explicit cast to VARCHAR(22) would cut a longer text
        # silently, where the column's own assignment refuses it
        self.casts = {c.name: c.type.compile(dialect=_DIALECT).split("(")[0] for c in table.c}
        self.json = frozenset(c.name for c in table.c if isinstance(c.type, JSON))
        self.defaults = {
            c.name: c.default.arg  # type: ignore[attr-defined]
            for c in table.c
            if c.default is not None and c.default.is_scalar
        }

    def encode(self, column: str, value: Any) -> Any:
        """Give a value as the driver takes it for the column (JSON as text)."""
        return json_text(value) if column in self.json else value

    def values(self, row: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
        """Give the row's parameters for `columns`, in order, encoded."""
        return [self.encode(c, row[c]) for c in columns]

    def arrays(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
        """Give one array per column of the rows (for `unnest`), encoded."""
        return [[self.encode(c, row[c]) for row in rows] for c in columns]

    def param(self, n: int, column: str, *, array: bool = False) -> str:
        return f"${n}::{self.casts[column]}{'[]' if array else ''}"

    @cache  # noqa: B019 - one PgTable per table, for the life of the process
    def insert(self, columns: tuple[str, ...], returning: tuple[str, ...] = ()) -> str:
        """INSERT of one row of `columns`, RETURNING `returning`."""
        params = ", ".join(self.param(n, c) for n, c in enumerate(columns, start=1))
        sql = f"INSERT INTO {self.name} ({', '.join(columns)}) VALUES ({params})"
        return sql + (f" RETURNING {', '.join(returning)}" if returning else "")

    @cache  # noqa: B019
    def unnest_select(self, columns: tuple[str, ...], first: int = 1) -> str:
        """`SELECT unnest($first::type[]), ...`: rows of `columns` from one bound array each."""
        arrays = ", ".join(self.param(n, c, array=True) for n, c in enumerate(columns, start=first))
        return f"SELECT * FROM unnest({arrays})"

    @cache  # noqa: B019
    def insert_arrays(
        self, columns: tuple[str, ...], first: int = 1, lead: tuple[tuple[str, str], ...] = ()
    ) -> str:
        """INSERT of rows of `columns` bound as one array each from `$first` on (`unnest_select`),
        each row led by the `lead` columns' SQL expressions (a parent's id, say)."""
        names = ", ".join([*(name for name, _ in lead), *columns])
        values = ", ".join([*(expression for _, expression in lead), "parts.*"])
        select = self.unnest_select(columns, first)
        return f"INSERT INTO {self.name} ({names}) SELECT {values} FROM ({select}) AS parts"

    @cache  # noqa: B019
    def assignments(self, columns: tuple[str, ...], first: int) -> str:
        """`column = $n::type, ...` for an UPDATE's SET, the parameters numbered from `first`."""
        return ", ".join(f"{c} = {self.param(n, c)}" for n, c in enumerate(columns, start=first))


@cache
def pg_table(table: Table) -> PgTable:
    """Give the driver SQL of a table (one per table)."""
    return PgTable(table)


def instance(cls: type[M], row: Mapping[str, Any]) -> M:
    """Give a mapped object holding a row read on the driver, as loaded (nothing to flush), without a
    session: for a use case that writes it back on the driver too (`set_committed_value`)."""
    obj: M = class_mapper(cls).class_manager.new_instance()
    obj.__dict__.update(row)  # what the ORM's loader does: loaded values, no history
    return obj


def committed(obj: Any, values: Iterable[tuple[str, Any]]) -> None:
    """Tell a mapped object values that were written on the driver, as committed."""
    for key, value in values:
        set_committed_value(obj, key, value)


@dataclass(frozen=True, slots=True)
class Rider:
    """Writes that ride on another statement as data-modifying WITHs (one round trip fewer each).

    `ctes(first, gate)` gives the WITH entries (`name AS (...), ...`) with their parameters numbered from
    `$first`, writing only where the SQL condition `gate` holds (None: always); `params` are those
    parameters, in order. A writer that takes a rider puts the entries in its statement's WITH and
    appends the parameters to its own. `written` is an SQL condition that holds once the rider's writes
    are made: a later WITH that refers to it runs after them (and takes its locks after theirs).
    """

    ctes: Callable[[int, str | None], str]
    params: list[Any]
    written: str
