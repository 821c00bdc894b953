"""Crons with the official Python SDK (`client.crons`) on a real server.

The crons that fire use a six-field schedule, seconds last (croniter's
syntax, which LangGraph Platform validates schedules with too): `* * * * * */2`
ticks every two seconds, so a test sees a cron fire without waiting for a
minute or faking the server's clock. The worker looks for due crons every
RUNS_CRON_POLL_SECONDS (1 s).
"""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from runs.models import CronFiring, Run
from tests.conftest import orm

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"configurable": {"token_delay": 0, "reply_words": 3}}
HELLO = {"messages": ["scheduled hello"]}
YEARLY = "0 0 1 1 *"


async def eventually(check, timeout=20.0):
    """Poll until `check()` returns something truthy (no timing asserted)."""
    for _ in range(int(timeout / 0.1)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_create_search_count_update_delete(sdk, live_server_url):
    tid = (await sdk.threads.create())["thread_id"]
    end = datetime.now(UTC) + timedelta(days=30)
    cron = await sdk.crons.create_for_thread(
        tid,
        "agent",
        schedule=YEARLY,
        input=HELLO,
        metadata={"team": "a"},
        config=FAST,
        multitask_strategy="enqueue",
        timezone="Europe/Paris",
        end_time=end,
    )
    assert cron["thread_id"] == tid and cron["schedule"] == YEARLY
    assert cron["timezone"] == "Europe/Paris" and cron["enabled"] is True
    assert cron["metadata"] == {"team": "a"} and cron["on_run_completed"] is None
    assert cron["payload"]["input"] == HELLO
    assert cron["payload"]["multitask_strategy"] == "enqueue"
    # Midnight on 1 January in Paris is 23:00 UTC the day before.
    assert cron["next_run_date"].endswith("-12-31T23:00:00+00:00")
    assert datetime.fromisoformat(cron["end_time"]) == end

    stateless = await sdk.crons.create(
        "agent", schedule="0 * * * *", input=HELLO, on_run_completed="keep"
    )
    assert stateless["thread_id"] is None and stateless["on_run_completed"] == "keep"

    assert await sdk.crons.count() == 2
    assert await sdk.crons.count(thread_id=tid) == 1
    assert await sdk.crons.count(metadata={"team": "a"}) == 1
    assert await sdk.crons.count(assistant_id=cron["assistant_id"]) == 2
    found = await sdk.crons.search(thread_id=tid)
    assert [c["cron_id"] for c in found] == [cron["cron_id"]]
    newest_first = await sdk.crons.search()
    assert [c["cron_id"] for c in newest_first] == [stateless["cron_id"], cron["cron_id"]]
    soonest = await sdk.crons.search(sort_by="next_run_date", sort_order="asc", limit=1)
    assert [c["cron_id"] for c in soonest] == [stateless["cron_id"]]
    selected = await sdk.crons.search(select=["cron_id", "enabled"])
    assert all(set(c) == {"cron_id", "enabled"} for c in selected)

    updated = await sdk.crons.update(
        cron["cron_id"], schedule="30 8 * * *", enabled=False, metadata={"b": 2}, end_time=None
    )
    assert updated["schedule"] == "30 8 * * *" and updated["enabled"] is False
    assert updated["metadata"] == {"team": "a", "b": 2} and updated["end_time"] is None
    # 8:30 in Paris: 6:30 UTC in summer, 7:30 in winter.
    assert updated["next_run_date"][10:] in ("T06:30:00+00:00", "T07:30:00+00:00")
    disabled = await sdk.crons.search(enabled=False)
    assert [c["cron_id"] for c in disabled] == [cron["cron_id"]]

    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        assert (await http.get("/info")).json()["flags"]["crons"] is True
        got = await http.get(f"/runs/crons/{cron['cron_id']}")
        assert got.status_code == 200 and got.json()["schedule"] == "30 8 * * *"
        await sdk.crons.delete(cron["cron_id"])
        assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 404
    assert await sdk.crons.count() == 1


async def test_what_a_cron_cannot_be(sdk, live_server_url):
    tid = (await sdk.threads.create())["thread_id"]

    async def refused(call, status, field):
        with pytest.raises(httpx.HTTPStatusError) as error:
            await call
        assert error.value.response.status_code == status, error.value.response.text
        assert error.value.response.json()["field"] == field

    await refused(sdk.crons.create("agent", schedule="every day"), 422, "schedule")
    await refused(sdk.crons.create("agent", schedule=YEARLY, timezone="Mars/Base"), 422, "timezone")
    await refused(sdk.crons.create("nope", schedule=YEARLY), 404, "assistant_id")
    await refused(
        sdk.crons.create("agent", schedule=YEARLY, webhook="https://example.com/hook"),
        422,
        "webhook",
    )
    await refused(
        sdk.crons.create_for_thread(tid, "agent", schedule=YEARLY, multitask_strategy="later"),
        422,
        "multitask_strategy",
    )
    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        unknown = await http.post(
            "/runs/crons", json={"assistant_id": "agent", "schedule": YEARLY, "scheduel": 1}
        )
        assert unknown.status_code == 422 and unknown.json()["field"] == "scheduel"
        for_thread = await http.post(
            f"/threads/{tid}/runs/crons",
            json={"assistant_id": "agent", "schedule": YEARLY, "on_run_completed": "keep"},
        )
        assert for_thread.status_code == 422
        assert for_thread.json()["field"] == "on_run_completed"
        missing = await http.post(
            "/threads/00000000-0000-0000-0000-000000000000/runs/crons",
            json={"assistant_id": "agent", "schedule": YEARLY},
        )
        assert missing.status_code == 404
    assert await sdk.crons.count() == 0


async def test_a_thread_cron_fires_on_its_schedule(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    cron = await sdk.crons.create_for_thread(
        tid, "agent", schedule="* * * * * */2", input=HELLO, config=FAST, metadata={"by": "cron"}
    )
    first = await eventually(lambda: sdk.runs.list(tid))
    await sdk.crons.update(cron["cron_id"], enabled=False)
    run = first[-1]
    assert run["metadata"] == {"by": "cron"}
    assert run["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    values = await sdk.runs.join(tid, run["run_id"])
    assert values["messages"][0]["content"] == "scheduled hello"
    assert values["messages"][-1]["type"] == "ai"

    # Each tick fired once, each with its run.
    firings = await orm(lambda: list(CronFiring.objects.values_list("scheduled_for", "run_id")))()
    ticks = [tick for tick, _ in firings]
    assert len(ticks) == len(set(ticks)) >= 1
    runs = await orm(lambda: set(Run.objects.filter(thread_id=tid).values_list("pk", flat=True)))()
    assert {run_id for _, run_id in firings} <= runs


async def test_a_stateless_cron_runs_on_a_new_thread_each_time(sdk):
    cron = await sdk.crons.create(
        "agent", schedule="* * * * * *", input=HELLO, config=FAST, on_run_completed="keep"
    )

    async def two_runs():
        found = await orm(
            lambda: list(Run.objects.filter(kwargs__config__configurable__cron_id=cron["cron_id"]))
        )()
        return found if len(found) >= 2 else None

    runs = await eventually(two_runs)
    await sdk.crons.delete(cron["cron_id"])
    assert len({run.thread_id for run in runs}) == len(runs)
    for run in runs[:2]:
        values = await sdk.runs.join(str(run.thread_id), str(run.pk))
        assert values["messages"][-1]["type"] == "ai"
        thread = await sdk.threads.get(str(run.thread_id))  # kept
        assert thread["metadata"]["graph_id"] == "agent"


async def test_a_fired_run_double_texts_with_the_cron_s_strategy(sdk):
    """A cron's run is created like any run: with `interrupt`, it stops the
    run in flight on its thread."""
    tid = (await sdk.threads.create())["thread_id"]
    slow = {"configurable": {"token_delay": 0.05, "reply_words": 400}}
    busy = await sdk.runs.create(tid, "agent", input={"messages": ["long one"]}, config=slow)
    cron = await sdk.crons.create_for_thread(
        tid,
        "agent",
        schedule="* * * * * *",
        input=HELLO,
        config=FAST,
        multitask_strategy="interrupt",
    )

    async def cron_run():
        runs = await sdk.runs.list(tid)
        return next((r for r in runs if r["run_id"] != busy["run_id"]), None)

    fired = await eventually(cron_run)
    await sdk.crons.delete(cron["cron_id"])
    assert fired["multitask_strategy"] == "interrupt"
    await sdk.runs.join(tid, fired["run_id"])
    assert (await sdk.runs.get(tid, busy["run_id"]))["status"] == "interrupted"
