"""What the hot paths cost, counted (never timed): statements per operation,
database connections per run, no write per streamed token, and query plans
that stay independent of how many threads the database holds.

bench/queries.py prints the same counts; bench/README.md has the timings.
"""

import asyncio
import threading

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from runs import queue, state, strategies
from runs.exceptions import ThreadBusy
from runs.executor import Executor
from runs.models import Run
from tests.conftest import orm

USER = {"messages": [{"role": "user", "content": "hello"}]}


def answer(words: int) -> dict:
    return {"configurable": {"token_delay": 0, "reply_words": words}}


class ExecutorStatements:
    """Counts the connections the executor's database threads open and the
    statements they run (installed before the executor connects)."""

    def __init__(self):
        self.connections = 0
        self.statements = 0
        self.lock = threading.Lock()

    def __enter__(self):
        connection_created.connect(self.created)
        return self

    def __exit__(self, *exc):
        connection_created.disconnect(self.created)

    @staticmethod
    def ours() -> bool:
        return threading.current_thread().name.startswith("runs-executor-db")

    def created(self, sender, connection, **kwargs):
        if self.ours():
            with self.lock:
                self.connections += 1
            connection.execute_wrappers.append(self.wrapper)

    def wrapper(self, execute, sql, params, many, context):
        with self.lock:
            self.statements += 1
        return execute(sql, params, many, context)


async def run_to_end(thread_id, words: int) -> Run:
    run = await orm(strategies.create_run)(thread_id, input=USER, config=answer(words))
    for _ in range(1000):
        current = await orm(Run.objects.get)(pk=run.pk)
        if current.status not in ("pending", "running"):
            return current
        await asyncio.sleep(0.01)
    raise AssertionError("run did not end")


@pytest.mark.django_db(transaction=True)
async def test_executor_reuses_its_connection_and_writes_nothing_per_token():
    thread = await orm(state.create_thread)()
    with ExecutorStatements() as counted:
        executor = Executor(worker_id="cost-worker")
        await executor.start()
        try:
            await run_to_end(thread.pk, 3)  # warm up: connect
            await asyncio.sleep(0.1)
            spent = []
            for words in (3, 120):
                before = counted.statements
                for _ in range(3):
                    assert (await run_to_end(thread.pk, words)).status == "success"
                    await asyncio.sleep(0.1)  # the hand-over after the run
                spent.append(counted.statements - before)
        finally:
            await executor.stop()
    # One connection per database thread for all the runs, not one per call.
    assert counted.connections <= executor.db.size
    # A 120-token answer costs what a 3-token one does: no statement per token
    # (a little slack for the scheduler's periodic poll).
    short, long = spent
    assert long <= short + 4, spent
    assert short <= 3 * 35, spent


def test_claim_is_driven_by_pending_runs_not_by_threads(db):
    """The claim query must not read every thread of the database."""
    if connection.vendor != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans it as a semi-join")
    plan = queue._claimable_threads().order_by("updated_at").explain()
    assert "SCAN runs_thread" not in plan, plan
    assert "USING INDEX run_status_lease_idx (status=?)" in plan, plan


def test_get_state_is_one_statement(transactional_db, django_assert_num_queries):
    thread = state.create_thread()
    with django_assert_num_queries(1):
        state.current_state(thread.pk)


def test_double_text_statement_budget(transactional_db, django_assert_max_num_queries):
    """The strategy decision is one short transaction: lock, read the runs in
    flight, cancel them, append the new run."""
    # BEGIN (SQLite), the statements, COMMIT or ROLLBACK.
    budgets = {"reject": 4, "interrupt": 7, "rollback": 8, "enqueue": 6}
    for strategy, budget in budgets.items():
        thread = state.create_thread()
        strategies.create_run(thread.pk, input=USER)
        assert queue.claim_next_run("elsewhere", thread.pk) is not None
        with django_assert_max_num_queries(budget):
            try:
                strategies.create_run(thread.pk, input=USER, multitask_strategy=strategy)
            except ThreadBusy:
                assert strategy == "reject"
