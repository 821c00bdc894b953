"""The executor's hottest statements as plain SQL, written once per database.

The ORM spends ~0.5 ms of Python building and compiling each statement, on the
executor's one database thread (SQLite) and under the GIL the request threads
and the event loop share: for the statements every run repeats (the claim's
probe and lock, the saver's guard before each checkpoint) that was most of
their cost. Here their text is built once per connection vendor, from the
models' table and column names, and only the parameters change. The SQL is
the portable subset SQLite and PostgreSQL share; what differs (row locks) is
chosen from the connection's features, as the ORM does. Statements of the
generic shapes (a row by key, an update of named fields) are
chatapp.platform.prepared's; these are the ones it has no shape for.
"""

import functools
from collections.abc import Callable

from django.db import connection

from chatapp.platform.pipeline import sent
from chatapp.platform.prepared import update_fields
from runs.models import ACTIVE_RUN_STATUSES, Run, RunStatus, Thread


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _col(model, field: str) -> str:
    return _q(model._meta.get_field(field).column)


def thread_pk(value):
    """A thread id as its column stores it (a 32-character hex on SQLite)."""
    return Thread._meta.pk.get_db_prep_value(value, connection)


def run_pk(value):
    return Run._meta.pk.get_db_prep_value(value, connection)


def datetime_param(value):
    return Run._meta.get_field("not_before").get_db_prep_value(value, connection)


@functools.cache
def _lock_suffix(vendor: str, skip_locked: bool) -> str:
    """Lock the thread row: FOR UPDATE OF it on a server database; nothing on
    SQLite, whose write transaction (BEGIN IMMEDIATE) already excludes every
    other writer."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    suffix = " FOR UPDATE OF t" if features.has_select_for_update_of else " FOR UPDATE"
    if skip_locked and features.has_select_for_update_skip_locked:
        suffix += " SKIP LOCKED"
    return suffix


@functools.cache
def _check_run_sql(vendor: str) -> tuple[str | None, str]:
    """(lock of the thread row or None, the run's cancel_action if it may write).

    Two statements where rows are locked (PostgreSQL): a statement that waits
    for a row lock re-checks its conditions on the locked row's new version
    only; the joined run's row is the one of the statement's snapshot, taken
    before the wait. A rollback that held the lock and deleted the run would
    then be followed by one more checkpoint of that run. The run is read by a
    statement of its own, after the lock. On SQLite the write transaction
    (BEGIN IMMEDIATE) already excludes every other writer: one statement."""
    tid, rid = _col(Thread, "id"), _col(Run, "id")
    check = (
        f"SELECT {_col(Run, 'cancel_action')} FROM {_table(Run)}"
        f" WHERE {_col(Run, 'thread')} = %s AND {rid} = %s"
        f" AND {_col(Run, 'status')} = %s AND {_col(Run, 'worker_id')} = %s"
    )
    if not connection.features.has_select_for_update:
        return None, check
    lock = f"SELECT 1 FROM {_table(Thread)} t WHERE t.{tid} = %s" + _lock_suffix(vendor, False)
    return lock, check


def run_cancel_action(thread_id, run_id, worker_id: str) -> str | None:
    """Lock the thread row and read its run's cancel_action if the run is
    still running on `worker_id`; None if it is not (gone, ended, not ours)."""
    lock, check = _check_run_sql(connection.vendor)
    thread = thread_pk(thread_id)
    with connection.cursor() as cursor:
        if lock is not None:
            cursor.execute(lock, [thread])
        cursor.execute(check, [thread, run_pk(run_id), RunStatus.RUNNING.value, worker_id])
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _claimable_sql(vendor: str, one_thread: bool, excluded: int, lock: bool) -> str:
    """Threads with a pending run that is due (not_before) and nothing running,
    oldest `updated_at` first. Driven by the pending runs (few, found through
    the (status, lease_expires_at) index), not by the threads: scanning every
    thread with two correlated subqueries made a claim cost what the database
    holds."""
    tid, rthread, status = _col(Thread, "id"), _col(Run, "thread"), _col(Run, "status")
    not_before = _col(Run, "not_before")
    sql = (
        f"SELECT t.{tid}, t.{_col(Thread, 'owner')} FROM {_table(Thread)} t"
        f" WHERE t.{tid} IN (SELECT p.{rthread} FROM {_table(Run)} p"
        f" WHERE p.{status} = %s AND (p.{not_before} IS NULL OR p.{not_before} <= %s))"
        f" AND NOT EXISTS (SELECT 1 FROM {_table(Run)} x"
        f" WHERE x.{rthread} = t.{tid} AND x.{status} = %s)"
    )
    if one_thread:
        sql += f" AND t.{tid} = %s"
    if excluded:
        sql += f" AND t.{tid} NOT IN ({', '.join(['%s'] * excluded)})"
    sql += f" ORDER BY t.{_col(Thread, 'updated_at')} LIMIT 1"
    return sql + (_lock_suffix(vendor, True) if lock else "")


def claimable_thread(now, thread_id=None, not_yet=(), *, lock: bool):
    """(sql, params) of the first claimable thread; `lock` locks it (SKIP
    LOCKED where the database has row locks)."""
    sql = _claimable_sql(connection.vendor, thread_id is not None, len(not_yet), lock)
    params = [RunStatus.PENDING.value, datetime_param(now), RunStatus.RUNNING.value]
    if thread_id is not None:
        params.append(thread_pk(thread_id))
    params += [thread_pk(pk) for pk in not_yet]
    return sql, params


def first_claimable_thread(now, thread_id=None, not_yet=(), *, lock: bool) -> tuple | None:
    """(thread id, owner id) of the first claimable thread, or None."""
    found = sent(*claimable_thread(now, thread_id, not_yet, lock=lock))()
    return (Thread._meta.pk.to_python(found[0][0]), found[0][1]) if found else None


@functools.cache
def _thread_status_sql(vendor: str) -> str:
    return (
        f"UPDATE {_table(Thread)} SET {_col(Thread, 'status')} = %s,"
        f" {_col(Thread, 'updated_at')} = %s WHERE {_col(Thread, 'id')} = %s"
    )


def start_run(run: Run, thread_status: str | None) -> None:
    """Save a claimed run's running state (status, worker, lease, started_at,
    attempt, updated_at, as set on `run`) and its thread's status: two
    UPDATEs (one with `thread_status` None: the caller writes the thread's
    row itself). A run already running on the thread raises IntegrityError
    (`one_running_run_per_thread`)."""
    update_fields(
        run, ["status", "worker_id", "lease_expires_at", "started_at", "attempt", "updated_at"]
    )
    if thread_status is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _thread_status_sql(connection.vendor),
            [thread_status, datetime_param(run.updated_at), thread_pk(run.thread_id)],
        )


@functools.cache
def _in_flight_sql(vendor: str) -> str:
    return (
        f"SELECT 1 FROM {_table(Run)} WHERE {_col(Run, 'thread')} = %s"
        f" AND {_col(Run, 'status')} IN (%s, %s) LIMIT 1"
    )


def runs_in_flight_later(thread_id) -> Callable[[], bool]:
    """Whether the thread has a pending or running run (Thread.in_flight_runs),
    asked now, answered when called (chatapp.platform.pipeline.sent)."""
    params = [thread_pk(thread_id), *(status.value for status in ACTIVE_RUN_STATUSES)]
    rows = sent(_in_flight_sql(connection.vendor), params)
    return lambda: bool(rows())
