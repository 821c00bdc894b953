"""Deterministic cost of the hot paths: SQL statements and new database
connections per operation (no timing, so no noise).

Runs the services and the executor in this process on a fresh SQLite file
(or, with `--postgres URL`, a fresh PostgreSQL database, dropped after) and the
in-memory channel layer, and counts, for each operation: statements executed,
connections opened, and for a whole run the statements per streamed token.

    python bench/queries.py [--postgres URL] [--tokens 40]
"""

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Meter:
    """Counts statements (by kind) and connections opened while active."""

    def __init__(self):
        self.statements = 0
        self.kinds = Counter()
        self.connections = 0
        self.active = False

    def __call__(self, execute, sql, params, many, context):
        if self.active:
            self.statements += 1
            self.kinds[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    def reset(self):
        self.statements, self.kinds, self.connections = 0, Counter(), 0

    def row(self, name: str) -> str:
        kinds = " ".join(f"{k}={v}" for k, v in sorted(self.kinds.items()))
        return f"{name:52} {self.statements:4} statements {self.connections:3} connections  {kinds}"


def setup(postgres: str) -> str | None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatapp.settings"
    os.environ.pop("REDIS_URL", None)
    os.environ["LOG_LEVEL"] = "WARNING"
    dbname = None
    if postgres:
        import psycopg

        dbname = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        os.environ["DATABASE_URL"] = postgres.rsplit("/", 1)[0] + f"/{dbname}"
    else:
        path = Path(tempfile.mkdtemp(prefix="doubletext-queries-")) / "q.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return dbname


def install(meter: Meter):
    """Count on every connection of every thread: the wrapper is installed on
    each new connection (connection_created) and on the current one."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    def created(sender, connection, **kwargs):
        if meter.active:
            meter.connections += 1
        if meter not in connection.execute_wrappers:
            connection.execute_wrappers.append(meter)

    connection_created.connect(created, weak=False)
    for conn in connections.all():
        if meter not in conn.execute_wrappers:
            conn.execute_wrappers.append(meter)


def main(args):
    dbname = setup(args.postgres)
    try:
        asyncio.run(measure(args))
    finally:
        if dbname:
            import psycopg
            from django.db import connections

            connections.close_all()
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


async def idle(executor, runs: int = 1):
    """Until the executor has started `runs` more runs and finished them all
    (polling the executor, not the database, so as not to be counted)."""
    done = executor.finished + runs
    while executor.finished < done or executor.tasks:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # the hand-over to the thread's next run (fill)


def count_finished(executor):
    """Make the executor count the runs it finished (for idle())."""
    executor.finished = 0
    start = executor._start

    def counted(claim):
        start(claim)
        task = next(t for t in executor.tasks if t.get_name() == f"run-{claim.run_id}")
        task.add_done_callback(lambda _: setattr(executor, "finished", executor.finished + 1))

    executor._start = counted


async def measure(args):
    from channels.db import database_sync_to_async as db
    from django.contrib.auth import get_user_model
    from django.db import connection

    from runs.models import Run
    from runs.services import runs as run_service
    from runs.services import state, threads
    from runs.services.actors import SYSTEM
    from runs.worker import transactions as queue
    from runs.worker.executor import Executor

    meter = Meter()
    install(meter)
    rows = []

    async def op(name, func, *a, **kw):
        meter.reset()
        meter.active = True
        try:
            return await db(func)(*a, **kw)
        finally:
            meter.active = False
            rows.append(meter.row(name))

    zero = {"configurable": {"token_delay": 0, "reply_words": args.tokens}}
    slow = {"configurable": {"token_delay": 0.05, "reply_words": 400}}
    user = {"messages": [{"role": "user", "content": "hello"}]}

    # Service calls as the REST API / websocket make them (each is one
    # database_sync_to_async call, like a request).
    owner = await db(lambda: get_user_model().objects.create(username="bench"))()
    create_thread = functools.partial(threads.create_thread, actor=owner)
    thread = await op("create_thread", create_thread)
    tid = thread.pk
    create_run = functools.partial(run_service.create_run, actor=owner)
    await op("create_run enqueue (idle thread)", create_run, tid, input=user)
    await op("create_run enqueue (busy thread)", create_run, tid, input=user)
    await op("get_state", state.get_state, tid, actor=owner)
    # Not for the executor:
    await db(run_service.cancel_thread_runs)(tid, action="rollback", actor=SYSTEM)

    # Whole runs through the executor, counted from their claim to their end
    # and the executor's hand-over to the thread's next run (none here): ten
    # runs after a first one, with short and long answers (no write per token).
    executor = Executor(worker_id="bench-queries", concurrency=10)
    count_finished(executor)
    await executor.start()
    other = await db(create_thread)()
    await db(run_service.create_run)(other.pk, input=user, config=zero, actor=SYSTEM)
    await idle(executor)
    for tokens in (5, args.tokens):
        config = {"configurable": {"token_delay": 0, "reply_words": tokens}}
        meter.reset()
        for _ in range(10):
            await db(run_service.create_run)(other.pk, input=user, config=config, actor=SYSTEM)
            meter.active = True
            await idle(executor)
            meter.active = False
        per_run = Meter()
        per_run.statements, per_run.connections = meter.statements / 10, meter.connections
        per_run.kinds = Counter({k: v / 10 for k, v in meter.kinds.items()})
        rows.append(
            per_run.row(f"executor: per run, {tokens} tokens (10 runs)")
            .replace(".0 ", " ")
            .replace(" connections", " connections (all 10)")
        )
    statuses = await db(
        lambda: set(Run.objects.filter(thread=other).values_list("status", flat=True))
    )()
    assert statuses == {"success"}, statuses

    # The same state read on a long history: flat?
    long = await db(create_thread)()
    for _ in range(args.history):
        await db(run_service.create_run)(long.pk, input=user, config=zero, actor=SYSTEM)
        await idle(executor)
    await executor.stop()

    # Double-texts on a thread whose run is running (claimed by a worker that
    # is not executing it here, so only the service's own statements count).
    for strategy in ("interrupt", "rollback", "reject"):
        busy = await db(create_thread)()
        await db(run_service.create_run)(busy.pk, input=user, config=slow, actor=SYSTEM)
        claim = await db(queue.claim_next_run)("elsewhere", busy.pk)
        assert claim is not None
        try:
            await op(
                f"create_run {strategy} (running thread)",
                create_run,
                busy.pk,
                input=user,
                multitask_strategy=strategy,
                config=zero,
            )
        except Exception as error:  # reject: ThreadBusy
            rows[-1] += f"  ({type(error).__name__})"

    await op(f"get_state after {args.history} runs", state.get_state, long.pk, actor=owner)
    vendor = connection.vendor
    print(f"# statements and connections per operation ({vendor}, in-memory channel layer)")
    for row in rows:
        print(row)
    print(f"(runs in database: {await db(Run.objects.count)()})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--history", type=int, default=50)
    main(parser.parse_args())
