"""Translating driver errors into the unit-of-work port's ``ConcurrencyConflict``."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from application.ports.unit_of_work import ConcurrencyConflict

# PostgreSQL SQLSTATEs of a lost race: unique_violation, serialization_failure, deadlock_detected.
_PG_CONFLICTS = frozenset({"23505", "40001", "40P01"})
# SQLite extended result codes: SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY.
_SQLITE_CONFLICTS = frozenset({2067, 1555})


def is_conflict(exc: DBAPIError) -> bool:
    """Whether ``exc`` means another transaction got there first (a retry may succeed)."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return str(sqlstate) in _PG_CONFLICTS
    return getattr(orig, "sqlite_errorcode", None) in _SQLITE_CONFLICTS


def conflict_from(exc: DBAPIError) -> ConcurrencyConflict | None:
    """The port's error for ``exc`` when it is a lost race, else ``None`` (a bug or an outage:
    the original error should propagate)."""
    if not is_conflict(exc):
        return None
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return ConcurrencyConflict(detail)
