"""Assistants on PostgreSQL + Redis with two Daphne processes and two
`runworker_runs` workers: an assistant made through one server runs, on a
worker process, with its options, through the other; a new version and
set_latest are seen by the next run whichever server takes it."""

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def words(values) -> int:
    return len(values["messages"][-1]["content"].split())


async def test_an_assistant_s_options_reach_the_workers(cluster):
    a, b = cluster.urls
    async with (
        httpx.AsyncClient(base_url=a, timeout=60) as first,
        httpx.AsyncClient(base_url=b, timeout=60) as second,
    ):
        made = await first.post(
            "/assistants",
            json={"graph_id": "agent", "context": {"reply_words": 20, "token_delay": 0}},
        )
        aid = made.json()["assistant_id"]
        tid = (await second.post("/threads", json={})).json()["thread_id"]
        run = {"assistant_id": aid, "input": {"messages": ["hello there"]}}
        assert words((await second.post(f"/threads/{tid}/runs/wait", json=run)).json()) == 20

        patched = await second.patch(
            f"/assistants/{aid}", json={"context": {"reply_words": 30, "token_delay": 0}}
        )
        assert patched.json()["version"] == 2
        assert words((await first.post(f"/threads/{tid}/runs/wait", json=run)).json()) == 30
        await first.post(f"/assistants/{aid}/latest", json={"version": 1})
        assert words((await second.post(f"/threads/{tid}/runs/wait", json=run)).json()) == 20

        runs = (await first.get(f"/threads/{tid}/runs")).json()
        assert {r["assistant_id"] for r in runs} == {aid} and len(runs) == 3
        assert (await second.delete(f"/assistants/{aid}")).status_code == 204
        assert (await first.get(f"/assistants/{aid}")).status_code == 404
