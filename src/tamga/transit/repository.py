"""Queries for guarantees, movements and their parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple, TypeVar, cast

from asyncpg.exceptions import PostgresError, UniqueViolationError
from sqlalchemy import Select, Table, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from tamga.auth.domain import Principal, Role
from tamga.kit.db import autonomous, driver
from tamga.kit.errors import Conflict
from tamga.kit.pg import Rider, committed, instance, pg_table
from tamga.kit.upsert import insert_for
from tamga.models import (
    Counter,
    Guarantee,
    Movement,
    MovementEvent,
    MovementItem,
    MovementOffice,
    Operator,
    Seal,
)

T = TypeVar("T")

_MOVEMENTS = cast(Table, Movement.__table__)
_ITEMS = cast(Table, MovementItem.__table__)
_EVENTS = cast(Table, MovementEvent.__table__)
_OFFICES = cast(Table, MovementOffice.__table__)
_SEALS = cast(Table, Seal.__table__)


_ITEM_COLUMNS = [c.name for c in _ITEMS.c if c.name != "id"]
_EVENT_COLUMNS = [c.name for c in _EVENTS.c if c.name != "id"]
_OFFICE_COLUMNS = [c.name for c in _OFFICES.c]
# PostgreSQL, on the driver (`kit.db.driver`, SQL from `kit.pg`): a lodging, an acceptance and a
# release each send a handful of statements; SQLAlchemy's execution of them cost more CPU than the
# database's work.
_PG_MOVEMENTS, _PG_ITEMS, _PG_EVENTS, _PG_OFFICES = map(pg_table, (_MOVEMENTS, _ITEMS, _EVENTS, _OFFICES))
_PG_GUARANTEES, _PG_OPERATORS, _PG_SEALS = (
    pg_table(cast(Table, Guarantee.__table__)),
    pg_table(cast(Table, Operator.__table__)),
    pg_table(_SEALS),
)
_MOVEMENT_COLUMNS = tuple(c.name for c in _MOVEMENTS.c if c.name != "id")
_PG_NEW_PARTS = tuple(
    (t, tuple(c for c in columns if c != "movement_id"))
    for t, columns in (
        (_PG_ITEMS, _ITEM_COLUMNS),
        (_PG_EVENTS, _EVENT_COLUMNS),
        (_PG_OFFICES, _OFFICE_COLUMNS),
    )
)
_PG_EVENT_COLUMNS = _PG_NEW_PARTS[1][1]


@cache
def _pg_insert_movement(with_id: bool, rider: Callable[[int, str | None], str] | None) -> str:
    """A new movement and its parts in one statement: the movement's INSERT (with its id when drawn
    before) and the parts' as WITHs, each part's columns bound as one array; then a rider's WITHs."""
    columns = ("id", *_MOVEMENT_COLUMNS) if with_id else _MOVEMENT_COLUMNS
    n = len(columns)
    ctes = [f"m AS ({_PG_MOVEMENTS.insert(columns, ('id',))})"]
    for table, part_columns in _PG_NEW_PARTS:
        parts = table.insert_arrays(part_columns, n + 1, (("movement_id", "(SELECT id FROM m)"),))
        ctes.append(f"new_{table.name} AS ({parts})")
        n += len(part_columns)
    if rider is not None:
        ctes.append(rider(n + 1, None))
    return f"WITH {', '.join(ctes)} SELECT id FROM m"


_PG_STEP_GATE = "EXISTS (SELECT 1 FROM moved)"
_PG_STEP_EVENTS = (
    f"new_events AS ({_PG_EVENTS.insert_arrays(_PG_EVENT_COLUMNS, 3, (('movement_id', '$1::BIGINT'),))} "
    f"WHERE {_PG_STEP_GATE})"
)


@cache
def _pg_step(
    columns: tuple[str, ...],
    rider: Callable[[int, str | None], str] | None,
    rider_written: str | None,
    arms: bool,
    reserve: str | None,
) -> str:
    """A step of a movement: UPDATE of `columns` and its version ($1 the id, $2 the version read) and its
    events ($3...) as WITHs; its parameters, in order: the events' arrays, the columns' values, the ids of
    the seals it arms (when it `arms`), a reservation's guarantee id and amount (`reserve` its extra
    condition, when it draws on one), then a rider's.

    The UPDATE (`moved`) is read first and gates the rest: the events, seals, the rider's writes and the
    reservation are made only if it matched, so a step that lost a race (the version moved on) writes
    nothing, inside a transaction or not. Then, in that order, each part takes its locks: the seals
    (armed only if still available), the rider's (the audit heads), the guarantee (drawn only if its
    balance covers the amount). When the movement matched but a seal or the guarantee did not,
    `tamga_require` fails the statement, naming which ('seals', 'guarantee'), and nothing is kept.
    A step without seals has no seals' part: an empty array there would keep PostgreSQL planning the
    statement afresh on every execution (its custom plan looks cheaper than the generic one).
    Gives the number of movements written (0 or 1)."""
    first = 3 + len(_PG_EVENT_COLUMNS)
    sets = _PG_MOVEMENTS.assignments(columns, first)
    moved = (
        f"moved AS (UPDATE movements SET {sets}, version = $2::INTEGER + 1 "
        "WHERE id = $1::BIGINT AND version = $2::INTEGER RETURNING id)"
    )
    n = first + len(columns)
    parts = [moved, _PG_STEP_EVENTS]
    gate = _PG_STEP_GATE
    checks: list[tuple[str, str]] = []
    if arms:
        parts.append(
            "armed AS (UPDATE seals SET status = 'armed', movement_id = $1::BIGINT "
            f"WHERE id = ANY(${n}::BIGINT[]) AND status = 'available' AND {gate} RETURNING id)"
        )
        all_armed = f"(SELECT count(*) FROM armed) = cardinality(${n}::BIGINT[])"
        checks.append((all_armed, "seals"))
        gate = f"{gate} AND {all_armed}"
        n += 1
    reservation = n
    if reserve is not None:
        n += 2
    if rider is not None:
        parts.append(rider(n, gate))
        gate = rider_written or gate
    if reserve is not None:
        g, amount = f"${reservation}::BIGINT", f"${reservation + 1}::NUMERIC"
        parts.append(
            f"reserved AS (UPDATE guarantees SET reserved_amount = reserved_amount + {amount}, used = true "
            f"WHERE id = {g} AND status = 'valid' "
            f"AND reference_amount - reserved_amount - recovered_amount >= {amount} {reserve}AND {gate} "
            "RETURNING id)"
        )
        checks.append(("EXISTS (SELECT 1 FROM reserved)", "guarantee"))
    sql = f"WITH {', '.join(parts)} SELECT count(*) FROM moved"
    if checks:
        ok = " AND ".join(c for c, _ in checks)
        reason = " ".join(f"WHEN NOT {c} THEN '{r}'" for c, r in checks)
        sql += f" WHERE tamga_require({ok}, CASE {reason} END)"
    return sql


def _columns_as(table: Any, alias: str, prefix: str) -> str:
    return ", ".join(f"{alias}.{c} AS {prefix}{c}" for c in table.casts)


def _split(row: Any, prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}


@cache
def _pg_lodging_parties(seals: int) -> str:
    """The lodging's read: one row per operator found, or one row of NULLs when none is; the seals'
    arrays and the movement's id, drawn from its sequence once (the aggregate's one row), ride on every
    row. The declared seals' serials are bound one by one ($4...), not as an array: with `= ANY($4)`
    PostgreSQL's generic plan guessed ten seals and scanned the table, so its custom plan, which knew
    the array, always looked cheaper and the statement was planned afresh on every lodging (0.19 ms)."""
    serials = ", ".join(f"${n}::VARCHAR" for n in range(4, 4 + seals))
    return (
        f"SELECT {_columns_as(_PG_OPERATORS, 'o', 'o_')}, {_columns_as(_PG_GUARANTEES, 'g', 'g_')}, "
        "s.serials AS s_serials, s.carriers AS s_carriers, s.next_id AS next_id "
        "FROM (SELECT array_agg(serial ORDER BY id) AS serials, array_agg(carrier_id ORDER BY id) AS carriers, "
        "nextval(pg_get_serial_sequence('movements', 'id')) AS next_id "
        f"FROM seals WHERE {f'serial IN ({serials})' if seals else 'false'}) AS s "
        "LEFT JOIN operators o ON o.id = ANY($3::BIGINT[]) "
        "LEFT JOIN guarantees g ON g.grn = $1::VARCHAR AND g.holder_id = o.id AND o.id = $2::BIGINT"
    )


# a row per declared seal registered (one with the seal's columns NULL when none is), each with the
# movement and its guarantee's terms
_PG_MOVEMENT_FOR_RELEASE = (
    "SELECT m.*, g.kind AS g_kind, g.grn AS g_grn, g.currency AS g_currency, "
    f"{_columns_as(_PG_SEALS, 's', 's_')} "
    "FROM movements m JOIN guarantees g ON g.id = m.guarantee_id "
    "LEFT JOIN LATERAL (SELECT s.* FROM json_array_elements(m.seals) AS e "
    "JOIN seals s ON s.serial = e ->> 'serial') AS s ON true "
    "WHERE {where} ORDER BY s.id"
)
_PG_COUNTERS = (
    "INSERT INTO counters (name, value) SELECT unnest($1::VARCHAR[]), 1 "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING name, value"
)


async def insert_movement(
    session: AsyncSession,
    movement: Movement,
    *,
    items: list[dict[str, Any]],
    events: list[dict[str, Any]],
    offices: list[dict[str, Any]],
    rider: Rider | None = None,
    begin: bool = True,
) -> None:
    """Insert a new movement (the ORM's flush: an LRN taken before raises IntegrityError) and its
    items, events and offices (`insert_parts`); its `items` and `events` are then not loaded. On
    PostgreSQL the movement may come with its id (`LodgingParties.next_id`), and a rider's writes
    (the audit append) go in the same statement; with `begin=False` it begins no transaction of its
    own: whole or nothing, it commits on its own unless the session has begun one (`driver`).

    Measured on PostgreSQL: folding the movement's INSERT into the parts' statement too (one round
    trip fewer) cost more CPU per lodging than this flush (about 4.2 against 3.5 ms); on the driver, one
    statement is cheapest, and the movement returned is not in the session (its columns are as stored).
    """
    raw = await driver(session, begin=begin)
    if raw is not None:
        with_id = movement.id is not None
        columns = ("id", *_MOVEMENT_COLUMNS) if with_id else _MOVEMENT_COLUMNS
        row = {c: getattr(movement, c) for c in columns}
        defaults = [(c, v) for c, v in _PG_MOVEMENTS.defaults.items() if row[c] is None]
        row.update(defaults)
        params = _PG_MOVEMENTS.values(row, columns)
        for (table, part_columns), rows in zip(_PG_NEW_PARTS, (items, events, offices), strict=True):
            params += table.arrays(rows, part_columns)
        sql = _pg_insert_movement(with_id, rider.ctes if rider is not None else None)
        try:
            movement_id = await raw.fetchval(sql, *params, *(rider.params if rider is not None else ()))
        except UniqueViolationError as exc:  # as the ORM's flush would raise it
            raise IntegrityError(sql, None, exc) from exc
        committed(movement, [("id", movement_id), *defaults])
        return
    session.add(movement)
    await session.flush()
    await _insert_parts(session, movement.id, items=items, events=events, offices=offices)


async def _insert_parts(
    session: AsyncSession,
    movement_id: int,
    *,
    items: list[dict[str, Any]],
    events: list[dict[str, Any]],
    offices: list[dict[str, Any]],
) -> None:
    """Insert a movement's items, events and offices as plain rows (Core: no ORM objects to track),
    one executemany per table."""
    for table, rows in ((_ITEMS, items), (_EVENTS, events), (_OFFICES, offices)):
        if rows:
            await session.execute(insert(table), [{"movement_id": movement_id, **row} for row in rows])


class Reservation(NamedTuple):
    """What a step draws on a guarantee with its write (a release): the amount, on the guarantee's row."""

    guarantee_id: int
    amount: Decimal
    single_use: bool  # an individual or cash guarantee serves one movement


async def write_movement(
    session: AsyncSession,
    movement: Movement,
    changes: dict[str, Any],
    *,
    events: list[dict[str, Any]],
    arm_seals: list[Seal] | None = None,
    reserve: Reservation | None = None,
    rider: Rider | None = None,
    begin: bool = True,
) -> None:
    """Write a step of a movement read for it: its changed columns, its new events, the seals it arms,
    the reservation on its guarantee. Raises `StaleMovement` if the movement changed since it was read
    (the version check is the ORM's own, `version_id_col`), `SealsTaken` if a seal to arm is no longer
    available, `GuaranteeShort` if the guarantee cannot cover the reservation.

    One statement on PostgreSQL, on the driver (`_pg_step`): the movement's UPDATE, with the events, the
    seals, a rider's writes (the audit append) and the reservation as WITHs made only if it matched, each
    part checked, so a step that lost a race or found a seal or the guarantee short writes nothing. With
    `begin=False` it begins no transaction: it commits on its own unless the session has begun one
    (`driver(begin=False)`), for a step read without a lock (`movement_for_step`,
    `movement_for_release`); the shared guarantee's row is then held only while the statement runs and
    commits. On SQLite one statement each
    (no rider there), in the session's transaction, which the caller rolls back on an error. The ORM
    objects are then told the new values as committed, so the session has nothing left to flush for them.
    """
    version = movement.version
    seal_ids = [seal.id for seal in arm_seals or []]
    raw = await driver(session, begin=begin)
    if raw is not None:
        keys = tuple(changes)
        params = [movement.id, version, *_PG_EVENTS.arrays(events, _PG_EVENT_COLUMNS)]
        params += _PG_MOVEMENTS.values(changes, keys)
        if seal_ids:
            params.append(seal_ids)
        condition = None
        if reserve is not None:
            params += [reserve.guarantee_id, reserve.amount]
            condition = "AND NOT used " if reserve.single_use else ""
        if rider is not None:
            params += rider.params
        sql = _pg_step(
            keys,
            rider.ctes if rider is not None else None,
            rider.written if rider is not None else None,
            bool(seal_ids),
            condition,
        )
        try:
            written = await raw.fetchval(sql, *params) == 1
        except PostgresError as exc:
            if exc.sqlstate == "TGREQ":
                raise (SealsTaken if str(exc) == "seals" else GuaranteeShort)(str(exc)) from exc
            raise
    else:
        if rider is not None:
            raise ValueError("a rider goes on the PostgreSQL driver's statement only")
        if events:
            await session.execute(insert(_EVENTS), [{"movement_id": movement.id, **e} for e in events])
        if seal_ids:
            sc = _SEALS.c
            arm = update(_SEALS).where(sc.id.in_(seal_ids)).values(status="armed", movement_id=movement.id)
            await session.execute(arm)
        m = _MOVEMENTS.c
        stmt = (
            update(_MOVEMENTS)
            .where(m.id == movement.id, m.version == version)
            .values(**changes, version=version + 1)
        )
        written = (await session.execute(stmt)).rowcount == 1  # type: ignore[attr-defined]
        if written and reserve is not None and not await _reserve(session, reserve):
            raise GuaranteeShort("guarantee")
    if not written:  # on SQLite the caller's transaction rolls the other statements back
        raise StaleMovement(f"movement {movement.id} was changed meanwhile; try again")
    committed(movement, [*changes.items(), ("version", version + 1)])
    for seal in arm_seals or []:
        committed(seal, [("status", "armed"), ("movement_id", movement.id)])


class StaleMovement(Conflict):
    """A step's movement changed after it was read (another step won the race): nothing was written."""


class SealsTaken(Conflict):
    """A seal a step arms was no longer available when it wrote: nothing was written (on SQLite, roll back)."""


class GuaranteeShort(Conflict):
    """The guarantee could not cover a step's reservation: nothing was written (on SQLite, roll back)."""


async def next_counters(session: AsyncSession, *names: str) -> dict[str, int]:
    """Give the next value of each named counter, in one atomic statement on both databases."""
    stmt = insert_for(session, Counter).values([{"name": n, "value": 1} for n in sorted(names)])
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.name, Counter.value)
    return {name: int(value) for name, value in (await session.execute(stmt)).all()}


async def allocate_counters(session: AsyncSession, *names: str) -> dict[str, int]:
    """Give the next value of each named counter, committed at once by a statement of its own.

    Every acceptance at an office draws on the same counter rows; drawing them in the caller's
    transaction would hold their locks until its commit and queue every other acceptance behind it.
    Like a database sequence, a value is then never given twice but may go unused if the caller's
    transaction fails afterwards (a gap in the serials, never a repeat). On SQLite (one writer at a
    time) the draw stays in the caller's transaction.
    """
    async with autonomous(session) as conn:
        if conn is None:
            return await next_counters(session, *names)
        return {name: int(value) for name, value in await conn.fetch(_PG_COUNTERS, sorted(names))}


async def next_counter(session: AsyncSession, name: str) -> int:
    """Give the next value of a named counter."""
    return (await next_counters(session, name))[name]


class LodgingParties(NamedTuple):
    """What a lodging checks of the parties it names."""

    operators: dict[int, Operator]  # those found among the ids asked for
    guarantee: Guarantee | None  # the GRN asked for, if the holder holds it
    seal_carriers: dict[str, int]  # the registered seals among the serials, to their carrier
    next_id: int | None = None  # the new movement's id, drawn before its INSERT (PostgreSQL)


async def lodging_parties(
    session: AsyncSession, operator_ids: Sequence[int], holder_id: int, grn: str, seals: Sequence[str]
) -> LodgingParties:
    """Give the operators found among `operator_ids`, the guarantee `grn` if `holder_id` holds it
    (None when it does not exist or is another's) and the registered seals among `seals`: on
    PostgreSQL one round trip, on the driver (the objects are not in the session), which also draws the
    id of the movement to be lodged (so its audit record can ride on its INSERT; a refused lodging
    leaves a gap in the ids, as a failed INSERT would). It locks nothing, so it begins no transaction."""
    raw = await driver(session, begin=False)
    if raw is not None:
        found: dict[int, Operator] = {}
        held: Guarantee | None = None
        carriers: dict[str, int] = {}
        sql = _pg_lodging_parties(len(seals))  # at most 10 seals a declaration: 10 statements
        rows = await raw.fetch(sql, grn, holder_id, list(set(operator_ids)), *seals)
        next_id: int | None = None
        for row in rows:
            if row["o_id"] is not None:
                found[row["o_id"]] = instance(Operator, _split(row, "o_"))
            if row["g_id"] is not None:
                held = instance(Guarantee, _split(row, "g_"))
            carriers = dict(zip(row["s_serials"] or (), row["s_carriers"] or (), strict=True))
            next_id = row["next_id"]
        return LodgingParties(found, held, carriers, next_id)
    on = (Guarantee.grn == grn) & (Guarantee.holder_id == Operator.id) & (Operator.id == holder_id)
    stmt = select(Operator, Guarantee).outerjoin(Guarantee, on).where(Operator.id.in_(set(operator_ids)))
    operators: dict[int, Operator] = {}
    guarantee: Guarantee | None = None
    for op, g in (await session.execute(stmt)).all():
        operators[op.id] = op
        guarantee = g or guarantee
    registered = (
        await session.execute(select(Seal.serial, Seal.carrier_id).where(Seal.serial.in_(seals)))
    ).all()
    return LodgingParties(operators, guarantee, {serial: carrier for serial, carrier in registered})


async def guarantee_by_grn(session: AsyncSession, grn: str) -> Guarantee | None:
    return (await session.execute(select(Guarantee).where(Guarantee.grn == grn))).scalar_one_or_none()


async def guarantee(session: AsyncSession, guarantee_id: int) -> Guarantee | None:
    return await session.get(Guarantee, guarantee_id, populate_existing=True)


async def _reserve(session: AsyncSession, reservation: Reservation) -> bool:
    """Draw a reservation on its guarantee if the balance covers it; tell whether it did (one UPDATE; on
    PostgreSQL the step's own statement does it, `_pg_step`)."""
    g = Guarantee.__table__.c
    stmt = (
        update(Guarantee)
        .where(g.id == reservation.guarantee_id, g.status == "valid")
        .where(g.reference_amount - g.reserved_amount - g.recovered_amount >= reservation.amount)
        .values(reserved_amount=g.reserved_amount + reservation.amount, used=True)
    )
    if reservation.single_use:
        stmt = stmt.where(g.used.is_(False))
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_reservation(
    session: AsyncSession, guarantee_id: int, amount: Decimal, *, recovered: bool
) -> None:
    """Give back (discharge) or turn into a recovery what a movement drew on a guarantee."""
    g = Guarantee.__table__.c
    values = {"reserved_amount": g.reserved_amount - amount}
    if recovered:
        values["recovered_amount"] = g.recovered_amount + amount
    stmt = update(Guarantee).where(g.id == guarantee_id).values(**values)
    await session.execute(stmt.execution_options(synchronize_session=False))


def _ref_key(ref: str) -> tuple[str, int | str] | None:
    """Give the column and value an MRN or id names a movement by, or None when `ref` can name none."""
    if not (ref.isascii() and ref.isalnum()):
        return None
    if ref.isdigit() and len(ref) < 18:
        return "id", int(ref)
    return "mrn", ref.upper()


def _where_ref(stmt: Select[T], ref: str) -> Select[T] | None:
    """Give `stmt` narrowed to the movement an MRN or id names, or None when `ref` can name none."""
    key = _ref_key(ref)
    if key is None:
        return None
    return stmt.where(Movement.id == key[1] if key[0] == "id" else Movement.mrn == key[1])


def _pg_where_ref(key: tuple[str, int | str]) -> str:
    return "m.id = $1::BIGINT" if key[0] == "id" else "m.mrn = $1::VARCHAR"


async def movement_for_step(session: AsyncSession, ref: str) -> Movement | None:
    """Give a movement by MRN or id for a step written with `write_movement(begin=False)`: on PostgreSQL
    read on the driver, not in the session, in no transaction and locking nothing (the write's version
    check stands in for the lock); on SQLite, which has one writer, in the session's transaction."""
    raw = await driver(session, begin=False)
    if raw is None:
        return await movement_by_ref(session, ref, lock=True)
    key = _ref_key(ref)
    if key is None:
        return None
    row = await raw.fetchrow(f"SELECT * FROM movements m WHERE {_pg_where_ref(key)}", key[1])
    return None if row is None else instance(Movement, row)


async def movement_by_ref(
    session: AsyncSession, ref: str, *, lock: bool = False, full: bool = False
) -> Movement | None:
    """Give a movement by MRN or id; `lock` holds its row until commit, `full` loads items and events."""
    stmt = _where_ref(select(Movement), ref)
    if stmt is None:
        return None
    if full:
        stmt = stmt.options(selectinload(Movement.items), selectinload(Movement.events))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


class ReleaseRead(NamedTuple):
    """What a release reads: the movement, its guarantee's kind, GRN and currency, and its seals' rows."""

    movement: Movement
    kind: str
    grn: str
    currency: str
    seals: list[Seal]  # the registered ones among those declared, in id order


async def movement_for_release(session: AsyncSession, ref: str) -> ReleaseRead | None:
    """Give a movement by MRN or id with its guarantee's terms and its declared seals, for a release
    written with `write_movement`. On PostgreSQL in one statement, read on the driver in no transaction
    and locking nothing (`write_movement(begin=False)` checks what it relies on); on SQLite in the
    session's transaction, whose one writer serialises."""
    raw = await driver(session, begin=False)
    if raw is not None:
        key = _ref_key(ref)
        if key is None:
            return None
        rows = await raw.fetch(_PG_MOVEMENT_FOR_RELEASE.format(where=_pg_where_ref(key)), key[1])
        if not rows:
            return None
        first = rows[0]
        movement = instance(Movement, {k: first[k] for k in _PG_MOVEMENTS.casts})
        seals = [instance(Seal, _split(row, "s_")) for row in rows if row["s_id"] is not None]
        return ReleaseRead(movement, first["g_kind"], first["g_grn"], first["g_currency"], seals)
    g = Guarantee.__table__.c
    stmt = _where_ref(select(Movement, g.kind, g.grn, g.currency).join_from(Movement, Guarantee), ref)
    if stmt is None:
        return None
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    movement = row[0]
    serials = [s["serial"] for s in movement.seals]
    declared = (
        await session.execute(select(Seal).where(Seal.serial.in_(serials)).order_by(Seal.id))
    ).scalars()
    return ReleaseRead(movement, str(row[1]), str(row[2]), str(row[3]), list(declared))


def visible_to(stmt: Select[T], principal: Principal) -> Select[T] | None:
    """Give `stmt` (which selects from movements) narrowed to what the principal may see, or None for nothing.

    The query form of `tamga.transit.policy.can_see`: listings of movements and of what hangs off them
    (alarms) share it.
    """
    role = principal.role
    if role is Role.DECLARANT:
        return stmt.where(Movement.holder_id == principal.operator_id)
    if role is Role.CARRIER:
        return stmt.where(
            (Movement.carrier_id == principal.operator_id) | (Movement.holder_id == principal.operator_id)
        )
    if role in (Role.CUSTOMS_OFFICER, Role.MONITORING_OPERATOR):
        touches = exists().where(
            MovementOffice.movement_id == Movement.id, MovementOffice.country == principal.country
        )
        return stmt.where(touches)
    return stmt if role is Role.ADMINISTRATOR else None


async def list_movements(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    after: int | None,
    limit: int,
) -> Sequence[Movement]:
    """Give the movements the principal may see, newest last, a page at a time."""
    stmt = visible_to(select(Movement).order_by(Movement.id).limit(limit), principal)
    if stmt is None:
        return []
    if status is not None:
        stmt = stmt.where(Movement.status == status)
    if after is not None:
        stmt = stmt.where(Movement.id > after)
    return (await session.execute(stmt)).scalars().all()


async def overdue(
    session: AsyncSession, now: datetime, statuses: Sequence[str], limit: int
) -> Sequence[Movement]:
    """Give movements still under way whose time limit has passed."""
    stmt = (
        select(Movement)
        .where(Movement.status.in_(statuses), Movement.time_limit < now)
        .order_by(Movement.time_limit)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()
