"""Statements sent without waiting for each one's answer: psycopg's pipeline mode.

A transaction of the worker's (a run's end, a claim, a guarded checkpoint
write) is a dozen statements, and on PostgreSQL each was a round trip: the
statement sent, the worker waiting for its answer, the next one sent. Most
need no answer before the next goes (an INSERT, an UPDATE by key, the
thread's row lock before the run's check). Inside `pipelined()` psycopg
queues each statement and waits only when a result is read (`fetchone`,
`fetchall`) and at the block's end: the statements between two reads go
out, and come back, in one round trip. PostgreSQL runs them in the order
sent, each with its own snapshot as before (READ COMMITTED), so what each
one sees is unchanged.

Open it inside `transaction.atomic()`, not around it: a psycopg connection
in pipeline mode waits for the server whenever its autocommit is switched,
which the atomic block does at both ends (two round trips for nothing), and
leaving the pipeline waits once anyway, so a COMMIT inside it would save
nothing. The transaction's BEGIN goes out with the block's first statements
(chatapp/platform/psycopg_begin.py), not in a round trip of its own.

What changes for the code inside: an error (a constraint violated, say) is
raised where the pipeline next waits, not by the statement's `execute`; and
`cursor.rowcount` is not known until then, so nothing inside may rely on it
(the ORM's `save()` of an existing row and `QuerySet.update()`'s return do:
use `chatapp.platform.prepared.update_fields`). Where a caller must see a
write's error itself (to keep what it failed to store), it opens a nested
`pipelined()` around the write: leaving one waits for everything queued.

Anywhere else (SQLite, another backend, a libpq without pipeline support) it
does nothing.
"""

import contextlib
import functools
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections

from chatapp.platform.psycopg_begin import begun


@contextlib.contextmanager
def pipelined(using: str = DEFAULT_DB_ALIAS):
    connection = connections[using]
    if connection.vendor != "postgresql" or not _supported():
        yield
        return
    connection.ensure_connection()
    conn = connection.connection
    outermost = conn.info.pipeline_status == _pipeline_off()
    # Errors raised where the pipeline waits (its end) are psycopg's: made
    # Django's, as those of the statements inside are by its cursor.
    with connection.wrap_database_errors, conn.pipeline():
        # The transaction's BEGIN goes with its first statements (psycopg
        # would sync right after it: a round trip of its own).
        with begun(conn) if outermost else contextlib.nullcontext():
            yield


def _pipeline_off():
    from psycopg.pq import PipelineStatus

    return PipelineStatus.OFF


@functools.cache
def _supported() -> bool:
    # Imported here: only a PostgreSQL connection gets this far.
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return False
    import psycopg

    return psycopg.capabilities.has_pipeline()


def sent(sql: str, params, *, using: str = DEFAULT_DB_ALIAS) -> Callable[[], list[tuple]]:
    """A statement sent now, its rows read when the function it returns is
    called. Inside `pipelined()` statements sent before that read share its
    round trip: a row's lock and the read that must follow it, say (each
    runs once the one before has, so the read sees what the lock waited
    for). Elsewhere the statement runs now (SQLite reads rows past the first
    as they are fetched: read them before writing to what they come from)."""
    cursor = connections[using].cursor()
    try:
        cursor.execute(sql, params)
    except BaseException:
        cursor.close()
        raise

    def rows() -> list[tuple]:
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    return rows
