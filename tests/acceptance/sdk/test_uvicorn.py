"""The project under uvicorn, the faster of the two ASGI servers it supports
(bench/README.md): the double-texting examples, streaming, waits and
on_disconnect through the official SDK, a websocket chat, and the embedded
executor's life through ASGI lifespan events, which Daphne does not send."""

import asyncio
import json
import os
import signal

import pytest
import websockets
from langgraph_sdk import get_client

from runs.models import Run, RunStatus
from tests.conftest import orm, wait_for
from tests.live_server import LiveServer

# The SDK tests of other modules, collected again here: the `live_server_url`
# fixture below runs each of them against a uvicorn process.
from .test_client_semantics import (  # noqa: F401
    test_on_disconnect_cancel_stops_the_run_when_the_client_leaves,
    test_waits_send_newlines_while_they_wait,
)
from .test_double_texting import test_enqueue, test_interrupt, test_reject, test_rollback  # noqa: F401
from .test_streaming import test_stream_gives_tokens_incrementally  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 400}}
QUICK = {"configurable": {"token_delay": 0.005, "reply_words": 8}}


@pytest.fixture
def live_server_url(transactional_db):
    server = LiveServer(server="uvicorn")
    yield server.url
    server.stop()


async def test_a_websocket_chat_streams_and_double_texts(live_server_url):
    sdk = get_client(url=live_server_url, api_key=None)
    tid = (await sdk.threads.create())["thread_id"]
    url = live_server_url.replace("http://", "ws://") + f"/ws/threads/{tid}/"
    async with websockets.connect(url, origin=live_server_url) as ws:
        assert json.loads(await ws.recv())["type"] == "state"
        await ws.send(json.dumps({"type": "message", "content": "tell me", "config": SLOW}))
        frames = []
        while sum(f["type"] == "token" for f in frames) < 3:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        await ws.send(
            json.dumps(
                {"type": "message", "content": "hi", "config": QUICK, "strategy": "interrupt"}
            )
        )
        while not (frames[-1]["type"] == "run" and frames[-1]["event"] == "success"):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    events = [f["event"] for f in frames if f["type"] == "run"]
    assert "interrupted" in events and events[-1] == "success"
    statuses = [r["status"] for r in await sdk.runs.list(tid)]
    assert sorted(statuses) == ["interrupted", "success"]


async def test_a_stopped_server_hands_its_runs_on_at_once(transactional_db):
    """SIGTERM: uvicorn's lifespan shutdown stops the embedded executor as
    `runworker_runs` stops on SIGTERM: the run in flight gets its grace, then
    goes back to pending for another attempt, instead of staying `running`
    until its lease expires (Daphne, which has no lifespan events)."""
    server = LiveServer(
        server="uvicorn",
        env={"RUNS_SHUTDOWN_GRACE_SECONDS": "0.2", "RUNS_LEASE_SECONDS": "600"},
    )
    try:
        sdk = get_client(url=server.url, api_key=None)
        tid = (await sdk.threads.create())["thread_id"]
        run = await sdk.runs.create(tid, "agent", input={"messages": ["hi"]}, config=SLOW)

        async def running():
            found = await orm(Run.objects.filter(pk=run["run_id"]).first)()
            return found is not None and found.status == RunStatus.RUNNING

        await wait_for(running, 10)
        os.kill(server.proc.pid, signal.SIGTERM)
        await asyncio.to_thread(server.proc.wait, 15)
        released = await orm(Run.objects.get)(pk=run["run_id"])
        assert released.status == RunStatus.PENDING
        assert released.worker_id == "" and released.lease_expires_at is None
        assert b"'lifespan' protocol appears unsupported" not in server.log_path.read_bytes()
    finally:
        server.stop()
