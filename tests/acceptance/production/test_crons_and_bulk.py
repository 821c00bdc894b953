"""Crons, delayed runs and bulk cancellation on PostgreSQL + Redis with two
Daphne processes and two `runworker_runs` workers.

The cron uses a six-field schedule, seconds last (`* * * * * */2`: every two
seconds), and the workers look for due crons every 0.1 s, so both try to fire
nearly every tick at the same moment: each tick must still fire once.
"""

from datetime import timedelta

import httpx
import pytest

from runs.models import CronFiring, Run, RunStatus, Thread, ThreadStatus
from tests.acceptance.production.conftest import (
    CLUSTER_ENV,
    Cluster,
    require_services,
    start_cluster,
)
from tests.conftest import orm, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = {"configurable": {"token_delay": 0.01, "reply_words": 5}}
SLOW = {"configurable": {"token_delay": 0.1, "reply_words": 200}}


def hello(text):
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def eager_cluster(transactional_db):
    """2 servers and 2 workers that look for due crons every 0.1 s."""
    require_services()
    running = Cluster()
    try:
        yield start_cluster(running, 2, 2, {**CLUSTER_ENV, "RUNS_CRON_POLL_SECONDS": "0.1"})
    finally:
        running.stop()


async def test_a_cron_fires_once_per_tick_with_two_workers(eager_cluster):
    a, b = eager_cluster.urls
    async with httpx.AsyncClient(base_url=a, timeout=30) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        cron = (
            await http.post(
                f"/threads/{tid}/runs/crons",
                json={
                    "assistant_id": "agent",
                    "schedule": "* * * * * */2",
                    "input": hello("tick"),
                    "config": QUICK,
                },
            )
        ).json()

    async def ticks_fired():
        return await orm(CronFiring.objects.filter(cron_id=cron["cron_id"]).count)() >= 4

    await wait_for(ticks_fired, timeout=30, interval=0.2)
    async with httpx.AsyncClient(base_url=b, timeout=30) as http:
        off = await http.patch(f"/runs/crons/{cron['cron_id']}", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False

    def firings():
        return list(
            CronFiring.objects.filter(cron_id=cron["cron_id"]).values_list(
                "scheduled_for", "run_id", "error", "worker_id"
            )
        )

    fired = await orm(firings)()
    ticks = [tick for tick, *_ in fired]
    assert len(ticks) == len(set(ticks)), ticks  # no tick twice
    assert all(run_id is not None and error is None for _, run_id, error, _ in fired)
    assert all((tick.second % 2, tick.microsecond) == (0, 0) for tick in ticks)
    runs = await orm(lambda: list(Run.objects.filter(thread_id=tid).values_list("pk", flat=True)))()
    # One run per firing, none besides: the losers of each race created nothing.
    assert sorted(runs) == sorted(run_id for _, run_id, *_ in fired)

    async def settled():
        return not await orm(
            Run.objects.filter(thread_id=tid, status__in=["pending", "running"]).exists
        )()

    await wait_for(settled, timeout=30, interval=0.2)
    statuses = await orm(
        lambda: set(Run.objects.filter(thread_id=tid).values_list("status", flat=True))
    )()
    assert statuses == {RunStatus.SUCCESS}


async def test_after_seconds_starts_no_earlier_than_asked(cluster):
    a, b = cluster.urls
    async with httpx.AsyncClient(base_url=a, timeout=30) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        run = (
            await http.post(
                f"/threads/{tid}/runs",
                json={
                    "assistant_id": "agent",
                    "input": hello("later"),
                    "config": QUICK,
                    "after_seconds": 2,
                },
            )
        ).json()
    async with httpx.AsyncClient(base_url=b, timeout=30) as http:
        values = (await http.get(f"/threads/{tid}/runs/{run['run_id']}/join")).json()
        assert values["messages"][-1]["type"] == "ai"
    done = await orm(Run.objects.get)(pk=run["run_id"])
    assert done.status == RunStatus.SUCCESS
    # The database's own timestamps, written by the server and the worker.
    assert done.started_at - done.created_at >= timedelta(seconds=2)


async def test_cancel_many_on_twenty_busy_threads_leaves_none_busy(cluster):
    a, b = cluster.urls
    async with httpx.AsyncClient(base_url=a, timeout=30) as http:
        tids = [(await http.post("/threads", json={})).json()["thread_id"] for _ in range(20)]
        for tid in tids:
            created = await http.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "agent", "input": hello("long"), "config": SLOW},
            )
            assert created.status_code == 200

    async def some_running():
        return await orm(Run.objects.filter(status=RunStatus.RUNNING).exists)()

    await wait_for(some_running, timeout=20, interval=0.1)
    async with httpx.AsyncClient(base_url=b, timeout=30) as http:
        cancelled = await http.post("/runs/cancel", json={"status": "all"})
        assert cancelled.status_code == 204

    async def none_busy():
        busy = await orm(
            Thread.objects.filter(pk__in=tids).exclude(status=ThreadStatus.IDLE).count
        )()
        in_flight = await orm(
            Run.objects.filter(thread_id__in=tids, status__in=["pending", "running"]).count
        )()
        return busy == 0 and in_flight == 0

    await wait_for(none_busy, timeout=30, interval=0.2)
    statuses = await orm(
        lambda: set(Run.objects.filter(thread_id__in=tids).values_list("status", flat=True))
    )()
    assert statuses == {RunStatus.INTERRUPTED}
