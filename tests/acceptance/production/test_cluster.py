"""Two Daphne processes and two worker processes on PostgreSQL + Redis.

Clients talk HTTP to both servers (and watch over a websocket); runs execute
in the worker processes; every check reads the shared test database.
"""

import asyncio
import json
import os
import signal
from datetime import datetime

import httpx
import pytest
import websockets

from checkpoints.models import Checkpoint, CheckpointWrite
from runs.models import Run, RunStatus, Thread, ThreadStatus
from runs.services import persistence
from tests.acceptance.graphs import scenarios
from tests.acceptance.production.conftest import CLUSTER_ENV, Cluster, sse_events, start_cluster
from tests.conftest import orm, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = {"configurable": {"token_delay": 0.02, "reply_words": 10}}
SLOW = {"configurable": {"token_delay": 0.1, "reply_words": 150}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


def body(text, config=QUICK, strategy=None):
    payload = {"assistant_id": "agent", "input": user(text), "config": config}
    if strategy:
        payload["multitask_strategy"] = strategy
    return payload


async def new_thread(url) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        return (await http.post("/threads", json={})).json()["thread_id"]


async def settled(thread_id):
    return not await orm(
        Run.objects.filter(thread_id=thread_id, status__in=["pending", "running"]).exists
    )()


def ws_url(server_url, thread_id):
    return server_url.replace("http", "ws") + f"/ws/threads/{thread_id}/"


async def test_fifty_clients_mixed_strategies_keep_the_invariants(cluster):
    tid = await new_thread(cluster.urls[0])
    strategies = ["enqueue", "reject", "interrupt", "rollback", "enqueue"]
    samples: list[int] = []
    frames: list[dict] = []
    stop = asyncio.Event()

    async def sample():
        # Its own thread and connection, so that it samples while clients write.
        count = orm(
            lambda: Run.objects.filter(thread_id=tid, status="running").count(),
            thread_sensitive=False,
        )
        for _ in range(3000):  # bounded: 3000 samples at most (the test takes seconds)
            if stop.is_set():
                return
            samples.append(await count())
            await asyncio.sleep(0.01)

    async def watch(ws):
        # Everything the workers stream, as a browser on the other server sees it.
        with pytest.raises((asyncio.CancelledError, websockets.ConnectionClosed)):
            while True:
                frames.append(json.loads(await ws.recv()))

    async def client(i, http):
        strategy = strategies[i % len(strategies)]
        await asyncio.sleep((i * 37 % 50) * 0.03)  # spread over 1.5 s, deterministic
        response = await http.post(
            f"/threads/{tid}/runs", json=body(f"client {i}", QUICK, strategy)
        )
        return i, strategy, response.status_code, response.json()

    async with websockets.connect(ws_url(cluster.urls[1], tid), origin=cluster.urls[1]) as ws:
        assert json.loads(await ws.recv())["type"] == "state"
        watcher = asyncio.create_task(watch(ws))
        sampler = asyncio.create_task(sample())
        async with (
            httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
            httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
        ):
            results = await asyncio.gather(*(client(i, (a, b)[i % 2]) for i in range(50)))
            await wait_for(lambda: settled(tid), timeout=60)
            # Idle now: a reject is accepted, on either server, and refused while it runs.
            first = await a.post(f"/threads/{tid}/runs", json=body("idle 1", SLOW, "reject"))
            refused = await b.post(f"/threads/{tid}/runs", json=body("busy", QUICK, "reject"))
            cancel = await b.post(
                f"/threads/{tid}/runs/{first.json()['run_id']}/cancel",
                params={"action": "interrupt", "wait": "1"},
            )
            second = await b.post(f"/threads/{tid}/runs", json=body("idle 2", QUICK, "reject"))
            assert (first.status_code, refused.status_code) == (200, 409), refused.text
            assert cancel.status_code in (200, 202, 204), cancel.text
            assert second.status_code == 200, second.text
            await wait_status(second.json()["run_id"], RunStatus.SUCCESS, timeout=20)
        stop.set()
        await sampler
        await asyncio.sleep(0.3)  # the last frames
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    runs = await orm(lambda: list(Run.objects.filter(thread_id=tid).order_by("seq")))()
    by_id = {str(r.pk): r for r in runs}
    codes = [(strategy, code) for _, strategy, code, _ in results]
    accepted = {b["run_id"]: (i, s, b) for i, s, code, b in results if code == 200}
    summary = {
        "codes": sorted(set(codes)),
        "statuses": sorted({r.status for r in runs}),
        "rolled_back": len(set(accepted) - set(by_id)),
    }

    # The hammer exercised every path: refusals, rollbacks, interrupts, successes.
    assert ("reject", 409) in codes, summary
    assert summary["rolled_back"] > 0, summary
    assert {RunStatus.SUCCESS, RunStatus.INTERRUPTED} <= set(summary["statuses"]), summary
    # Only `reject` is ever refused, and only with 409.
    assert all(code == 200 or (s, code) == ("reject", 409) for s, code in codes), summary

    # Never two running runs on the thread: sampled while it ran...
    assert len(samples) > 20 and max(samples) <= 1, samples
    # ...and by the recorded execution intervals, which also follow seq (FIFO).
    started = [r for r in runs if r.started_at]
    assert all(r.ended_at for r in started)
    for earlier, later in zip(started, started[1:], strict=False):
        assert earlier.ended_at <= later.started_at, (earlier.seq, later.seq)
    # ...and by what the workers streamed: a run's tokens never interleave with
    # another's, except those of a rolled-back run already on their way.
    surviving_tokens = [
        f["run_id"] for f in frames if f["type"] == "token" and f["run_id"] in by_id
    ]
    assert surviving_tokens, summary
    seen_runs: list[str] = []
    for run_id in surviving_tokens:
        if not seen_runs or seen_runs[-1] != run_id:
            assert run_id not in seen_runs, "tokens of two runs interleaved"
            seen_runs.append(run_id)

    # An accepted reject found the thread idle: every run created before it had ended.
    for run_id, (_, strategy, _) in accepted.items():
        if strategy == "reject" and run_id in by_id:
            created = by_id[run_id].created_at
            for other in runs:
                if other.seq < by_id[run_id].seq:
                    assert other.ended_at is not None and other.ended_at <= created

    # Each run that executed to the end did so exactly once, in seq order: its
    # question and its answer are in the final state once, in that order.
    messages = (await orm(latest_values)(tid))["messages"]
    humans = [m["content"] for m in messages if m["type"] == "human"]
    assert len(humans) == len(set(humans))
    # Runs interrupted before their input step was checkpointed left no question.
    question = {r.pk: r.input["messages"][0]["content"] for r in runs}
    ran = [question[r.pk] for r in started if question[r.pk] in humans]
    assert humans == ran, "the state's questions are not the executed runs, in seq order"
    for run in started:
        if run.status == RunStatus.SUCCESS:
            assert question[run.pk] in humans
        elif question[run.pk] not in humans:
            assert run.status == RunStatus.INTERRUPTED
    for run in runs:
        written = await orm(written_message_ids)(run.pk, "model")
        answers = [m for m in messages if m["type"] == "ai" and m["id"] in written]
        if run.status == RunStatus.SUCCESS:
            assert len(answers) == 1 and not answers[0].get("response_metadata", {}).get(
                "interrupted"
            )
        assert len({m["id"] for m in answers}) == len(answers)

    # Runs that never started were cancelled while queued by a later interrupt,
    # or deleted by a later rollback (that run may itself be gone since).
    def created_at(payload):
        return datetime.fromisoformat(payload["created_at"].replace("Z", "+00:00"))

    def cancelled_by(strategy, created):
        return any(s == strategy and created_at(p) > created for _, s, p in accepted.values())

    for run in runs:
        if not run.started_at and question[run.pk] != "idle 1":  # that one, we cancelled
            assert run.status == RunStatus.INTERRUPTED
            assert cancelled_by("interrupt", run.created_at), run.seq
    for run_id in set(accepted) - set(by_id):
        assert cancelled_by("rollback", created_at(accepted[run_id][2])), run_id

    # Rolled-back runs left no trace: no run row, no checkpoint, no message,
    # anywhere in the thread's history.
    said = {
        m["content"]
        for values in await orm(history_values)(tid)
        for m in values.get("messages", [])
    }
    writers = await orm(
        lambda: (
            set(Checkpoint.objects.filter(thread_id=tid).values_list("run_id", flat=True))
            | set(CheckpointWrite.objects.filter(thread_id=tid).values_list("run_id", flat=True))
        )
    )()
    for run_id in set(accepted) - set(by_id):
        i = accepted[run_id][0]
        assert f"client {i}" not in said
    assert writers <= set(by_id) | {None}, "a rolled-back run left checkpoints or writes"
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE


async def test_cancel_reaches_the_worker_of_another_process_within_a_token(cluster):
    tid = await new_thread(cluster.urls[0])
    async with (
        httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b,
    ):
        run = (await a.post(f"/threads/{tid}/runs", json=body("hello", SLOW))).json()
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
    partial = (await orm(latest_values)(tid))["messages"][-1]
    assert partial["response_metadata"]["interrupted"] is True
    kept = len(partial["content"].split())
    assert kept == tokens
    # The heartbeat (the database fallback) comes every second, ten tokens' time;
    # stopping within a token or so of the cancel means the channel-layer signal did it.
    assert kept - tokens_at_cancel <= 3
    assert done.worker_id in {"w0", "w1"}


async def test_streams_and_rollbacks_fan_out_to_every_server(cluster):
    tid = await new_thread(cluster.urls[0])
    async with websockets.connect(ws_url(cluster.urls[1], tid), origin=cluster.urls[1]) as ws:
        assert json.loads(await ws.recv())["type"] == "state"
        async with httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a:
            first = (
                await a.post(f"/threads/{tid}/runs", json=body("what's the weather in sf?", SLOW))
            ).json()
            frames = []
            for _ in range(200):  # bounded; each recv has its own timeout
                if any(f["type"] == "token" for f in frames):
                    break
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await a.post(
                f"/threads/{tid}/runs",
                json=body("what's the weather in nyc?", QUICK, "rollback"),
            )
        frames = []
        for _ in range(500):
            if frames and frames[-1]["type"] == "run" and frames[-1]["event"] == "success":
                break
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 15)))
    rolled = [f for f in frames if f["type"] == "run" and f["event"] == "rolled_back"]
    assert [f["run"]["run_id"] for f in rolled] == [first["run_id"]]
    restored = next(f for f in frames if f["type"] == "state")
    assert all("sf" not in str(m["content"]) for m in restored["messages"])
    after = frames[frames.index(rolled[0]) :]
    assert not [f for f in after if f["type"] == "token" and f["run_id"] == first["run_id"]]
    assert any(f["type"] == "token" for f in after)


async def test_a_killed_worker_s_run_is_resumed_by_another_and_the_queue_moves_on(cluster):
    """kill -9 mid-answer: once its lease expires, the other worker resumes
    the run from its last checkpoint; the thread ends as after a run that was
    never cut off (the tool called once, the answer whole)."""
    tid = await new_thread(cluster.urls[0])
    async with httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as a:
        lost = (
            await a.post(f"/threads/{tid}/runs", json=body("what's the weather in oslo?", SLOW))
        ).json()
        running = await wait_status(lost["run_id"], RunStatus.RUNNING)
        queued = (await a.post(f"/threads/{tid}/runs", json=body("next"))).json()
        url = f"/threads/{tid}/runs/{lost['run_id']}/stream"
        seen = 0
        async for event, _ in sse_events(a, url):
            seen += event == "messages"
            if seen == 10:  # the answer is streaming: its tool step is checkpointed
                break
    before = (await orm(latest_values)(tid))["messages"]
    victim = cluster.worker(running.worker_id)
    os.kill(victim.proc.pid, signal.SIGKILL)
    resumed = await wait_status(lost["run_id"], RunStatus.SUCCESS, timeout=30)
    assert resumed.attempt == 2 and resumed.worker_id != victim.worker_id
    done = await wait_status(queued["run_id"], RunStatus.SUCCESS, timeout=20)
    assert done.worker_id != victim.worker_id
    messages = (await orm(latest_values)(tid))["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai", "human", "ai"]
    assert [m["id"] for m in messages[:3]] == [m["id"] for m in before[:3]]
    assert messages[3]["content"].startswith("The weather in oslo is sunny")
    assert len(messages[3]["content"].split()) == SLOW["configurable"]["reply_words"]
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE


async def test_a_stopped_worker_hands_its_runs_back_at_once_and_the_queue_moves_on(cluster):
    """SIGTERM: the worker lets runs finish for RUNS_SHUTDOWN_GRACE_SECONDS (1 s
    here), then puts the unfinished ones back itself, without waiting for their
    lease, and the other worker resumes them."""
    tid = await new_thread(cluster.urls[0])
    async with httpx.AsyncClient(base_url=cluster.urls[1], timeout=30) as b:
        cut = (await b.post(f"/threads/{tid}/runs", json=body("long story", SLOW))).json()
        running = await wait_status(cut["run_id"], RunStatus.RUNNING)
        queued = (await b.post(f"/threads/{tid}/runs", json=body("next"))).json()
    stopping = cluster.worker(running.worker_id)
    stopping.proc.terminate()
    await asyncio.to_thread(stopping.proc.wait, 10)
    released = await orm(Run.objects.get)(pk=cut["run_id"])
    assert released.worker_id != stopping.worker_id  # handed back, not left to its lease
    resumed = await wait_status(cut["run_id"], RunStatus.SUCCESS, timeout=20)
    assert resumed.attempt == 2 and resumed.worker_id != stopping.worker_id
    done = await wait_status(queued["run_id"], RunStatus.SUCCESS, timeout=20)
    assert done.worker_id != stopping.worker_id
    thread = await orm(Thread.objects.get)(pk=tid)
    assert thread.status == ThreadStatus.IDLE


def latest_values(thread_id) -> dict:
    return persistence.state_values(persistence.latest(thread_id))


def history_values(thread_id) -> list[dict]:
    saver = persistence.saver()
    return [persistence.state_values(c) for c in saver.list(persistence.thread_config(thread_id))]


def written_message_ids(run_id, node: str) -> set[str]:
    """Ids of the messages `node` wrote in the run (its task writes)."""
    saver = persistence.saver()
    ids = set()
    for task_path, type_, value in CheckpointWrite.objects.filter(
        run_id=str(run_id), channel="messages"
    ).values_list("task_path", "type", "value"):
        if node in task_path:
            ids |= {m.id for m in saver.serde.loads_typed((type_, bytes(value)))}
    return ids


@pytest.fixture
def notes_cluster(transactional_db):
    """The cluster, serving a graph of one's own from its langgraph.json."""
    from tests.acceptance.production.conftest import require_services

    require_services()
    running = Cluster()
    env = {**CLUSTER_ENV, "LANGGRAPH_CONFIG": str(scenarios.CONFIG)}
    try:
        yield start_cluster(running, 2, 2, env)
    finally:
        running.stop()


@pytest.mark.parametrize("strategy", ["reject", "enqueue", "interrupt", "rollback"])
async def test_the_strategies_on_a_graph_of_one_s_own(notes_cluster, strategy):
    """Runs on the workers; the double-text comes through the other server."""
    result = await scenarios.double_text(notes_cluster.urls, strategy)
    scenarios.check(strategy, result)
