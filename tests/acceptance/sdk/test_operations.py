"""Bulk runs (create_batch, cancel_many), /info, the platform's /openapi.json and
/docs (assets served by us), /metrics; with the official Python SDK and httpx on
a real server."""

import asyncio

import httpx
import pytest

from runs.models import Run, RunStatus, Thread, ThreadStatus
from tests.conftest import orm

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 200}}
FAST = {"configurable": {"token_delay": 0, "reply_words": 5}}


async def test_create_batch_starts_thread_less_runs(sdk):
    runs = await sdk.runs.create_batch(
        [
            {"assistant_id": "agent", "input": {"messages": [f"hello {i}"]}, "config": FAST}
            for i in range(3)
        ]
    )
    assert len({run["thread_id"] for run in runs}) == 3
    for run in runs:
        values = await sdk.runs.join(run["thread_id"], run["run_id"])
        assert values["messages"][0]["content"].startswith("hello")


async def test_a_batch_is_all_or_nothing(live_server_url):
    body = [
        {"assistant_id": "agent", "input": {"messages": ["fine"]}},
        {"assistant_id": "nope", "input": {"messages": ["not fine"]}},
    ]
    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        response = await http.post("/runs/batch", json=body)
        assert response.status_code == 404 and response.json()["field"] == "assistant_id"
        assert (await http.post("/runs/batch", json=[])).status_code == 422
    assert await orm(Run.objects.count)() == 0


async def test_cancel_many_on_twenty_threads_leaves_none_busy(sdk):
    threads = [(await sdk.threads.create())["thread_id"] for _ in range(20)]
    runs = [
        await sdk.runs.create(tid, "agent", input={"messages": ["long"]}, config=SLOW)
        for tid in threads
    ]
    queued = await sdk.runs.create(threads[0], "agent", input={"messages": ["after"]})
    await sdk.runs.cancel_many(status="all")
    for run in [*runs, queued]:
        got = await sdk.runs.get(run["thread_id"], run["run_id"])
        assert got["status"] in ("interrupted", "running")  # running: stopping now

    async def all_idle():
        statuses = await orm(lambda: set(Thread.objects.values_list("status", flat=True)))()
        in_flight = await orm(
            lambda: Run.objects.filter(status__in=("pending", "running")).count()
        )()
        return statuses == {ThreadStatus.IDLE} and in_flight == 0

    for _ in range(200):
        if await all_idle():
            break
        await asyncio.sleep(0.05)
    assert await all_idle()
    statuses = await orm(lambda: sorted(Run.objects.values_list("status", flat=True)))()
    assert statuses == [RunStatus.INTERRUPTED] * 21, statuses


async def test_cancel_many_of_a_thread_s_runs_with_rollback(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(tid, "agent", input={"messages": ["one"]}, config=SLOW)
    second = await sdk.runs.create(tid, "agent", input={"messages": ["two"]}, config=SLOW)
    await sdk.runs.cancel_many(
        thread_id=tid, run_ids=[first["run_id"], second["run_id"]], action="rollback"
    )
    assert await orm(Run.objects.filter(thread_id=tid).count)() == 0
    with pytest.raises(httpx.HTTPStatusError) as error:  # nothing left to cancel
        await sdk.runs.cancel_many(thread_id=tid, run_ids=[first["run_id"]])
    assert error.value.response.status_code == 404


async def test_info_openapi_docs_and_metrics(live_server_url):
    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        info = (await http.get("/info")).json()
        assert info["flags"]["assistants"] is True and info["flags"]["store"] is True
        assert (await http.get("/ok")).json() == {"ok": True}
        schema = (await http.get("/openapi.json")).json()
        assert "/threads/{thread_id}/runs/stream" in schema["paths"]
        assert "/runs/cancel" in schema["paths"] and "/metrics" in schema["paths"]
        docs = await http.get("/docs")
        assert docs.status_code == 200
        assert "cdn." not in docs.text and "unpkg" not in docs.text
        asset = next(
            part.split('"')[0] for part in docs.text.split('src="')[1:] if "swagger" in part
        )
        assert (await http.get(asset)).status_code == 200  # served here, works offline
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "agent", "input": {"messages": ["x"]}, "config": SLOW},
        )
        refused = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "agent", "multitask_strategy": "reject"},
        )
        assert refused.status_code == 409
        await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "agent", "multitask_strategy": "rollback", "config": FAST},
        )
        text = (await http.get("/metrics")).text
    assert 'doubletext_double_texts_total{outcome="rejected",strategy="reject"} 1.0' in text
    assert 'doubletext_double_texts_total{outcome="accepted",strategy="rollback"} 1.0' in text
    assert "doubletext_runs{status=" in text and "doubletext_queue_depth" in text
    assert "doubletext_websockets_active" in text
    assert "doubletext_recent_run_duration_seconds_bucket" in text
