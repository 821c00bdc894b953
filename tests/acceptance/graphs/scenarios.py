"""What a client of the `notes` graph (tests/acceptance/graphs/custom) does and
expects, shared by the embedded tests and the production cluster tests.

`reference.json` is what LangGraph's own server (langgraph-api 0.16.7,
`langgraph dev` serving custom/langgraph.json, see
../shared/reference-server) answered to `probe`: ours must answer the same.
"""

import asyncio
import json
import re
from pathlib import Path

import httpx
from langgraph_sdk import get_client

HERE = Path(__file__).resolve().parent / "custom"
CONFIG = HERE / "langgraph.json"
REFERENCE = json.loads((HERE / "reference.json").read_text())
# Each node of a run this slow takes 0.3 s: time to double-text between steps.
SLOW = {"configurable": {"delay": 0.3}}


def client(url: str):
    return get_client(url=url, api_key=None)


def task_ids_out(event: str) -> str:
    """`values|review:<task id>` -> `values|review:<task>`: task ids differ per run."""
    return re.sub(r":[0-9a-f-]{36}", ":<task>", event)


async def probe(url: str) -> dict:
    """The same questions as were put to the reference server."""
    sdk = client(url)
    out: dict = {}
    tid = (await sdk.threads.create())["thread_id"]
    out["wait"] = await sdk.runs.wait(tid, "notes", input={"topic": "tea"})
    state = await sdk.threads.get_state(tid)
    out["state"] = {k: state[k] for k in ("values", "next", "tasks", "interrupts")}
    out["state_metadata"] = {k: state["metadata"].get(k) for k in ("source", "step", "parents")}
    out["history"] = [
        {
            "source": h["metadata"]["source"],
            "step": h["metadata"]["step"],
            "next": h["next"],
            "values": h["values"],
            "tasks": [
                {"name": t["name"], "path": t["path"], "result": t["result"]} for t in h["tasks"]
            ],
        }
        for h in await sdk.threads.get_history(tid, limit=20)
    ]
    for subgraphs, modes in (
        (True, ["values", "updates", "custom"]),
        (False, ["updates", "custom"]),
    ):
        other = (await sdk.threads.create())["thread_id"]
        parts = []
        async for part in sdk.runs.stream(
            other, "notes", input={"topic": "tea"}, stream_mode=modes, stream_subgraphs=subgraphs
        ):
            if part.event not in ("metadata", "end"):
                parts.append([task_ids_out(part.event), part.data])
        out["stream_subgraphs" if subgraphs else "stream"] = parts
    thread = await sdk.threads.get(tid)
    out["thread"] = {"status": thread["status"], "values": thread["values"]}
    return json.loads(json.dumps(out))


async def wait_for_notes(sdk, tid: str, count: int = 1, timeout: float = 15.0) -> None:
    """Until the first run has completed a step (its note is in the state)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len((await sdk.threads.get_state(tid))["values"].get("notes", [])) < count:
        assert asyncio.get_running_loop().time() < deadline, "the run never got going"
        await asyncio.sleep(0.05)


async def double_text(urls: list[str], strategy: str) -> dict:
    """Start a slow run, double-text it once it has taken a step (through the
    second server, if there are two), wait for both. Returns what a checker needs."""
    first_sdk, second_sdk = client(urls[0]), client(urls[-1])
    tid = (await first_sdk.threads.create())["thread_id"]
    first = await first_sdk.runs.create(tid, "notes", input={"topic": "tea"}, config=SLOW)
    await wait_for_notes(first_sdk, tid)
    try:
        second = await second_sdk.runs.create(
            tid, "notes", input={"topic": "coffee"}, config=SLOW, multitask_strategy=strategy
        )
    except httpx.HTTPStatusError as error:
        second = {"refused": error.response.status_code}
    if "run_id" in second:
        await second_sdk.runs.join(tid, second["run_id"])
    try:
        await first_sdk.runs.join(tid, first["run_id"])
        first_run = await first_sdk.runs.get(tid, first["run_id"])
    except httpx.HTTPStatusError as error:
        first_run = {"gone": error.response.status_code}
    values = (await first_sdk.threads.get_state(tid))["values"]
    return {"thread_id": tid, "first": first_run, "second": second, "values": values}


def check(strategy: str, result: dict) -> None:
    first, second, values = result["first"], result["second"], result["values"]
    notes = values.get("notes", [])
    if strategy == "reject":
        assert second == {"refused": 409}
        assert first["status"] == "success"
        assert values["verdict"].startswith("tea:") and not any("coffee" in n for n in notes)
    elif strategy == "enqueue":
        assert first["status"] == "success"
        assert values["topic"] == "coffee" and values["verdict"].startswith("coffee:")
        assert "looked into tea" in notes and "looked into coffee" in notes
    elif strategy == "interrupt":
        # A graph without messages keeps the completed steps of the interrupted run.
        assert first["status"] == "interrupted"
        assert notes[0] == "looked into tea"
        assert values["topic"] == "coffee" and values["verdict"].startswith("coffee:")
    elif strategy == "rollback":
        assert first == {"gone": 404}
        assert values["topic"] == "coffee" and values["verdict"].startswith("coffee:")
        assert not any("tea" in note for note in notes), notes
    else:
        raise AssertionError(strategy)
