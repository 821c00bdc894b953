"""Restarts in production mode: Redis (a private redis-server, so the shared one
is never touched) and a Daphne process dying under its clients."""

import asyncio
import os
import signal

import httpx
import pytest

from checkpoints.models import Checkpoint
from runs.models import RunStatus, Thread, ThreadStatus
from tests.acceptance.production.conftest import CLUSTER_ENV, Cluster, sse_events, start_cluster
from tests.conftest import orm, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"configurable": {"token_delay": 0.1, "reply_words": 150}}
MEDIUM = {"configurable": {"token_delay": 0.05, "reply_words": 60}}
QUICK = {"configurable": {"token_delay": 0.02, "reply_words": 10}}


def body(text, config):
    return {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": text}]},
        "config": config,
    }


@pytest.fixture
def redis_cluster(private_redis):
    """2 Daphne processes and 1 worker on a Redis of their own."""
    running = Cluster()
    try:
        env = {**CLUSTER_ENV, "REDIS_URL": private_redis.url}
        yield start_cluster(running, 2, 1, env), private_redis
    finally:
        running.stop()


async def test_a_redis_restart_loses_no_run_and_cancellation_still_signals(redis_cluster):
    cluster, redis_server = redis_cluster
    worker = cluster.workers[0]
    async with (
        httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
    ):
        tid = (await a.post("/threads", json={})).json()["thread_id"]
        other = (await a.post("/threads", json={})).json()["thread_id"]
        before = await a.post(f"/threads/{other}/runs/wait", json=body("before", QUICK))
        assert before.status_code == 200, before.text
        run = (await a.post(f"/threads/{tid}/runs", json=body("long story", SLOW))).json()
        await wait_status(run["run_id"], RunStatus.RUNNING)

        # Redis goes away (nothing saved: every group membership is lost) for
        # longer than a lease, then comes back empty.
        redis_server.stop()
        await asyncio.sleep(float(CLUSTER_ENV["RUNS_LEASE_SECONDS"]) + 1.5)
        redis_server.start()
        # The worker kept renewing its lease in the database: the run is not "lost".
        assert (await wait_status(run["run_id"], RunStatus.RUNNING)).error is None
        assert worker.proc.poll() is None
        # The first request after the restart on a server whose pooled Redis
        # connections went stale works (runs/wait subscribes, then waits).
        after = await a.post(f"/threads/{other}/runs/wait", json=body("after", QUICK))
        assert after.status_code == 200, after.text
        humans = [m["content"] for m in after.json()["messages"] if m["type"] == "human"]
        assert humans == ["before", "after"]
        await asyncio.sleep(2 * float(CLUSTER_ENV["RUNS_HEARTBEAT_SECONDS"]))  # re-join groups

        # Tokens fan out again, and a cancel through the other server reaches
        # the worker over Redis (the heartbeat fallback would take ten tokens).
        streamed = after_cancel = 0
        cancelled = False
        url = f"/threads/{tid}/runs/{run['run_id']}/stream"
        async for event, _ in sse_events(b, url):
            if event != "messages":
                continue
            streamed += 1
            if cancelled:
                after_cancel += 1
            elif streamed == 5:
                response = await a.post(
                    f"/threads/{tid}/runs/{run['run_id']}/cancel", params={"action": "interrupt"}
                )
                assert response.status_code == 202
                cancelled = True
        assert cancelled, "no tokens reached the stream after the Redis restart"
        assert after_cancel <= 3, after_cancel
        await wait_status(run["run_id"], RunStatus.INTERRUPTED)

        # Wake-ups reach the worker again: a new run starts at once, not at the next poll.
        created = (await b.post(f"/threads/{tid}/runs", json=body("again", QUICK))).json()
        done = await wait_status(created["run_id"], RunStatus.SUCCESS, timeout=20)
        assert done.worker_id == worker.worker_id
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE


async def test_a_server_killed_under_its_clients_loses_nothing(cluster):
    """The run lives in a worker: kill -9 the Daphne process a client streams
    from, and the client re-attaches through the other server to the same run."""
    async with (
        httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
    ):
        tid = (await a.post("/threads", json={})).json()["thread_id"]
        run = (await a.post(f"/threads/{tid}/runs", json=body("tell me more", MEDIUM))).json()
        url = f"/threads/{tid}/runs/{run['run_id']}/stream"
        seen = 0
        with pytest.raises(httpx.HTTPError):
            async for event, _ in sse_events(a, url):
                seen += event == "messages"
                if seen == 5:
                    os.kill(cluster.servers[0].proc.pid, signal.SIGKILL)
        assert seen >= 5
        # Re-attach elsewhere: the rest of the answer streams, then the end.
        events = [e async for e in sse_events(b, url)]
        assert any(event == "messages" for event, _ in events)
        assert events[-1] == ("end", {"run_id": run["run_id"], "status": "success"})
        state = (await b.get(f"/threads/{tid}/state")).json()
    answer = state["values"]["messages"][-1]
    assert answer["type"] == "ai" and len(answer["content"].split()) == 60
    done = await wait_status(run["run_id"], RunStatus.SUCCESS)
    assert done.ended_at is not None
    assert await orm(Checkpoint.objects.filter(run_id=run["run_id"]).count)() >= 2
