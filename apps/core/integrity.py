"""Which constraint an IntegrityError is about: by the constraint's name, never by its message.

PostgreSQL names the violated constraint in the error's diagnostics (psycopg's public
`Error.diag.constraint_name`); Django keeps the driver's error as the `__cause__` of its own
IntegrityError. SQLite, the embedded default, does not name the constraint: its message only
lists the columns (`UNIQUE constraint failed: orders_checkout.number`), and parsing that would be
the message dispatch this module replaces. So on SQLite `violated_constraint` is None and each
caller decides without it, in a way that is right on either database: by a query on the error
path (does a row with this key now exist?), or by a bounded retry of a transaction that was rolled
back whole. SQLite's write transactions are serialised (one writer at a time), so the races
these handlers exist for are PostgreSQL's; on SQLite only a random collision (a checkout number)
can end up here.
"""

from django.db import IntegrityError


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint `exc` reports (PostgreSQL), or None: the database did not say
    (SQLite), or the error is not a constraint violation."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if isinstance(name, str) and name else None


def unique_column_name(db_table: str, column: str) -> str:
    """PostgreSQL's name for the UNIQUE of a `unique=True` column created with its table
    (`CREATE TABLE .. col .. UNIQUE` lets PostgreSQL name it `<table>_<column>_key`)."""
    return f"{db_table}_{column}_key"
