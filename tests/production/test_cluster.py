"""Two Daphne processes and two worker processes on PostgreSQL + Redis."""

import asyncio
import json
import os
import signal

import httpx
import pytest
import websockets

from runs.models import Checkpoint, Run, RunStatus, Thread, ThreadStatus
from tests.conftest import orm, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = {"configurable": {"token_delay": 0.02, "reply_words": 10}}
SLOW = {"configurable": {"token_delay": 0.1, "reply_words": 150}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


async def new_thread(url) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        return (await http.post("/threads", json={})).json()["thread_id"]


async def settled(thread_id):
    return not await orm(
        Run.objects.filter(thread_id=thread_id, status__in=["pending", "running"]).exists
    )()


async def test_fifty_clients_mixed_strategies_keep_the_invariants(cluster):
    tid = await new_thread(cluster.urls[0])
    strategies = ["enqueue", "reject", "interrupt", "rollback", "enqueue"]
    samples: list[int] = []
    stop = asyncio.Event()

    async def sample():
        count = orm(lambda: Run.objects.filter(thread_id=tid, status="running").count())
        while not stop.is_set():
            samples.append(await count())
            await asyncio.sleep(0.01)

    async def client(i, http):
        strategy = strategies[i % len(strategies)]
        await asyncio.sleep((i % 10) * 0.05)
        response = await http.post(
            f"/threads/{tid}/runs",
            json={
                "assistant_id": "agent",
                "input": user(f"client {i}"),
                "config": QUICK,
                "multitask_strategy": strategy,
            },
        )
        return i, strategy, response.status_code, response.json()

    sampler = asyncio.create_task(sample())
    async with (
        httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
    ):
        results = await asyncio.gather(*(client(i, (a, b)[i % 2]) for i in range(50)))
    await wait_for(lambda: settled(tid), timeout=60)
    stop.set()
    await sampler

    # Never two running runs on the thread, sampled and by the recorded intervals.
    assert samples and max(samples) <= 1
    runs = await orm(lambda: list(Run.objects.filter(thread_id=tid).order_by("seq")))()
    intervals = sorted((r.started_at, r.ended_at) for r in runs if r.started_at)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end <= start
    # Only `reject` is ever refused, with 409.
    codes = {(strategy, code) for _, strategy, code, _ in results}
    assert all(code == 200 or (strategy == "reject" and code == 409) for strategy, code in codes)
    # An accepted reject found the thread idle: no surviving run was in flight then.
    by_id = {str(r.pk): r for r in runs}
    for _, strategy, code, body in results:
        if strategy == "reject" and code == 200 and body["run_id"] in by_id:
            created = by_id[body["run_id"]].created_at
            for other in runs:
                if other.pk != by_id[body["run_id"]].pk and other.created_at < created:
                    assert other.ended_at is not None and other.ended_at <= created
    # Every run that executed to the end did so exactly once, in order.
    state = await orm(lambda: Checkpoint.objects.filter(thread_id=tid).order_by("-id").first())()
    humans = [m["content"] for m in state.values["messages"] if m["type"] == "human"]
    assert len(humans) == len(set(humans))
    started = [r.input["messages"][0]["content"] for r in runs if r.started_at]
    assert humans == [h for h in started if h in humans]
    for run in runs:
        if run.status == RunStatus.SUCCESS:
            assert humans.count(run.input["messages"][0]["content"]) == 1
    # Rolled-back runs left no trace: no row, no checkpoint, no message.
    accepted = {body["run_id"]: i for i, _, code, body in results if code == 200}
    gone = set(accepted) - set(by_id)
    for run_id in gone:
        assert f"client {accepted[run_id]}" not in humans
        assert not await orm(Checkpoint.objects.filter(run_id=run_id).exists)()
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE


async def test_cancel_reaches_the_worker_of_another_process_within_a_token(cluster):
    tid = await new_thread(cluster.urls[0])
    async with (
        httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
    ):
        run = (
            await a.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "agent", "input": user("hello"), "config": SLOW},
            )
        ).json()
        tokens_at_cancel = None
        tokens = 0
        async with a.stream(
            "GET",
            f"/threads/{tid}/runs/{run['run_id']}/stream",
            params={"stream_mode": "messages-tuple"},
        ) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("event: messages"):
                    tokens += 1
                    if tokens == 10:
                        # Cancel through the other server process.
                        response = await b.post(
                            f"/threads/{tid}/runs/{run['run_id']}/cancel",
                            params={"action": "interrupt"},
                        )
                        assert response.status_code == 202
                        tokens_at_cancel = tokens
    done = await wait_status(run["run_id"], RunStatus.INTERRUPTED)
    state = await orm(lambda: Checkpoint.objects.filter(thread_id=tid).order_by("-id").first())()
    partial = state.values["messages"][-1]
    assert partial["response_metadata"]["interrupted"] is True
    kept = len(partial["content"].split())
    assert kept == tokens
    # The heartbeat (the database fallback) comes every second, ten tokens' time;
    # stopping within a token or so of the cancel means the channel-layer signal did it.
    assert kept - tokens_at_cancel <= 3
    assert done.worker_id in {"w0", "w1"}


async def test_streams_and_rollbacks_fan_out_to_every_server(cluster):
    tid = await new_thread(cluster.urls[0])
    ws_url = cluster.urls[1].replace("http", "ws") + f"/ws/threads/{tid}/"
    async with websockets.connect(ws_url, origin=cluster.urls[1]) as ws:
        assert json.loads(await ws.recv())["type"] == "state"
        async with httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a:
            first = (
                await a.post(
                    f"/threads/{tid}/runs",
                    json={
                        "assistant_id": "agent",
                        "input": user("what's the weather in sf?"),
                        "config": SLOW,
                    },
                )
            ).json()
            frames = []
            while not any(f["type"] == "token" for f in frames):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await a.post(
                f"/threads/{tid}/runs",
                json={
                    "assistant_id": "agent",
                    "input": user("what's the weather in nyc?"),
                    "config": QUICK,
                    "multitask_strategy": "rollback",
                },
            )
        frames = []
        while not (frames and frames[-1]["type"] == "run" and frames[-1]["event"] == "success"):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 15)))
    rolled = [f for f in frames if f["type"] == "run" and f["event"] == "rolled_back"]
    assert [f["run"]["run_id"] for f in rolled] == [first["run_id"]]
    restored = next(f for f in frames if f["type"] == "state")
    assert all("sf" not in str(m["content"]) for m in restored["messages"])
    after = frames[frames.index(rolled[0]) :]
    assert not [f for f in after if f["type"] == "token" and f["run_id"] == first["run_id"]]
    assert any(f["type"] == "token" for f in after)


async def test_a_killed_worker_is_recovered_and_the_queue_moves_on(cluster):
    tid = await new_thread(cluster.urls[0])
    async with httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a:
        lost = (
            await a.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "agent", "input": user("long story"), "config": SLOW},
            )
        ).json()
        running = await wait_status(lost["run_id"], RunStatus.RUNNING)
        queued = (
            await a.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "agent", "input": user("next"), "config": QUICK},
            )
        ).json()
    victim = next(w for w in cluster.workers if w.worker_id == running.worker_id)
    os.kill(victim.proc.pid, signal.SIGKILL)
    recovered = await wait_status(lost["run_id"], RunStatus.ERROR, timeout=20)
    assert recovered.error["error"] == "WorkerLost"
    done = await wait_status(queued["run_id"], RunStatus.SUCCESS, timeout=20)
    assert done.worker_id != victim.worker_id
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE
