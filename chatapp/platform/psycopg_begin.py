"""A transaction's BEGIN sent with its first statements in pipeline mode.

psycopg starts a transaction lazily: the first statement after autocommit was
switched off is preceded by a BEGIN (`BaseConnection._start_query`). In
pipeline mode it then syncs with the server at once, a round trip of its own
before the statements it was meant to go with (psycopg PR #401): once the
results read so far are consumed, libpq reports the transaction status it
last heard of, still IDLE, until the server says otherwise at a sync, and
psycopg would send a second BEGIN with the next statement. Every pipelined
transaction of ours (chatapp/platform/pipeline.py: a run's end, a claim, a
double-text's create, a guarded checkpoint) paid that round trip: below the
noise with PostgreSQL on loopback, but a double-text's create was 1.2-2.0 ms
slower with it 0.25 ms away (bench/README.md, thirteenth round).

`begun` queues the BEGIN itself, without the sync, and for the rest of the
pipeline block answers psycopg's "start a transaction?" with no: this block
knows it began one. The block's end syncs (psycopg's pipeline exit), and from
then on libpq reports the transaction as it is. Private psycopg names used:
`BaseConnection._start_query` (replaced on the connection for the block),
`_exec_command` and `_get_tx_start_command` (the BEGIN it would have sent,
with the connection's isolation level). tests/unit/platform/test_hooks.py
fails when they change.
"""

import contextlib


def _started():
    """`_start_query` for a transaction already begun: nothing to send."""
    return iter(())


@contextlib.contextmanager
def begun(conn):
    """Inside `conn.pipeline()`, at its outermost level, before any statement:
    begin the transaction Django opened (autocommit off) with the first
    statements sent, not in a round trip of its own. Anything else (autocommit,
    a transaction already under way) is left to psycopg."""
    from psycopg.pq import TransactionStatus

    if conn.autocommit or conn.info.transaction_status != TransactionStatus.IDLE:
        yield
        return
    # Queued with the pipeline's next statements (nothing is sent in pipeline
    # mode until a result is read or the pipeline syncs).
    conn.wait(conn._exec_command(conn._get_tx_start_command()))
    conn._start_query = _started
    try:
        yield
    finally:
        del conn._start_query
